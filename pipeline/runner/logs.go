package runner

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
)

// logMerge merges the spec's log sources into one time-ordered stream
// (pipeline.MergeLogs). Each source is itself time-ordered (the file
// sources merge their files the same way); a bounded reorder buffer absorbs
// small disorder inside a source, so the logs table stays sorted by time
// without holding a day of logs in memory.
type logMerge struct {
	m      *pipeline.LogMerge
	buffer heapOf // reorder buffer
	cur    pipeline.LogRecord
}

// reorderBuffer is how many records may wait to be put in order.
const reorderBuffer = 8192

// next returns the next record in time order.
func (s *logMerge) next() (pipeline.LogRecord, bool) {
	for s.buffer.Len() < reorderBuffer && s.m.Next() {
		heap.Push(&s.buffer, item{rec: s.m.At(), src: s.m.Input()})
		// Once the buffer's oldest record is older than every source head,
		// it cannot be overtaken any more: stop filling.
		if head, ok := s.m.Peek(); ok && s.buffer[0].rec.Time.Before(head.Time) {
			break
		}
	}
	if s.buffer.Len() == 0 {
		return pipeline.LogRecord{}, false
	}
	return heap.Pop(&s.buffer).(item).rec, true
}

// logMerge is a pipeline.LogIterator over the merged stream.
func (s *logMerge) Next() bool {
	var ok bool
	s.cur, ok = s.next()
	return ok
}
func (s *logMerge) At() pipeline.LogRecord { return s.cur }
func (s *logMerge) Err() error             { return s.m.Err() }
func (s *logMerge) Close() error           { return s.m.Close() }

// logStream is the merged stream read ahead by a goroutine (parsing
// overlaps anonymizing and writing on the other core), with a one-record
// peek so a day's partition can stop at the day's end.
type logStream struct {
	p      *prefetch
	head   pipeline.LogRecord
	peeked bool
}

// logBatch is how many records the read-ahead hands over at once.
const logBatch = 1024

func openLogs(ctx context.Context, sources []pipeline.LogSource, grid pipeline.Grid) (*logStream, error) {
	var its []pipeline.LogIterator
	for _, src := range sources {
		it, err := src.Open(ctx, grid)
		if err != nil {
			for _, o := range its {
				o.Close()
			}
			return nil, err
		}
		its = append(its, it)
	}
	m := pipeline.MergeLogs(its)
	if err := m.Err(); err != nil {
		m.Close()
		return nil, err
	}
	return &logStream{p: newPrefetch(&logMerge{m: m})}, nil
}

// Next returns the next record if its time is before until, in time order.
func (s *logStream) Next(until time.Time) (pipeline.LogRecord, bool) {
	if !s.peeked {
		if !s.p.Next() {
			return pipeline.LogRecord{}, false
		}
		s.head, s.peeked = s.p.At(), true
	}
	if !s.head.Time.Before(until) {
		return pipeline.LogRecord{}, false
	}
	s.peeked = false
	return s.head, true
}

// Err is the first error of a source; final once Next returned false at
// the end of the stream.
func (s *logStream) Err() error { return s.p.Err() }

// Close stops the read-ahead and closes the sources.
func (s *logStream) Close() error { return s.p.Close() }

type item struct {
	rec pipeline.LogRecord
	src int
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

// logsDay is pass 2 of the logs path for one day: a chain that each
// record passes once, in flow order, each stage with one job:
//
//	parse      the sources, merged in time order (logStream)
//	anonymize  the published entity, message and file (anonymizeLog)
//	mine       the line's template, by the templates fixed in pass 1 (templateSet.match)
//	align      counts per window and entity: levels, top templates, log_counts (alignLog)
//	write      the day's logs partition (logWriter)
//
// It is also the seam where the stages can run in parallel.
func (e *export) logsDay(logs *logStream, day pipeline.Grid, frame *align.Frame) error {
	w := &logWriter{staging: e.staging, rel: write.PartPath(schemas.TableLogs, pipeline.Date(day.Start), 0)}
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
		row := e.anonymizeLog(&rec)
		k := e.templates.match(&rec)
		row.TemplateID = e.templates.tpls[k].id
		e.alignLog(&rec, k, day, frame)
		if err := w.add(row); err != nil {
			w.abort()
			return err
		}
		e.logStats["lines"]++
	}
	n, err := w.close()
	e.rows[schemas.TableLogs] += n
	return err
}

// anonymizeLog is the anonymize stage: the row as published, every string
// from the policy (the fields were learned in pass 1).
func (e *export) anonymizeLog(rec *pipeline.LogRecord) schemas.Log {
	return schemas.Log{
		Timestamp: rec.Time,
		Entity:    e.entity(rec.Entity),
		Level:     rec.Level,
		Message:   e.anon.Column("logs.message", rec.Message),
		Source:    rec.Source,
		File:      e.anon.Column("logs.file", rec.File),
		Line:      rec.Line,
	}
}

// alignLog is the align stage: the line counted in its window of its
// entity (level, top-template column) and in the day's log_counts.
func (e *export) alignLog(rec *pipeline.LogRecord, tpl int, day pipeline.Grid, frame *align.Frame) {
	if !frame.AddLog(rec.Entity, rec.Time, rec.Level) {
		e.unknownEn[rec.Source]++
	}
	e.templates.count(rec, tpl, day, frame)
}

// logWriter is the write stage: rows in batches into the day's partition,
// created with the first row (a day without logs has no file).
type logWriter struct {
	staging, rel string
	f            *write.File[schemas.Log]
	batch        []schemas.Log
}

const logWriteBatch = 4096

func (w *logWriter) add(row schemas.Log) error {
	if w.batch == nil {
		w.batch = make([]schemas.Log, 0, logWriteBatch)
	}
	w.batch = append(w.batch, row)
	if len(w.batch) == cap(w.batch) {
		return w.flush()
	}
	return nil
}

func (w *logWriter) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	if w.f == nil {
		f, err := write.Create[schemas.Log](w.staging, w.rel, "ts")
		if err != nil {
			return err
		}
		w.f = f
	}
	err := w.f.Write(w.batch)
	w.batch = w.batch[:0]
	return err
}

// close flushes and finishes the file; it returns the rows written.
func (w *logWriter) close() (int64, error) {
	if err := w.flush(); err != nil {
		w.abort()
		return 0, err
	}
	if w.f == nil {
		return 0, nil
	}
	return w.f.Rows(), w.f.Close()
}

func (w *logWriter) abort() { w.f.Abort() }

// prefetch wraps a log iterator so a goroutine reads and parses ahead of
// the caller (the template-mining pass), in batches, in the same order.
type prefetch struct {
	it      pipeline.LogIterator
	batches chan []pipeline.LogRecord
	done    chan struct{}
	wg      sync.WaitGroup
	cur     []pipeline.LogRecord
	pos     int
	rec     pipeline.LogRecord
	errMu   sync.Mutex
	err     error
	stopped bool
}

func newPrefetch(it pipeline.LogIterator) *prefetch {
	p := &prefetch{it: it, batches: make(chan []pipeline.LogRecord, 4), done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(p.batches)
		batch := make([]pipeline.LogRecord, 0, logBatch)
		flush := func() bool {
			select {
			case p.batches <- batch:
				batch = make([]pipeline.LogRecord, 0, logBatch)
				return true
			case <-p.done:
				return false
			}
		}
		for it.Next() {
			batch = append(batch, it.At())
			if len(batch) == logBatch && !flush() {
				return
			}
		}
		if len(batch) > 0 && !flush() {
			return
		}
		p.errMu.Lock()
		p.err = it.Err()
		p.errMu.Unlock()
	}()
	return p
}

func (p *prefetch) Next() bool {
	if p.pos == len(p.cur) {
		b, ok := <-p.batches
		if !ok {
			return false
		}
		p.cur, p.pos = b, 0
	}
	p.rec = p.cur[p.pos]
	p.pos++
	return true
}

func (p *prefetch) At() pipeline.LogRecord { return p.rec }

func (p *prefetch) Err() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

func (p *prefetch) Close() error {
	if !p.stopped {
		p.stopped = true
		close(p.done)
	}
	p.wg.Wait()
	return p.it.Close()
}
