package runner

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
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

// logsDay consumes the merged log stream up to the end of day, writing the
// day's logs partition and counting lines into the frame.
func (e *export) logsDay(logs *logStream, day pipeline.Grid, frame *align.Frame) error {
	var f *write.File[schemas.Log]
	batch := make([]schemas.Log, 0, 4096)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if f == nil {
			var err error
			if f, err = write.Create[schemas.Log](e.staging, write.PartPath(schemas.TableLogs, pipeline.Date(day.Start), 0), "ts"); err != nil {
				return err
			}
		}
		err := f.Write(batch)
		batch = batch[:0]
		return err
	}
	for {
		rec, ok := logs.Next(day.End)
		if !ok {
			break
		}
		if rec.Time.Before(day.Start) {
			if rec.Time.Before(e.grid.Start) {
				e.logStats["outside_range"]++
			} else {
				// Older than a partition already written: counted, not placed.
				e.problems.Add("log:"+rec.Source, fmt.Sprintf("%s:%d", rec.File, rec.Line), "late_for_partition", "more than the reorder buffer behind its source")
			}
			continue
		}
		if !frame.AddLog(rec.Entity, rec.Time, rec.Level) {
			e.unknownEn[rec.Source]++
		}
		// rec.Fields were learned by the anonymizer in mineTemplates.
		tplID := e.templates.assign(&rec, day, frame)
		batch = append(batch, schemas.Log{
			Timestamp:  rec.Time,
			Entity:     e.entity(rec.Entity),
			Level:      rec.Level,
			Message:    e.anon.Column("logs.message", rec.Message),
			Source:     rec.Source,
			File:       e.anon.Column("logs.file", rec.File),
			Line:       rec.Line,
			TemplateID: tplID,
		})
		e.logStats["lines"]++
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				f.Abort()
				return err
			}
		}
	}
	if err := flush(); err != nil {
		if f != nil {
			f.Abort()
		}
		return err
	}
	if f == nil {
		return nil
	}
	e.rows[schemas.TableLogs] += f.Rows()
	return f.Close()
}
