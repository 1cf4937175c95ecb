package runner

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/logtemplates"
)

// Pass 2's cluster through the lines' sequence numbers is the one matching
// each line again gives, for every line of every evaluation corpus, on
// several goroutines in any order; lines pass 1 did not number, or whose
// message changed, are not answered from the numbers.
func TestLineSeqsMatchLikeTokenizing(t *testing.T) {
	paths, err := filepath.Glob("../logtemplates/testdata/corpus/*/content.log")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpora: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			recs := corpusRecords(t, path)
			m, err := logtemplates.NewMiner(logtemplates.Config{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := newLineSeqs()
			s.reset()
			var tk logtemplates.Tokens
			for i := range recs {
				if i%7 == 3 { // pass 1 did not read it (another day's)
					continue
				}
				m.Tokenize(&tk, recs[i].Message)
				m.AddTokens(&tk, recs[i].Time)
				s.note(&recs[i], s.sign(recs[i].Source, tk.Masked(), recs[i].Message))
			}
			s.seal()
			if len(s.final) == 0 || len(s.final) >= len(recs) {
				t.Fatalf("%d sequences for %d lines", len(s.final), len(recs))
			}
			changed := recs[len(recs)/2]
			changed.Message += " (rotated)"
			recs = append(recs, changed)

			var wg sync.WaitGroup
			var numbered [4]int
			for g := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var sc logtemplates.MatchScratch
					var fc fileCursor
					for k := range recs {
						i := (k*(g+3) + g) % len(recs) // each goroutine its own order
						rec := &recs[i]
						want := m.MatchInto(&sc, rec.Message)
						id, ok := s.mined(&fc, rec)
						switch {
						case i%7 == 3 || i == len(recs)-1:
							if ok {
								t.Errorf("line %d: answered from the numbers, pass 1 did not read it as it is", rec.Line)
							}
							continue
						case !ok:
							t.Errorf("line %d: not numbered", rec.Line)
							continue
						}
						numbered[g]++
						if got := s.matched(id, func() *logtemplates.Cluster { return m.MatchInto(&sc, rec.Message) }); got != want {
							t.Errorf("line %d: cluster %p through its sequence, %p matching it", rec.Line, got, want)
						}
					}
				}()
			}
			wg.Wait()
			if numbered[0] == 0 {
				t.Fatal("no line answered from the numbers")
			}
		})
	}
}

// corpusRecords reads a corpus as the records of one file, a line each.
func corpusRecords(t *testing.T, path string) []pipeline.LogRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []pipeline.LogRecord
	sc := bufio.NewScanner(f)
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for n := int64(1); sc.Scan(); n++ {
		if sc.Text() == "" {
			continue // no record: a gap in the file's table
		}
		recs = append(recs, pipeline.LogRecord{Time: t0.Add(time.Duration(n) * time.Second), Message: sc.Text(), Source: "app", File: "content.log", Path: path, Line: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// A file's table takes lines in order only, bounded gaps after its last
// line; another file, or the sequence cap, leaves lines unnumbered.
func TestLineSeqsTable(t *testing.T) {
	s := newLineSeqs()
	rec := func(file string, line int64, msg string) *pipeline.LogRecord {
		return &pipeline.LogRecord{Source: "app", Path: "/var/log/" + file, File: file, Line: line, Message: msg}
	}
	note := func(r *pipeline.LogRecord) { s.note(r, s.sign(r.Source, []string{r.Message}, r.Message)) }
	note(rec("a.log", 10, "x"))
	note(rec("a.log", 12, "y"))
	note(rec("b.log", 1, "x"))
	note(rec("a.log", 11, "late")) // before a's last line: not kept
	note(rec("a.log", 12+maxLineGap+2, "far"))
	s.seal()
	var fc fileCursor
	for _, c := range []struct {
		r    *pipeline.LogRecord
		want int64 // sequence number, -1: none
	}{
		{rec("a.log", 10, "x"), 0},
		{rec("b.log", 1, "x"), 0},
		{rec("a.log", 12, "y"), 1},
		{rec("a.log", 11, "late"), -1},
		{rec("a.log", 9, "x"), -1},
		{rec("a.log", 12+maxLineGap+2, "far"), -1},
		{rec("a.log", 12, "y2"), -1},
		{rec("c.log", 1, "x"), -1},
	} {
		id, ok := s.mined(&fc, c.r)
		if got := map[bool]int64{true: int64(id), false: -1}[ok]; got != c.want {
			t.Errorf("%s:%d %q: %d, want %d", c.r.File, c.r.Line, c.r.Message, got, c.want)
		}
	}

	s.reset()
	for i := range maxLineSeqs + 3 {
		note(rec("a.log", int64(i+1), fmt.Sprint(i)))
	}
	s.seal()
	fc = fileCursor{} // a cursor is for one day
	if _, ok := s.mined(&fc, rec("a.log", maxLineSeqs+2, fmt.Sprint(maxLineSeqs+1))); ok {
		t.Error("a line past the cap on sequences was numbered")
	}
	if id, ok := s.mined(&fc, rec("a.log", maxLineSeqs, fmt.Sprint(maxLineSeqs-1))); !ok || id != maxLineSeqs-1 {
		t.Errorf("the last line under the cap: %d, %v", id, ok)
	}
}

// A file's table holds every line it is given, across its small first
// chunk's growth and the chunk boundaries, and a short file costs little.
func TestFileSeqsChunks(t *testing.T) {
	var short fileSeqs
	for i := range 100 {
		short.push(uint64(i))
	}
	if c := cap(short.chunks[0]); c > firstSeqChunk {
		t.Errorf("a 100-line file holds room for %d lines", c)
	}
	var f fileSeqs
	const n = 2*seqChunk + 123
	for i := range n {
		f.push(uint64(i) * 7)
	}
	if f.n != n || len(f.chunks) != 3 {
		t.Fatalf("%d lines in %d chunks, want %d in 3", f.n, len(f.chunks), n)
	}
	for i := int64(0); i < n; i++ {
		if got := f.at(i); got != uint64(i)*7 {
			t.Fatalf("line %d: %d, want %d", i, got, uint64(i)*7)
		}
	}
}
