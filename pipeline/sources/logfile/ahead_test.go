package logfile

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// aheadCorpus is n lines of a format with the problems real files have,
// spread at random: malformed lines, blank lines, bad bytes, a line over
// the size limit, records out of order.
func aheadCorpus(format string, n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	for i := 0; i < n; i++ {
		ts := t0.Add(time.Duration(i) * time.Second)
		if rng.IntN(40) == 0 {
			ts = ts.Add(-time.Hour) // out of order
		}
		msg := fmt.Sprintf("request %d from 10.0.%d.%d took %dms", i, rng.IntN(256), rng.IntN(256), rng.IntN(900))
		switch r := rng.IntN(100); {
		case r < 3:
			b.WriteString("{not json at all\n")
			continue
		case r < 5:
			b.WriteString("   \n")
			continue
		case r < 7:
			msg += " caf\xe9" // invalid UTF-8, repaired
		case r < 8:
			b.WriteString(`{"msg":"no time here","service":"api"}` + "\n")
			continue
		}
		if i == n/2 && n >= 1000 { // one per big file: a megabyte each
			msg += strings.Repeat("x", MaxLineBytes) // too long
		}
		switch format {
		case FormatJSONL:
			fmt.Fprintf(&b, `{"ts":%q,"level":"info","service":"svc-%d","msg":%q,"host":"node-%d","user":"u%d"}`+"\n",
				ts.Format(time.RFC3339Nano), i%7, msg, rng.IntN(50), rng.IntN(9))
		case FormatLogfmt:
			fmt.Fprintf(&b, "ts=%s level=warn service=svc-%d host=node-%d msg=%q\n", ts.Format(time.RFC3339Nano), i%7, rng.IntN(50), msg)
		case FormatText:
			fmt.Fprintf(&b, "%s INFO [svc-%c] %s\n", ts.Format("2006-01-02 15:04:05.000"), 'a'+rune(i%5), msg)
		}
	}
	return b.String()
}

type aheadRun struct {
	recs     []pipeline.LogRecord
	problems map[string]any
	marks    map[string]pipeline.LogMark
	err      string
}

func readWithWorkers(t *testing.T, cfg Config, workers int, resumeAt time.Time) aheadRun {
	t.Helper()
	problems := &pipeline.Problems{}
	src, err := newSource(cfg, problems)
	if err != nil {
		t.Fatal(err)
	}
	src.parseWorkers = workers
	if !resumeAt.IsZero() {
		src.Resume(nil, resumeAt)
	}
	it, err := src.Open(context.Background(), pipeline.Grid{})
	if err != nil {
		t.Fatal(err)
	}
	var run aheadRun
	for it.Next() {
		run.recs = append(run.recs, it.At())
	}
	if err := it.Err(); err != nil {
		run.err = err.Error()
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	run.problems = map[string]any{}
	for k, v := range problems.Report() {
		run.problems[k] = v
	}
	run.marks = src.Marks()
	return run
}

// Parsing ahead on several workers hands out the same records, problems
// (same examples, same order) and resume marks as parsing one line after
// the other, for every format that parses ahead, across many blocks.
func TestParseAheadLikeOneByOne(t *testing.T) {
	cases := []struct {
		name, format, pattern, layout string
		files                         []file
	}{
		{name: "jsonl", format: FormatJSONL, files: []file{{name: "a.jsonl", content: aheadCorpus(FormatJSONL, 3000, 1)}}},
		{name: "jsonl two files and gzip", format: FormatJSONL, files: []file{
			{name: "a.jsonl", content: aheadCorpus(FormatJSONL, 1500, 2)},
			{name: "b.jsonl.gz", content: aheadCorpus(FormatJSONL, 1700, 3), gzip: true},
		}},
		{name: "jsonl shorter than a block", format: FormatJSONL, files: []file{{name: "a.jsonl", content: aheadCorpus(FormatJSONL, 40, 4)}}},
		{name: "jsonl no final newline", format: FormatJSONL, files: []file{{name: "a.jsonl", content: strings.TrimSuffix(aheadCorpus(FormatJSONL, 1100, 5), "\n")}}},
		{name: "logfmt", format: FormatLogfmt, files: []file{{name: "a.log", content: aheadCorpus(FormatLogfmt, 2500, 6)}}},
		{name: "text", format: FormatText, pattern: demoPattern, layout: "2006-01-02 15:04:05.000", files: []file{{name: "a.log", content: aheadCorpus(FormatText, 2500, 7)}}},
	}
	var many []file // blocks of 81 lines (aheadBlock)
	for i := 0; i < 100; i++ {
		many = append(many, file{name: fmt.Sprintf("pod-%03d.jsonl", i), content: aheadCorpus(FormatJSONL, 120, uint64(100+i))})
	}
	cases = append(cases, struct {
		name, format, pattern, layout string
		files                         []file
	}{name: "jsonl 100 files", format: FormatJSONL, files: many})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			cfg := Config{Name: "app", Format: c.format, Path: filepath.Join(dir, "*"), Pattern: c.pattern, TimeLayout: c.layout, Timezone: "UTC"}
			for _, resumeAt := range []time.Time{{}, time.Date(2026, 1, 5, 0, 10, 0, 0, time.UTC)} {
				want := readWithWorkers(t, cfg, 1, resumeAt)
				if len(want.recs) == 0 || len(want.problems) == 0 {
					t.Fatalf("the corpus gave %d records and %d problem kinds: not a test", len(want.recs), len(want.problems))
				}
				for _, workers := range []int{2, 3} {
					got := readWithWorkers(t, cfg, workers, resumeAt)
					if len(got.recs) != len(want.recs) {
						t.Fatalf("workers=%d: %d records, one by one %d", workers, len(got.recs), len(want.recs))
					}
					for i := range want.recs {
						if !reflect.DeepEqual(got.recs[i], want.recs[i]) {
							t.Fatalf("workers=%d: record %d\n got %s %v\nwant %s %v", workers, i, rec(got.recs[i]), got.recs[i].Fields, rec(want.recs[i]), want.recs[i].Fields)
						}
					}
					if !reflect.DeepEqual(got.problems, want.problems) {
						t.Errorf("workers=%d: problems\n got %v\nwant %v", workers, got.problems, want.problems)
					}
					if !reflect.DeepEqual(got.marks, want.marks) {
						t.Errorf("workers=%d: marks\n got %v\nwant %v", workers, got.marks, want.marks)
					}
					if got.err != want.err {
						t.Errorf("workers=%d: error %q, one by one %q", workers, got.err, want.err)
					}
				}
			}
		})
	}
}

// Formats with state across lines and multi-line entries are parsed one
// line after the other.
func TestParseAheadOnlyWhereLinesStandAlone(t *testing.T) {
	for _, c := range []struct {
		name      string
		p         lineParser
		multiline bool
		ahead     bool
	}{
		{"jsonl", &jsonParser{}, false, true},
		{"jsonl multiline", &jsonParser{}, true, false},
		{"logfmt", &logfmtParser{}, false, true},
		{"syslog", &syslogParser{}, false, false},
		{"klog", &klogParser{}, false, false},
	} {
		if got := newParseAhead(c.p, c.multiline, 2, aheadLines) != nil; got != c.ahead {
			t.Errorf("%s: parsed ahead = %v, want %v", c.name, got, c.ahead)
		}
		if newParseAhead(c.p, c.multiline, 1, aheadLines) != nil {
			t.Errorf("%s: parsed ahead on one worker", c.name)
		}
	}
	// The blocks of a source's files together stay within the budget.
	for _, c := range []struct{ files, block int }{
		{1, aheadLines}, {16, aheadLines}, {64, 128}, {256, 32}, {257, 0}, {10000, 0},
	} {
		if got := aheadBlock(c.files); got != c.block {
			t.Errorf("aheadBlock(%d) = %d, want %d", c.files, got, c.block)
		}
	}
}
