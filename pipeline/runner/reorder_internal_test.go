package runner

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

type recIter struct {
	recs []pipeline.LogRecord
	i    int
}

func (r *recIter) Next() bool                  { r.i++; return r.i <= len(r.recs) }
func (r *recIter) At() pipeline.LogRecord      { return r.recs[r.i-1] }
func (r *recIter) Err() error                  { return nil }
func (r *recIter) Close() error                { return nil }
func (r *recIter) reset() pipeline.LogIterator { return &recIter{recs: r.recs} }

// reorderReference is the reorder buffer as it was written first: whole
// records in the heap, ordered by time, source, file and line.
func reorderReference(m *pipeline.LogMerge) []pipeline.LogRecord {
	type item struct {
		rec pipeline.LogRecord
		src int
	}
	buffer := pipeline.NewHeap(func(a, b *item) bool {
		switch {
		case !a.rec.Time.Equal(b.rec.Time):
			return a.rec.Time.Before(b.rec.Time)
		case a.src != b.src:
			return a.src < b.src
		case a.rec.File != b.rec.File:
			return a.rec.File < b.rec.File
		}
		return a.rec.Line < b.rec.Line
	})
	var out []pipeline.LogRecord
	for {
		for buffer.Len() < reorderBuffer && m.Next() {
			buffer.Push(item{rec: m.At(), src: m.Input()})
			if head, ok := m.Peek(); ok && buffer.Min().rec.Time.Before(head.Time) {
				break
			}
		}
		if buffer.Len() == 0 {
			return out
		}
		out = append(out, buffer.Pop().rec)
	}
}

// The reorder buffer gives the order of whole records sorted in a heap, on
// sources with ties at one instant across files and lines out of order.
func TestReorderBufferOrder(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 9))
		t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
		var srcs []*recIter
		for s := range 1 + rng.IntN(4) {
			var recs []pipeline.LogRecord
			for i := range rng.IntN(3000) {
				// Mostly in order at whole seconds, with ties and
				// some lines up to a minute early.
				at := t0.Add(time.Duration(i/7) * time.Second)
				if rng.IntN(10) == 0 {
					at = at.Add(-time.Duration(rng.IntN(60_000)) * time.Millisecond)
				}
				recs = append(recs, pipeline.LogRecord{Time: at, Source: fmt.Sprint(s), File: fmt.Sprintf("f%d", rng.IntN(5)), Line: int64(rng.IntN(100))})
			}
			srcs = append(srcs, &recIter{recs: recs})
		}
		its := func() []pipeline.LogIterator {
			var out []pipeline.LogIterator
			for _, s := range srcs {
				out = append(out, s.reset())
			}
			return out
		}
		want := reorderReference(pipeline.MergeLogs(its()))
		lm := &logMerge{m: pipeline.MergeLogs(its()), buffer: pipeline.NewHeap(itemKeyLess)}
		for i, w := range want {
			if !lm.Next() {
				t.Fatalf("seed %d: ended after %d of %d records", seed, i, len(want))
			}
			if g := lm.At(); !g.Time.Equal(w.Time) || g.Source != w.Source || g.File != w.File || g.Line != w.Line {
				t.Fatalf("seed %d, record %d: %v %s %s:%d, want %v %s %s:%d", seed, i, g.Time, g.Source, g.File, g.Line, w.Time, w.Source, w.File, w.Line)
			}
		}
		if lm.Next() {
			t.Errorf("seed %d: records after the last", seed)
		}
	}
}
