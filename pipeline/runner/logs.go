package runner

import (
	"context"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/logtemplates"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
)

// logMerge merges the spec's log sources into one time-ordered stream
// (pipeline.MergeLogs). Each source is itself time-ordered (the file
// sources merge their files the same way); a bounded reorder buffer absorbs
// small disorder inside a source, so the logs table stays sorted by time
// without holding a day of logs in memory.
type logMerge struct {
	m *pipeline.LogMerge
	// The reorder buffer: the records wait in slots, and the heap orders
	// their keys (records at one instant from thousands of files fill it).
	buffer pipeline.Heap[itemKey] // itemKeyLess
	slots  []pipeline.LogRecord
	free   []int32
	cur    pipeline.LogRecord
}

// reorderBuffer is how many records may wait to be put in order.
const reorderBuffer = 8192

// itemKey is a waiting record's place in the order: time, then source,
// file and line, and the slot holding it.
type itemKey struct {
	sec       int64
	nsec, src int32
	line      int64
	file      string
	slot      int32
}

func itemKeyLess(a, b *itemKey) bool {
	switch {
	case a.sec != b.sec:
		return a.sec < b.sec
	case a.nsec != b.nsec:
		return a.nsec < b.nsec
	case a.src != b.src:
		return a.src < b.src
	case a.file != b.file:
		return a.file < b.file
	}
	return a.line < b.line
}

// next returns the next record in time order.
func (s *logMerge) next() (pipeline.LogRecord, bool) {
	for s.buffer.Len() < reorderBuffer && s.m.Next() {
		s.hold(s.m.At(), s.m.Input())
		// Once the buffer's oldest record is older than every source head,
		// it cannot be overtaken any more: stop filling.
		if head, ok := s.m.Peek(); ok && s.slots[s.buffer.Min().slot].Time.Before(head.Time) {
			break
		}
	}
	if s.buffer.Len() == 0 {
		return pipeline.LogRecord{}, false
	}
	k := s.buffer.Pop()
	rec := s.slots[k.slot]
	s.slots[k.slot] = pipeline.LogRecord{}
	s.free = append(s.free, k.slot)
	return rec, true
}

// hold puts rec, of source src, in the reorder buffer.
func (s *logMerge) hold(rec pipeline.LogRecord, src int) {
	var slot int32
	if n := len(s.free); n > 0 {
		slot, s.free = s.free[n-1], s.free[:n-1]
		s.slots[slot] = rec
	} else {
		slot = int32(len(s.slots))
		s.slots = append(s.slots, rec)
	}
	s.buffer.Push(itemKey{sec: rec.Time.Unix(), nsec: int32(rec.Time.Nanosecond()), src: int32(src), line: rec.Line, file: rec.File, slot: slot})
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

func openLogs(ctx context.Context, sources []pipeline.LogSource, grid pipeline.Grid, clock *stageClock) (*logStream, error) {
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
	// The sources' first records are read on the read-ahead (MergeLogs).
	m := pipeline.MergeLogs(its)
	return &logStream{p: newPrefetch(&logMerge{m: m, buffer: pipeline.NewHeap(itemKeyLess)}, clock, stageLogs2Parse)}, nil
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

// logsDay is pass 2 of the logs path for one day: a chain that each
// record passes once, in flow order, each stage with one job:
//
//	parse      the sources, merged in time order (logStream, read ahead)
//	anonymize  the published entity, message and file (anonymizeLog)
//	mine       the line's template, by the templates fixed in pass 1 (templateSet.match)
//	align      counts per window and entity: levels, top templates, log_counts (alignLog)
//	write      the day's logs partition (logWriter, on its own goroutine)
//
// Anonymizing, the costliest stage, runs on every core: a batch of
// scrubBatchLines lines is scrubbed ahead concurrently, then settled in line
// order with the other stages (anonymize.Batch), which gives the bytes of
// scrubbing one line after the other whatever the number of workers. The
// next batch is scrubbed while one settles, so settling, which is
// sequential, does not leave the other cores idle.
func (e *export) logsDay(ctx context.Context, logs *logStream, day pipeline.Grid, frame *align.Frame) (err error) {
	w := &logWriter{staging: e.staging, rel: write.PartPath(schemas.TableLogs, pipeline.Date(day.Start), 0), clock: e.clock}
	workers := e.logWorkers()
	cur, next := newScrubBatch(), newScrubBatch()
	var ahead sync.WaitGroup // next's scrub, running while cur settles
	closing := false
	defer func() {
		ahead.Wait()
		cur.end()
		next.end()
		if err != nil && !closing { // close cleans up after itself
			w.abort()
		}
	}()
	// scrub begins sb's batch, before its scrubs so that what the batch
	// settling meanwhile learns is tracked, and scrubs it on the workers.
	scrub := func(sb *scrubBatch) {
		sb.begin(e.anon)
		ahead.Add(1)
		go func() {
			defer ahead.Done()
			t0 := time.Now()
			e.scrubAhead(sb, workers)
			e.clock.since(stageLogs2Scrub, t0)
		}()
	}
	if err := e.readBatch(logs, day, cur); err != nil {
		return err
	}
	if len(cur.recs) > 0 {
		scrub(cur)
	}
	for len(cur.recs) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		ahead.Wait() // cur's scrub
		e.clock.since(stageLogs2Wait, t0)
		if err := e.readBatch(logs, day, next); err != nil {
			return err
		}
		if len(next.recs) > 0 {
			scrub(next)
		}
		if err := e.settleBatch(cur, day, frame, w); err != nil {
			return err
		}
		cur, next = next, cur
	}
	e.templates.seqs.reset() // the day's numbers: not needed past its last line
	closing = true
	n, err := w.close()
	e.rows[schemas.TableLogs] += n
	return err
}

// scrubBatch is one batch of pass 2: its lines, their scrubs ahead and
// template clusters, and the anonymizer batch that settles them.
type scrubBatch struct {
	recs        []pipeline.LogRecord
	msgs, files []anonymize.Ahead
	// msgFrom[i] and fileFrom[i] index the scrub of line i's message and
	// file: its own, or that of the batch's first line with the same text.
	msgFrom, fileFrom []int32
	seen              textTable
	clusters          []*logtemplates.Cluster
	b                 *anonymize.Batch // nil unless begun and not ended
}

func newScrubBatch() *scrubBatch {
	return &scrubBatch{
		recs: make([]pipeline.LogRecord, 0, scrubBatchLines),
		msgs: make([]anonymize.Ahead, scrubBatchLines), files: make([]anonymize.Ahead, scrubBatchLines),
		msgFrom: make([]int32, 0, scrubBatchLines), fileFrom: make([]int32, 0, scrubBatchLines),
		clusters: make([]*logtemplates.Cluster, scrubBatchLines),
		// The seed places texts in the table; it decides nothing a line gets.
		seen: textTable{seed: maphash.MakeSeed()},
	}
}

// add appends a line to the batch and finds which scrub its message and
// file share. Real logs repeat whole messages (health checks, retries,
// the same error from every pod), and a file's lines come in runs. A scrub
// ahead is a function of its text and of the state it began with, and
// Settle checks it against what was learned since, for every line it is
// used for: sharing it gives the bytes of scrubbing each line.
func (sb *scrubBatch) add(rec pipeline.LogRecord) {
	i := int32(len(sb.recs))
	sb.recs = append(sb.recs, rec)
	m, f := i, i
	if shareScrubs {
		m = sb.seen.first(sb.recs, i)
		if i > 0 && rec.File == sb.recs[i-1].File {
			f = sb.fileFrom[i-1]
		}
	}
	sb.msgFrom, sb.fileFrom = append(sb.msgFrom, m), append(sb.fileFrom, f)
}

// shareScrubs is off only in the test that compares the bytes of sharing
// with those of scrubbing every line.
var shareScrubs = true

// reset empties the batch for its next lines.
func (sb *scrubBatch) reset() {
	clear(sb.recs) // keep no line of the last batch alive
	sb.recs, sb.msgFrom, sb.fileFrom = sb.recs[:0], sb.msgFrom[:0], sb.fileFrom[:0]
	sb.seen.reset()
}

// textTable finds the first line of a batch with a given message: open
// addressing over the batch's line numbers, keyed by a hash of the text.
type textTable struct {
	slots [2 * scrubBatchLines]int32 // line number + 1; 0 is empty
	seed  maphash.Seed
}

func (t *textTable) reset() { clear(t.slots[:]) }

// first returns the first of recs[:i+1] whose message is recs[i]'s, and
// notes recs[i] when it is the first.
func (t *textTable) first(recs []pipeline.LogRecord, i int32) int32 {
	msg := recs[i].Message
	mask := uint64(len(t.slots) - 1)
	for h := maphash.String(t.seed, msg) & mask; ; h = (h + 1) & mask {
		j := t.slots[h] - 1
		if j < 0 {
			t.slots[h] = i + 1
			return i
		}
		if recs[j].Message == msg {
			return j
		}
	}
}

func (sb *scrubBatch) begin(a *anonymize.Anonymizer) { sb.b = a.NewBatch() }

func (sb *scrubBatch) end() {
	if sb.b != nil {
		sb.b.End()
		sb.b = nil
	}
}

// readBatch fills sb with the day's next lines (none at the day's end);
// lines of days already carried or written are counted, not kept.
func (e *export) readBatch(logs *logStream, day pipeline.Grid, sb *scrubBatch) error {
	t0 := time.Now()
	defer e.clock.since(stageLogs2Wait, t0)
	sb.reset()
	for len(sb.recs) < scrubBatchLines {
		rec, ok := logs.Next(day.End)
		if !ok {
			break
		}
		if carried, err := e.carriedLine(&rec); err != nil { // checkpoint.go
			return err
		} else if carried {
			continue // a resumed export's: its day is carried
		}
		if rec.Time.Before(day.Start) {
			if rec.Time.Before(e.grid.Start) {
				e.logStats["outside_range"]++
			} else {
				// Older than a partition already written: counted, not placed.
				where := fmt.Sprintf("%s:%d", rec.File, rec.Line)
				const why = "more than the reorder buffer behind its source"
				e.problems.Add("log:"+rec.Source, where, "late_for_partition", why)
				e.late.Add("log:"+rec.Source, where, "late_for_partition", why)
			}
			continue
		}
		sb.add(rec)
	}
	return nil
}

// settleBatch settles sb's lines in line order and hands their rows to
// the writer, then ends sb's batch.
func (e *export) settleBatch(sb *scrubBatch, day pipeline.Grid, frame *align.Frame, w *logWriter) error {
	// Timed per batch (a clock read per line costs more than some lines'
	// work), handing rows to the writer included.
	t0 := time.Now()
	defer e.clock.since(stageLogs2Settle, t0)
	defer sb.end()
	for i := range sb.recs {
		rec := &sb.recs[i]
		row := e.anonymizeLog(rec, sb.b.Settle(&sb.msgs[sb.msgFrom[i]]), sb.b.Settle(&sb.files[sb.fileFrom[i]]))
		k := e.templates.matched(rec, sb.clusters[i])
		row.TemplateID = e.templates.tpls[k].id
		e.alignLog(rec, k, day, frame)
		if err := w.add(row); err != nil {
			return err
		}
	}
	e.logStats["lines"] += int64(len(sb.recs))
	return nil
}

// scrubBatchLines is how many lines are scrubbed ahead at once. It is
// fixed, never derived from the number of cores; the bytes are the same
// for any size (which lines settle ahead or again is not).
const scrubBatchLines = 1024

func (e *export) logWorkers() int {
	if n := e.o.LogWorkers; n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// scrubAhead scrubs the batch's messages and files ahead (each text once)
// and finds each
// line's template cluster (the day's miners are final by now), workers
// goroutines over contiguous parts of it.
func (e *export) scrubAhead(sb *scrubBatch, workers int) {
	inParts(len(sb.recs), workers, func(lo, hi int) {
		var sc logtemplates.MatchScratch
		var fc fileCursor
		for i := lo; i < hi; i++ {
			if int(sb.msgFrom[i]) == i {
				e.anon.ScrubAhead("logs.message", sb.recs[i].Message, &sb.msgs[i])
			}
			if int(sb.fileFrom[i]) == i {
				e.anon.ScrubAhead("logs.file", sb.recs[i].File, &sb.files[i])
			}
			sb.clusters[i] = e.templates.clusterOf(&sc, &fc, &sb.recs[i])
		}
	})
}

// inParts calls part over contiguous parts of [0, n), on up to workers
// goroutines, and returns when every part is done. The parts are small
// and taken in turn, so a worker whose lines were cheap takes more of them
// rather than waiting for the others.
func inParts(n, workers int, part func(lo, hi int)) {
	if workers <= 1 || n < 2*workers {
		part(0, n)
		return
	}
	size := max(16, n/(8*workers))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(size))) - size
				if lo >= n {
					return
				}
				part(lo, min(lo+size, n))
			}
		}()
	}
	wg.Wait()
}

// anonymizeLog is the anonymize stage: the row as published, every string
// from the policy (the fields were learned in pass 1); message and file
// come settled from their batch.
func (e *export) anonymizeLog(rec *pipeline.LogRecord, message, file string) schemas.Log {
	return schemas.Log{
		Timestamp: rec.Time,
		Entity:    e.entity(rec.Entity),
		Level:     rec.Level,
		Message:   message,
		Source:    rec.Source,
		File:      file,
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
// created with the first row (a day without logs has no file), encoded
// and compressed on a goroutine of its own while the next rows are made.
type logWriter struct {
	staging, rel string
	clock        *stageClock
	batch        []schemas.Log
	rows         chan []schemas.Log // to the writing goroutine
	free         chan []schemas.Log // batches it is done with
	done         chan error
	f            *write.File[schemas.Log]
	failed       error
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

// flush hands the batch to the writing goroutine (started with the first
// batch) and takes a free one back.
func (w *logWriter) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	if w.rows == nil {
		f, err := write.Create[schemas.Log](w.staging, w.rel, "ts")
		if err != nil {
			return err
		}
		w.f = f
		w.rows, w.free, w.done = make(chan []schemas.Log), make(chan []schemas.Log, 2), make(chan error, 1)
		w.free <- make([]schemas.Log, 0, logWriteBatch)
		go w.loop()
	}
	select {
	case w.rows <- w.batch:
	case err := <-w.done:
		w.failed = err
		return err
	}
	select {
	case b := <-w.free:
		w.batch = b[:0]
	case err := <-w.done:
		w.failed = err
		return err
	}
	return nil
}

func (w *logWriter) loop() {
	var err error
	for b := range w.rows {
		if err == nil {
			t0 := time.Now()
			err = w.f.Write(b)
			w.clock.since(stageLogs2Write, t0)
			if err != nil {
				w.done <- err
				for range w.rows {
				}
				return
			}
		}
		clear(b) // the rows' strings are not kept alive by a free batch
		w.free <- b
	}
	w.done <- nil
}

// stop ends the writing goroutine and returns its error.
func (w *logWriter) stop() error {
	if w.rows == nil {
		return nil
	}
	close(w.rows)
	w.rows = nil
	if w.failed != nil {
		return w.failed
	}
	return <-w.done
}

// close flushes and finishes the file; it returns the rows written.
func (w *logWriter) close() (int64, error) {
	if err := w.flush(); err != nil {
		w.abort()
		return 0, err
	}
	if err := w.stop(); err != nil {
		w.f.Abort()
		return 0, err
	}
	if w.f == nil {
		return 0, nil
	}
	t0 := time.Now()
	defer w.clock.since(stageLogs2Write, t0)
	return w.f.Rows(), w.f.Close()
}

func (w *logWriter) abort() {
	w.stop()
	if w.f != nil {
		w.f.Abort()
	}
}

// prefetch wraps a log iterator so a goroutine reads and parses ahead of
// the caller (the template-mining pass), in batches, in the same order.
type prefetch struct {
	it      pipeline.LogIterator
	batches chan []pipeline.LogRecord
	free    chan []pipeline.LogRecord // batches read, for the goroutine to fill again
	done    chan struct{}
	wg      sync.WaitGroup
	cur     []pipeline.LogRecord
	pos     int
	rec     pipeline.LogRecord
	errMu   sync.Mutex
	err     error
	stopped bool
}

// clock gets the time the goroutine is busy reading, as stage.
func newPrefetch(it pipeline.LogIterator, clock *stageClock, stage string) *prefetch {
	p := &prefetch{it: it, batches: make(chan []pipeline.LogRecord, 4), free: make(chan []pipeline.LogRecord, 6), done: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(p.batches)
		next := func() []pipeline.LogRecord {
			select {
			case b := <-p.free:
				return b[:0]
			default:
				return make([]pipeline.LogRecord, 0, logBatch)
			}
		}
		batch := next()
		flush := func() bool {
			select {
			case p.batches <- batch:
				batch = next()
				return true
			case <-p.done:
				return false
			}
		}
		t0 := time.Now()
		for it.Next() {
			batch = append(batch, it.At())
			if len(batch) == logBatch {
				clock.since(stage, t0)
				if !flush() {
					return
				}
				t0 = time.Now()
			}
		}
		clock.since(stage, t0)
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
		if p.cur != nil {
			// Records are handed out by value: the batch can be filled
			// again. Cleared first, so it keeps no line alive.
			clear(p.cur)
			select {
			case p.free <- p.cur:
			default:
			}
			p.cur, p.pos = nil, 0
		}
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
