package logfile

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// TestResumeFromMarks: a source that resumes from the marks an earlier run
// left reads only the lines after them and still counts every problem of
// the file once, as a source reading the file from its start counts them
// (the nightly export's checkpoint, decision 0038).
func TestResumeFromMarks(t *testing.T) {
	at := time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)
	day1 := `{"ts":"2026-01-05T10:00:00Z","service":"a","msg":"one"}
not json
{"ts":"2026-01-05T23:59:59Z","service":"a","msg":"two"}
`
	day2 := `{"ts":"2026-01-06T00:00:01Z","service":"a","msg":"three"}
{"ts":"2026-01-05T23:00:00Z","service":"a","msg":"out of order, read after the mark"}
also not json
`
	later := `{"ts":"2026-01-06T05:00:00Z","service":"a","msg":"four"}
{broken
{"ts":"2026-01-07T00:00:02Z","service":"a","msg":"five"}
`
	jsonl := Config{Name: "app", Format: "jsonl", Path: "*.jsonl*"}
	ml := Config{Name: "ml", Format: "text", Path: "*.log", Pattern: `^(?P<time>\S+) (?P<message>.*)$`, TimeLayout: time.RFC3339, Entity: "a",
		Multiline: Multiline{Start: `^\d{4}-`}}
	tests := []struct {
		name          string
		cfg           Config
		file          string
		gzip          bool
		first, second string
		skipped       bool // the second run starts at the mark
	}{
		{name: "appended plain file", cfg: jsonl, file: "a.jsonl", first: day1 + day2, second: day1 + day2 + later, skipped: true},
		{name: "file ends before the mark time", cfg: jsonl, file: "a.jsonl", first: day1, second: day1 + day2 + later, skipped: true},
		{name: "unchanged gzip file", cfg: jsonl, file: "a.jsonl.gz", gzip: true, first: day1 + day2, second: day1 + day2, skipped: true},
		{name: "changed gzip file is read whole", cfg: jsonl, file: "a.jsonl.gz", gzip: true, first: day1 + day2, second: day1 + day2 + later},
		{name: "truncated file is read whole", cfg: jsonl, file: "a.jsonl", first: day1 + day2 + later, second: day2},
		{name: "multiline entries", cfg: ml, file: "a.log",
			first:  "2026-01-05T10:00:00Z start\n  cont 1\n\n2026-01-05T23:00:00Z last of day\n  cont\n2026-01-06T00:10:00Z next day\n  cont\n",
			second: "2026-01-05T10:00:00Z start\n  cont 1\n\n2026-01-05T23:00:00Z last of day\n  cont\n2026-01-06T00:10:00Z next day\n  cont\n2026-01-06T03:00:00Z appended\n", skipped: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, []file{{name: tc.file, content: tc.first, gzip: tc.gzip}})
			cfg := tc.cfg
			cfg.Path = filepath.Join(dir, cfg.Path)
			first := &pipeline.Problems{}
			_, marks := readResumed(t, cfg, first, nil, at)
			if len(marks) != 1 {
				t.Fatalf("marks %v, want one file", marks)
			}
			if tc.second != tc.first {
				// A later modification time, as a writer appending would leave.
				writeAgain(t, dir, file{name: tc.file, content: tc.second, gzip: tc.gzip})
			}
			resumed := &pipeline.Problems{}
			got, _ := readResumed(t, cfg, resumed, marks, at.Add(24*time.Hour))
			whole := &pipeline.Problems{}
			all := readAll(t, cfg, whole)
			var want []string
			mark := marks[filepath.Join(dir, tc.file)]
			for _, r := range all {
				if !tc.skipped || r.Line > mark.Line {
					want = append(want, rec(r))
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("resumed read\n%q\nwant\n%q", got, want)
			}
			if tc.skipped && len(want) == len(all) {
				t.Errorf("nothing was skipped (mark %+v)", mark)
			}
			g, w := resumed.Report()[cfg.Name], whole.Report()[cfg.Name]
			if g.Count != w.Count || !maps.Equal(g.Reasons, w.Reasons) {
				t.Errorf("problems: resumed %d %v, read whole %d %v", g.Count, g.Reasons, w.Count, w.Reasons)
			}
		})
	}
}

func readResumed(t *testing.T, cfg Config, problems *pipeline.Problems, from map[string]pipeline.LogMark, at time.Time) ([]string, map[string]pipeline.LogMark) {
	t.Helper()
	src, err := newSource(cfg, problems)
	if err != nil {
		t.Fatal(err)
	}
	src.Resume(from, at)
	it, err := src.Open(context.Background(), pipeline.Grid{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for it.Next() {
		out = append(out, rec(it.At()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return out, src.Marks()
}

// writeAgain replaces a file's content and moves its modification time on.
func writeAgain(t *testing.T, dir string, f file) {
	t.Helper()
	tmp := writeFiles(t, []file{f})
	b, err := os.ReadFile(filepath.Join(tmp, f.name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, f.name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
}
