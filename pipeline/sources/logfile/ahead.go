package logfile

import (
	"runtime"
	"sync"

	"github.com/opsdata/opsdata/pipeline"
)

// Parsing ahead: a file's lines are read in order, a block at a time, and
// the block's lines are parsed on several cores at once. Records and
// problems are then handed out in line order exactly as one line after the
// other would, so nothing downstream can tell (the same records, marks and
// problems, in the same order). A JSON line's parse is most of what reading
// it costs, and one reader on one core bounded how fast the logs path ran.

// forkable is a lineParser whose lines parse independently of each other:
// fork returns another parser (its own scratch) for a worker. Parsers with
// state across lines (syslog's and klog's year inference) are not.
type forkable interface {
	lineParser
	fork() lineParser
}

// A block holds up to aheadLines records. The files of a source are all
// open at once (their lines are merged by time), so a source's blocks hold
// at most aheadBudget lines together, and a file whose share would be
// under aheadMinLines (a source of hundreds of pod logs) is read line by
// line. The output depends on none of these, only how often workers meet.
const (
	aheadLines    = 512
	aheadBudget   = 8192
	aheadMinLines = 32
)

// aheadBlock is the block size of each of a source's files files (0: none).
func aheadBlock(files int) int {
	n := min(aheadLines, aheadBudget/max(files, 1))
	if n < aheadMinLines {
		return 0
	}
	return n
}

// aheadSlot is one event of the file in line order: a record's line to
// parse, or a problem found while reading (a line too long, bad bytes).
type aheadSlot struct {
	line, start int64
	text        string // a record's line; empty for a read problem
	isRecord    bool
	prob        problem // a read problem, or the parse's when !ok
	ok          bool
	rec         pipeline.LogRecord
}

type parseAhead struct {
	parsers []lineParser // one per worker
	lines   int          // records per block
	slots   []aheadSlot
	pos     int
	filling bool  // read problems go into slots, not to the report
	eof     bool  // no more lines after slots
	err     error // the read error that ended the file, after slots
}

// newParseAhead returns nil when lines are not parsed ahead: a parser with
// state across lines, multi-line entries (a continuation is known only
// after its start line parsed), a single core, or too many files.
// workers <= 0 means one per core; lines is the block's (aheadBlock).
func newParseAhead(p lineParser, multiline bool, workers, lines int) *parseAhead {
	f, ok := p.(forkable)
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if !ok || multiline || workers < 2 || lines <= 0 {
		return nil
	}
	a := &parseAhead{parsers: []lineParser{p}, lines: lines}
	for len(a.parsers) < workers {
		a.parsers = append(a.parsers, f.fork())
	}
	return a
}

// fill reads the next block of r's lines and parses its records.
func (r *fileReader) fill() {
	a := r.ahead
	clear(a.slots) // keep no line of the last block alive
	a.slots, a.pos = a.slots[:0], 0
	a.filling = true
	records := 0
	for records < a.lines {
		t, blank, ok, err := r.nextText()
		if err != nil || !ok {
			a.eof, a.err = true, err
			break
		}
		if blank {
			continue
		}
		a.slots = append(a.slots, aheadSlot{line: r.line, start: r.lineStart, text: t, isRecord: true})
		records++
	}
	a.filling = false
	a.parse()
}

// parse parses the block's records on the workers, each a contiguous part.
func (a *parseAhead) parse() {
	n := len(a.slots)
	part := func(w, lo, hi int) {
		p := a.parsers[w]
		for i := lo; i < hi; i++ {
			s := &a.slots[i]
			if s.isRecord {
				s.prob, s.ok = p.parse(s.text, &s.rec)
			}
		}
	}
	workers := min(len(a.parsers), max(1, n/32))
	if workers == 1 {
		part(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part(w, w*n/workers, (w+1)*n/workers)
		}()
	}
	part(0, 0, n/workers)
	wg.Wait()
}

// nextAhead hands out the next well-formed record of the block (filling
// the next block when it is used up) into r.rec, reporting the problems
// before it in line order. It returns false at the end of the file.
func (r *fileReader) nextAhead() (line, start int64, ok bool, err error) {
	a := r.ahead
	for {
		if a.pos == len(a.slots) {
			if a.eof {
				return 0, 0, false, a.err
			}
			r.fill()
			continue
		}
		s := &a.slots[a.pos]
		a.pos++
		if !s.isRecord || !s.ok {
			r.problemAt(s.line, s.prob.reason, s.prob.detail)
			continue
		}
		r.rec, s.rec = s.rec, pipeline.LogRecord{}
		return s.line, s.start, true, nil
	}
}

// Formats whose lines parse on their own (ahead.go's forkable).

func (p *jsonParser) fork() lineParser {
	c := *p
	c.slab = pipeline.FieldSlab{} // each worker's records from its own blocks
	return &c
}

// logfmt and text parsers keep nothing between lines: shared as they are.
func (p *logfmtParser) fork() lineParser { return p }
func (p *textParser) fork() lineParser   { return p }

func (p *logpaiParser) fork() lineParser { return p.clone() }
