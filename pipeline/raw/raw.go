// Package raw writes every sample of the selected series, unaggregated, as
// the long tidy table `samples` (Hive-partitioned by UTC date) plus the
// `raw_series` table (schemas/raw.go). It reads through storage.Querier,
// so the same code serves TSDB blocks read directly (OpenTSDB) and a live
// server by remote read with STREAMED_XOR_CHUNKS (OpenRemote). Series are
// streamed one at a time and rows go out in bounded batches, so memory
// stays flat in the number of samples (it grows only with the number of
// series, for the id map). See docs/decisions/0007-raw-export.md.
package raw

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"golang.org/x/sync/errgroup"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
)

// ErrNativeHistogram is returned for a series holding native histogram
// samples: the samples table has no place for them (decision 0007).
var ErrNativeHistogram = errors.New("native histogram samples are not supported by the raw export; exclude the series with --match (e.g. {__name__!=\"...\"})")

// DefaultBuckets is the number of hash buckets the series are split into
// when Options.Buckets is 0: the number of samples files per day and of
// raw_series files, the same however many shards write them
// (docs/decisions/0036-sharded-raw-export.md).
const DefaultBuckets = 16

// MaxBuckets bounds Options.Buckets (file names have five digits).
const MaxBuckets = 4096

// Options says what to export and where.
type Options struct {
	// Selectors are matcher sets; a series is exported when any set matches.
	Selectors [][]*labels.Matcher
	From, To  time.Time // [From, To), UTC
	Dir       string    // staging directory; tables go under it
	// Labels anonymizes a series' labels (without __name__) for raw_series;
	// nil keeps them as they are. It is called once for every selected
	// series, in every shard (so each shard's anonymizer learns, and its
	// gate searches for, every raw value a single process would).
	Labels func(labels.Labels) labels.Labels
	// Key keys the hash that assigns scrape targets to buckets and orders
	// them (the anonymization key): unkeyed, the bucket of a series and the
	// order of targets would let anyone test guesses of raw label values.
	Key []byte
	// Buckets is the number of hash buckets (0: DefaultBuckets). It fixes
	// the published layout: part-BBBBB.parquet is bucket B.
	Buckets int
	// Shard and Shards select the buckets this run writes: those with
	// bucket % Shards == Shard. Shards 0 means 1 (every bucket).
	Shard, Shards int
	// Workers is how many samples files are written at once (0:
	// GOMAXPROCS). The bytes written do not depend on it; each worker
	// holds one file's writer (~8–10 MiB of page and row-group buffers).
	Workers int
}

// Stats counts what was written.
type Stats struct {
	Series, Samples, Stale int64
	Files                  int
}

// Write exports every sample of the selected series in [o.From, o.To) from
// q. The series are grouped by scrape target (job, instance), the targets
// assigned to o.Buckets buckets by a keyed hash; each bucket of each UTC
// day is one samples file (samples/date=D/part-BBBBB.parquet), each
// bucket's series one raw_series file. Within a file, targets come in
// keyed-hash order and a target's series in the order of their published
// (anonymized) labels, each series' samples in time order: series of one
// target share their scrape timestamps, so the ts column compresses to
// almost nothing, and no order in the files follows a raw label value.
// Series ids number the series in that order over the whole range, so
// ids, files and bytes depend only on the input, the key and Buckets —
// not on the shards.
//
// A first pass lists every selected series (labels only; the TSDB reads
// no chunk) and anonymizes its labels; the second reads the samples of the
// shard's buckets one target at a time, each (bucket, day) file by one of
// o.Workers workers that decodes and encodes it, in bounded batches, so
// memory stays flat in the number of samples; the TSDB's mapped block
// pages are released as they are read (releaseMapped), so file-backed
// memory stays flat too. What grows is per series (the plan: ~100 bytes a
// series) and per target (one day's series handles of the largest target).
func Write(ctx context.Context, q storage.Querier, o Options) (Stats, error) {
	var st Stats
	if len(o.Selectors) == 0 {
		return st, errors.New("raw: no series selector (give at least one --match)")
	}
	if !o.To.After(o.From) {
		return st, fmt.Errorf("raw: empty range %s..%s", o.From.UTC().Format(time.RFC3339), o.To.UTC().Format(time.RFC3339))
	}
	if len(o.Key) == 0 {
		return st, errors.New("raw: no key for the bucket hash (the anonymization key)")
	}
	if o.Buckets == 0 {
		o.Buckets = DefaultBuckets
	}
	if o.Shards == 0 {
		o.Shards = 1
	}
	if o.Buckets < 1 || o.Buckets > MaxBuckets {
		return st, fmt.Errorf("raw: %d buckets: want 1 to %d", o.Buckets, MaxBuckets)
	}
	if o.Shard < 0 || o.Shard >= o.Shards {
		return st, fmt.Errorf("raw: shard %d of %d: want 0 <= shard < shards", o.Shard, o.Shards)
	}
	p, err := listSeries(ctx, q, o, true)
	if err != nil {
		return st, err
	}
	for b, rows := range p.series {
		if len(rows) == 0 {
			continue
		}
		if _, err := write.Table(o.Dir, write.PartPath(schemas.TableRawSeries, "", b), rows, "series_id"); err != nil {
			return st, err
		}
		st.Series += int64(len(rows))
		st.Files++
	}
	sst, err := writeSamples(ctx, q, o, p)
	st.Samples, st.Stale, st.Files = sst.Samples, sst.Stale, st.Files+sst.Files
	return st, err
}

// target is one scrape target's series (the same job and instance).
type target struct {
	job, instance string
	hash          uint64 // keyed
	bucket        int
	n             int              // series in the whole range
	firstID       int64            // id of its first series
	ids           map[uint64]int64 // own buckets only: lset.Hash() → series id
}

// plan is what the first pass learned.
type plan struct {
	targets []*target // in file order: bucket, then keyed hash
	series  [][]schemas.RawSeries
}

// targetHash is the keyed hash of a scrape target.
func targetHash(key []byte, job, instance string) uint64 {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("opsdata/raw-target/v1\x00"))
	h.Write([]byte(job))
	h.Write([]byte{0})
	h.Write([]byte(instance))
	return binary.BigEndian.Uint64(h.Sum(nil))
}

func selectAll(ctx context.Context, q storage.Querier, sel [][]*labels.Matcher, hints *storage.SelectHints, extra ...*labels.Matcher) storage.SeriesSet {
	sets := make([]storage.SeriesSet, 0, len(sel))
	for _, ms := range sel {
		sets = append(sets, q.Select(ctx, true, hints, append(append([]*labels.Matcher(nil), ms...), extra...)...))
	}
	return storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
}

// Learn runs Write's first pass only: it lists every selected series
// (labels only) and anonymizes its labels with o.Labels, exactly as Write
// does, and returns how many there are. A commit of shards uses it to give
// its anonymizer the state (counts, learned raw values for the gate) a
// single process would have.
func Learn(ctx context.Context, q storage.Querier, o Options) (int64, error) {
	if o.Buckets == 0 {
		o.Buckets = DefaultBuckets
	}
	if len(o.Key) == 0 || o.Buckets < 1 || o.Buckets > MaxBuckets {
		return 0, fmt.Errorf("raw: learn: need a key and 1 to %d buckets", MaxBuckets)
	}
	p, err := listSeries(ctx, q, o, false)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, t := range p.targets {
		n += int64(t.n)
	}
	return n, nil
}

// listSeries is the first pass: every selected series' labels over the
// whole range, anonymized, grouped by target; with keep, the shard's own
// series are kept for the second pass and raw_series.
//
// Within a target, series are numbered (and later written) in the order
// of their published labels — metric name, then the anonymized labels'
// JSON — not in the source's raw label order, which would tell the order
// of the raw values behind the pseudonyms (pod, instance, ...). Series
// whose published labels are equal (a label the policy drops or redacts)
// are ordered by a keyed hash of their raw labels.
func listSeries(ctx context.Context, q storage.Querier, o Options, keep bool) (*plan, error) {
	byKey := map[[2]string]*target{}
	var targets []*target
	type pending struct {
		t    *target
		hash uint64 // lset.Hash()
		tie  uint64 // keyed hash of the raw labels
		row  schemas.RawSeries
	}
	var rows []pending
	tie := seriesTieHash(o.Key)
	pages := releaser{every: listReleaseEvery}
	defer pages.now()
	set := selectAll(ctx, q, o.Selectors, &storage.SelectHints{Start: o.From.UnixMilli(), End: o.To.UnixMilli() - 1, Func: "series"})
	for set.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pages.add(1)
		lset := set.At().Labels()
		k := [2]string{lset.Get("job"), lset.Get("instance")}
		t := byKey[k]
		if t == nil {
			h := targetHash(o.Key, k[0], k[1])
			t = &target{job: k[0], instance: k[1], hash: h, bucket: int(h % uint64(o.Buckets))}
			byKey[k] = t
			targets = append(targets, t)
		}
		row, err := seriesRow(lset, o.Labels)
		if err != nil {
			return nil, err
		}
		if keep && t.bucket%o.Shards == o.Shard {
			rows = append(rows, pending{t: t, hash: lset.Hash(), tie: tie(lset), row: row})
		}
		t.n++
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("raw: list series: %w", err)
	}
	sort.Slice(targets, func(i, j int) bool {
		a, b := targets[i], targets[j]
		if a.bucket != b.bucket {
			return a.bucket < b.bucket
		}
		if a.hash != b.hash {
			return a.hash < b.hash
		}
		if a.job != b.job {
			return a.job < b.job
		}
		return a.instance < b.instance
	})
	var id int64
	for _, t := range targets {
		t.firstID = id
		id += int64(t.n)
	}
	// Published order: targets in file order, then a target's series by
	// published labels (the tie hash only between equal ones).
	sort.Slice(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		if a.t != b.t {
			return a.t.firstID < b.t.firstID
		}
		if a.row.Metric != b.row.Metric {
			return a.row.Metric < b.row.Metric
		}
		if a.row.Labels != b.row.Labels {
			return a.row.Labels < b.row.Labels
		}
		return a.tie < b.tie
	})
	p := &plan{targets: targets, series: make([][]schemas.RawSeries, o.Buckets)}
	for i := 0; i < len(rows); {
		t := rows[i].t
		t.ids = make(map[uint64]int64, t.n)
		for j := 0; i < len(rows) && rows[i].t == t; i, j = i+1, j+1 {
			r := &rows[i]
			if _, dup := t.ids[r.hash]; dup {
				return nil, fmt.Errorf("raw: two series of target job=%q instance=%q share the label hash %016x (series %s %s); the export cannot tell them apart", t.job, t.instance, r.hash, r.row.Metric, r.row.Labels)
			}
			if i > 0 && rows[i-1].t == t && rows[i-1].tie == r.tie && rows[i-1].row.Metric == r.row.Metric && rows[i-1].row.Labels == r.row.Labels {
				return nil, fmt.Errorf("raw: two series of target job=%q instance=%q publish the same labels %s %s and the same tie hash; the export cannot order them", t.job, t.instance, r.row.Metric, r.row.Labels)
			}
			r.row.SeriesID = t.firstID + int64(j)
			t.ids[r.hash] = r.row.SeriesID
			p.series[t.bucket] = append(p.series[t.bucket], r.row)
		}
	}
	return p, nil
}

// seriesTieHash orders series whose published labels are equal: a keyed
// hash of the raw labels (unkeyed, it would let anyone test guesses of
// the raw values against the order).
func seriesTieHash(key []byte) func(labels.Labels) uint64 {
	h := hmac.New(sha256.New, key)
	var buf []byte
	var sum []byte
	return func(lset labels.Labels) uint64 {
		h.Reset()
		h.Write([]byte("opsdata/raw-series-tie/v1\x00"))
		buf = lset.Bytes(buf[:0])
		h.Write(buf)
		sum = h.Sum(sum[:0])
		return binary.BigEndian.Uint64(sum)
	}
}

// releaseEvery is how many samples are decoded between two releases of
// the TSDB's mapped block files (releaseMapped), so file-backed memory
// stays flat in the block's size: ~23 series-days at 15 s, each of which
// maps the kernel's whole page-cache folio around its chunks (up to
// 2 MiB on ext4). With the page cache holding large folios, 1 Mi samples
// let the 2-day noisy block map ~200 MiB between two releases (peak RSS
// 275–293 MiB); 128 Ki keep it at ~50 MiB (134–145 MiB peak RSS) for no
// measurable CPU, now that a release rarely reads /proc/self/maps
// (blockPages; decisions 0037, 0039). 0 never releases. The count is
// shared by the workers.
var releaseEvery int64 = 128 << 10

// releaseFailed stops the releases after the first failure.
var releaseFailed atomic.Bool

// releases counts the calls of releaseMapped (for the tests).
var releases atomic.Int64

// listReleaseEvery is how many series the first pass lists between two
// releases: listing reads the index only, front to back, so at millions
// of series its mapped pages would otherwise grow to the index's size.
const listReleaseEvery = 16 << 10

// releaser calls releaseMapped every `every` units of work (samples
// decoded, series listed) counted over all workers; never when
// releaseEvery is 0 or a release failed. Best effort: a failure costs
// memory the kernel can still reclaim, never data, so it only stops the
// releases. A worker that finds another one releasing goes on: the
// mappings are process-wide, one release serves both.
type releaser struct {
	every int64
	since atomic.Int64
	mu    sync.Mutex
	pages blockPages // under mu
}

func (r *releaser) add(n int64) {
	if r.since.Add(n) >= r.every && r.mu.TryLock() {
		r.release()
		r.mu.Unlock()
	}
}

func (r *releaser) now() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.release()
}

func (r *releaser) release() {
	r.since.Store(0)
	if releaseEvery <= 0 || releaseFailed.Load() {
		return
	}
	releases.Add(1)
	if _, err := r.pages.release(); err != nil {
		releaseFailed.Store(true)
	}
}

// job is one samples file: the targets of one bucket over one day.
type job struct {
	rel     string
	lo, hi  int64 // [lo, hi) in Unix ms
	date    string
	targets []*target
	cost    int64 // series × ms: an estimate of the work, largest first
}

// samplesJobs lists the shard's samples files, largest first: with as many
// workers as cores, a large file started last would leave the other cores
// idle at the end.
func samplesJobs(o Options, p *plan) []job {
	from, to := o.From.UnixMilli(), o.To.UnixMilli()
	const dayMs = int64(24 * time.Hour / time.Millisecond)
	var jobs []job
	for dayStart := from - ((from%dayMs)+dayMs)%dayMs; dayStart < to; dayStart += dayMs {
		lo, hi := max(from, dayStart), min(to, dayStart+dayMs)
		date := pipeline.Date(time.UnixMilli(dayStart).UTC())
		for i := 0; i < len(p.targets); {
			b := p.targets[i].bucket
			j := i
			var series int64
			for j < len(p.targets) && p.targets[j].bucket == b {
				series += int64(p.targets[j].n)
				j++
			}
			if b%o.Shards == o.Shard {
				jobs = append(jobs, job{rel: write.PartPath(schemas.TableSamples, date, b), lo: lo, hi: hi, date: date, targets: p.targets[i:j], cost: series * (hi - lo)})
			}
			i = j
		}
	}
	slices.SortStableFunc(jobs, func(a, b job) int { return cmp.Compare(b.cost, a.cost) })
	return jobs
}

// writeSamples is the second pass: every samples file of the shard's
// buckets, each written whole by one of o.Workers workers (GOMAXPROCS when
// 0) that decodes its targets and encodes its rows. A file's bytes depend
// on its own rows only, so they are the same for any number of workers
// (TestWorkersWriteSameBytes). Every releaseEvery samples decoded, the
// block pages read so far are dropped from the process's resident set
// (releaseMapped): targets are read in keyed order, so their series are
// scattered over the chunk files, and a block read to the end would
// otherwise stay mapped in memory in full.
func writeSamples(ctx context.Context, q storage.Querier, o Options, p *plan) (Stats, error) {
	jobs := samplesJobs(o, p)
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(jobs)))
	pages := &releaser{every: releaseEvery}
	pages.now() // before the first read: no huge-page mappings of the chunks
	g, ctx := errgroup.WithContext(ctx)
	ws := make([]*sampleWriter, workers)
	var next atomic.Int64
	for i := range ws {
		w := &sampleWriter{q: q, o: &o, pages: pages, rows: make([]sampleRow, 0, batchRows)}
		ws[i] = w
		g.Go(func() error {
			for k := int(next.Add(1)) - 1; k < len(jobs); k = int(next.Add(1)) - 1 {
				if err := w.file(ctx, &jobs[k]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := g.Wait()
	var st Stats
	for _, w := range ws {
		st.Samples += w.st.Samples
		st.Stale += w.st.Stale
		st.Files += w.st.Files
	}
	return st, err
}

// sampleWriter is one worker of the second pass: its buffers are reused
// from file to file.
type sampleWriter struct {
	q     storage.Querier
	o     *Options
	pages *releaser
	st    Stats
	f     *write.File[sampleRow] // the file being written, nil until its first rows
	rows  []sampleRow
	day   []daySeries
	it    chunkenc.Iterator
}

// daySeries is a series of one target and day, with its id.
type daySeries struct {
	id int64
	s  storage.Series
}

// file writes one samples file: the job's targets one after the other, a
// target's series in id order. No file is created when the job has no
// sample; the file is moved into place only when complete.
func (w *sampleWriter) file(ctx context.Context, j *job) (err error) {
	defer func() {
		if err != nil {
			w.f.Abort()
		}
		w.f = nil
	}()
	hints := &storage.SelectHints{Start: j.lo, End: j.hi - 1}
	rows := w.rows[:0]
	for _, t := range j.targets {
		// The source gives a target's series in raw label order; they are
		// written in id (published) order. A series handle reads its
		// chunks only when iterated, so only the handles are held.
		set := selectAll(ctx, w.q, w.o.Selectors, hints,
			labels.MustNewMatcher(labels.MatchEqual, "job", t.job),
			labels.MustNewMatcher(labels.MatchEqual, "instance", t.instance))
		day := w.day[:0]
		for set.Next() {
			s := set.At()
			id, ok := t.ids[s.Labels().Hash()]
			if !ok {
				return fmt.Errorf("raw: series %s of %s was not listed in the first pass (did the source change during the export? run it again)", s.Labels(), j.date)
			}
			day = append(day, daySeries{id, s})
		}
		w.day = day
		if err := set.Err(); err != nil {
			return fmt.Errorf("raw: select %s of job=%q instance=%q: %w", j.date, t.job, t.instance, err)
		}
		slices.SortFunc(day, func(a, b daySeries) int { return cmp.Compare(a.id, b.id) })
		for k := range day {
			if err := ctx.Err(); err != nil {
				return err
			}
			id, s := day[k].id, day[k].s
			day[k].s = nil // let the series' chunk metas go once read
			var n, stale int64
			w.it = s.Iterator(w.it)
			it := w.it
			for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
				if vt != chunkenc.ValFloat {
					return fmt.Errorf("raw: series %s: %w", s.Labels(), ErrNativeHistogram)
				}
				ts, v := it.At()
				if ts < j.lo || ts >= j.hi {
					continue
				}
				isStale := value.IsStaleNaN(v)
				if isStale {
					stale++
					v = math.NaN()
				}
				rows = append(rows, sampleRow{SeriesID: id, TS: ts, Value: v, Stale: isStale})
				n++
				if len(rows) == batchRows {
					if err := w.write(j, rows); err != nil {
						return err
					}
					rows = rows[:0]
				}
			}
			if err := it.Err(); err != nil {
				return fmt.Errorf("raw: read series %s: %w", s.Labels(), err)
			}
			w.st.Samples += n
			w.st.Stale += stale
			w.pages.add(n)
		}
	}
	if len(rows) > 0 {
		if err := w.write(j, rows); err != nil {
			return err
		}
	}
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	if err := f.Close(); err != nil {
		return err
	}
	w.st.Files++
	return nil
}

// write hands a batch to the file, creating it with the first.
func (w *sampleWriter) write(j *job, rows []sampleRow) error {
	if w.f == nil {
		f, err := write.CreateWith[sampleRow](w.o.Dir, j.rel, samplesOptions)
		if err != nil {
			return err
		}
		w.f = f
	}
	return w.f.Write(rows)
}

func seriesRow(lset labels.Labels, anon func(labels.Labels) labels.Labels) (schemas.RawSeries, error) {
	name := lset.Get(labels.MetricName)
	rest := labels.NewBuilder(lset).Del(labels.MetricName).Labels()
	if anon != nil {
		rest = anon(rest)
	}
	b, err := json.Marshal(rest.Map()) // encoding/json sorts map keys
	if err != nil {
		return schemas.RawSeries{}, fmt.Errorf("raw: labels of %s: %w", lset, err)
	}
	return schemas.RawSeries{Metric: name, Labels: string(b)}, nil
}
