package runner

import (
	"container/heap"
	"context"
	"errors"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// logStream merges the spec's log sources into one time-ordered stream.
// Each source is itself time-ordered (the file sources merge their files);
// a bounded reorder buffer absorbs small disorder inside a source, so the
// logs table stays sorted by time without holding a day of logs in memory.
type logStream struct {
	its     []pipeline.LogIterator
	sources heapOf // heads of the sources, by time
	buffer  heapOf // reorder buffer
	err     error
}

// reorderBuffer is how many records may wait to be put in order.
const reorderBuffer = 8192

func openLogs(ctx context.Context, sources []pipeline.LogSource) (*logStream, error) {
	s := &logStream{}
	for i, src := range sources {
		it, err := src.Open(ctx)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.its = append(s.its, it)
		if it.Next() {
			heap.Push(&s.sources, item{rec: it.At(), src: i})
		} else if err := it.Err(); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// pullOne moves the oldest source head into the reorder buffer.
func (s *logStream) pullOne() bool {
	if s.sources.Len() == 0 {
		return false
	}
	top := heap.Pop(&s.sources).(item)
	heap.Push(&s.buffer, top)
	it := s.its[top.src]
	if it.Next() {
		heap.Push(&s.sources, item{rec: it.At(), src: top.src, seq: top.seq + 1})
	} else if err := it.Err(); err != nil && s.err == nil {
		s.err = err
	}
	return true
}

// Next returns the next record whose time is before until, in time order.
func (s *logStream) Next(until time.Time) (pipeline.LogRecord, bool) {
	for s.err == nil && s.buffer.Len() < reorderBuffer && s.pullOne() {
		// Once the buffer's oldest record is older than every source head,
		// it cannot be overtaken any more: stop filling.
		if s.sources.Len() > 0 && s.buffer[0].rec.Time.Before(s.sources[0].rec.Time) {
			break
		}
	}
	if s.buffer.Len() == 0 || !s.buffer[0].rec.Time.Before(until) {
		return pipeline.LogRecord{}, false
	}
	return heap.Pop(&s.buffer).(item).rec, true
}

func (s *logStream) Err() error { return s.err }

func (s *logStream) Close() error {
	var errs []error
	for _, it := range s.its {
		errs = append(errs, it.Close())
	}
	return errors.Join(errs...)
}

type item struct {
	rec pipeline.LogRecord
	src int
	seq int64
}

type heapOf []item

func (h heapOf) Len() int { return len(h) }
func (h heapOf) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.rec.Time.Equal(b.rec.Time) {
		return a.rec.Time.Before(b.rec.Time)
	}
	if a.src != b.src {
		return a.src < b.src
	}
	if a.rec.File != b.rec.File {
		return a.rec.File < b.rec.File
	}
	return a.rec.Line < b.rec.Line
}
func (h heapOf) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heapOf) Push(x any)   { *h = append(*h, x.(item)) }
func (h *heapOf) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	*h = old[:n-1]
	return x
}
