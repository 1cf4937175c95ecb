package runner

import (
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// recordsIter hands out n records numbered by Line.
type recordsIter struct{ i, n int }

func (r *recordsIter) Next() bool { r.i++; return r.i <= r.n }
func (r *recordsIter) At() pipeline.LogRecord {
	return pipeline.LogRecord{Line: int64(r.i), Message: "m", Time: time.Unix(int64(r.i), 0)}
}
func (r *recordsIter) Err() error   { return nil }
func (r *recordsIter) Close() error { return nil }

// TestPrefetchRecyclesBatches: every record comes out once, in order,
// across many recycled batches, and Next stays false after the end.
func TestPrefetchRecyclesBatches(t *testing.T) {
	for _, n := range []int{0, 1, logBatch, logBatch + 1, 7*logBatch + 3} {
		p := newPrefetch(&recordsIter{n: n}, nil, "test")
		got := 0
		for p.Next() {
			got++
			if rec := p.At(); rec.Line != int64(got) || rec.Message != "m" {
				t.Fatalf("n=%d: record %d is %+v", n, got, rec)
			}
		}
		for i := 0; i < 3; i++ {
			if p.Next() {
				t.Fatalf("n=%d: Next after the end", n)
			}
		}
		if err := p.Close(); err != nil || got != n {
			t.Fatalf("n=%d: got %d records, close %v", n, got, err)
		}
	}
}
