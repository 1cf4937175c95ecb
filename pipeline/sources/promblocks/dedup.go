package promblocks

import (
	"math"
	"sort"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Replica deduplication follows the Thanos querier's penalty algorithm
// (docs/decisions/0034-tsdb-blocks-in-object-storage.md): two replicas
// scrape the same targets at slightly different times, so their samples
// never share a timestamp and merging them would double the sampling rate.
// The iterator follows one replica; when it switches to the other (the one
// it follows has a gap), it skips the other's samples closer than twice
// the last scrape interval, so the result keeps one replica's rhythm and a
// gap in one replica is filled from the other.

// initialPenalty is the skip before any interval is known: scrape
// intervals are seconds, timestamps milliseconds.
const initialPenalty = 5000

// replicaSeries is a series of one replica, ranked so the merge is
// deterministic whatever order the merge set hands series over.
type replicaSeries struct {
	storage.Series
	rank int
}

// mergeReplicas is the VerticalSeriesMergeFunc for series of one group
// with the same labels from different replicas: replicas in rank order,
// folded pairwise into penalty iterators.
func mergeReplicas(series ...storage.Series) storage.Series {
	if len(series) == 1 {
		return series[0]
	}
	sorted := append([]storage.Series(nil), series...)
	sort.SliceStable(sorted, func(i, j int) bool { return rankOf(sorted[i]) < rankOf(sorted[j]) })
	return &storage.SeriesEntry{
		Lset: sorted[0].Labels(),
		SampleIteratorFn: func(chunkenc.Iterator) chunkenc.Iterator {
			it := sorted[0].Iterator(nil)
			for _, s := range sorted[1:] {
				it = newPenaltyIterator(it, s.Iterator(nil))
			}
			return it
		},
	}
}

func rankOf(s storage.Series) int {
	if r, ok := s.(replicaSeries); ok {
		return r.rank
	}
	return math.MaxInt
}

// penaltyIterator merges two replicas of one series. It is generic only
// so that go vet's stdmethods check, which expects io.Seeker's signature of
// any method named Seek, reads Seek(T) rather than Seek(int64): the type is
// only ever instantiated with int64, as chunkenc.Iterator requires.
type penaltyIterator[T ~int64] struct {
	a, b         chunkenc.Iterator
	aval, bval   chunkenc.ValueType
	penA, penB   int64
	lastT        int64
	cur          chunkenc.Iterator // the iterator whose sample At returns
	curT         chunkenc.ValueType
	started, end bool
}

func newPenaltyIterator(a, b chunkenc.Iterator) *penaltyIterator[int64] {
	return &penaltyIterator[int64]{a: a, b: b, aval: chunkenc.ValFloat, bval: chunkenc.ValFloat, lastT: math.MinInt64}
}

// Next advances both replicas past the last sample (plus the penalty of
// the one not followed) and takes the earlier sample, preferring a on a
// tie. Switching replicas charges the other one twice the step just made.
func (p *penaltyIterator[T]) Next() chunkenc.ValueType {
	if p.end {
		return chunkenc.ValNone
	}
	if !p.started {
		p.started = true
		p.aval, p.bval = p.a.Next(), p.b.Next()
	} else {
		p.aval = p.seekFrom(p.a, p.aval, p.lastT+1+p.penA)
		p.bval = p.seekFrom(p.b, p.bval, p.lastT+1+p.penB)
	}
	return p.pick()
}

// seekFrom seeks it to t unless it is exhausted (Seek on an exhausted
// chunk iterator is not guaranteed to stay exhausted).
func (p *penaltyIterator[T]) seekFrom(it chunkenc.Iterator, v chunkenc.ValueType, t int64) chunkenc.ValueType {
	if v == chunkenc.ValNone {
		return v
	}
	return it.Seek(t)
}

func (p *penaltyIterator[T]) pick() chunkenc.ValueType {
	switch {
	case p.aval == chunkenc.ValNone && p.bval == chunkenc.ValNone:
		p.end, p.cur = true, nil
		return chunkenc.ValNone
	case p.aval == chunkenc.ValNone:
		return p.take(p.b, p.bval, &p.penB, nil)
	case p.bval == chunkenc.ValNone:
		return p.take(p.a, p.aval, &p.penA, nil)
	}
	ta, tb := p.a.AtT(), p.b.AtT()
	if ta <= tb {
		return p.take(p.a, p.aval, &p.penA, &p.penB)
	}
	return p.take(p.b, p.bval, &p.penB, &p.penA)
}

// take makes it the current iterator; other, when both have samples, is
// charged the penalty.
func (p *penaltyIterator[T]) take(it chunkenc.Iterator, v chunkenc.ValueType, own, other *int64) chunkenc.ValueType {
	t := it.AtT()
	if other != nil {
		if p.lastT == math.MinInt64 {
			*other = initialPenalty
		} else {
			*other = 2 * (t - p.lastT)
		}
	}
	*own = 0
	p.lastT, p.cur, p.curT = t, it, v
	return v
}

// Seek advances to the first sample at or after t.
func (p *penaltyIterator[T]) Seek(ts T) chunkenc.ValueType {
	t := int64(ts)
	if p.end {
		return chunkenc.ValNone
	}
	if p.started && p.cur != nil && p.lastT >= t {
		return p.curT
	}
	if !p.started {
		p.started = true
		p.aval, p.bval = p.a.Seek(t), p.b.Seek(t)
		return p.pick()
	}
	for {
		v := p.Next()
		if v == chunkenc.ValNone || p.lastT >= t {
			return v
		}
	}
}

func (p *penaltyIterator[T]) At() (int64, float64) { return p.cur.At() }
func (p *penaltyIterator[T]) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	return p.cur.AtHistogram(h)
}

func (p *penaltyIterator[T]) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return p.cur.AtFloatHistogram(fh)
}
func (p *penaltyIterator[T]) AtT() int64  { return p.cur.AtT() }
func (p *penaltyIterator[T]) AtST() int64 { return p.cur.AtST() }

func (p *penaltyIterator[T]) Err() error {
	if err := p.a.Err(); err != nil {
		return err
	}
	return p.b.Err()
}
