package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/pipeline/logtemplates"
)

const templatesSample = "testdata/templates-sample.log"

// TestTemplatesCommand runs `opsdata templates` on a small sample in the
// raw and text formats, from a file and from stdin, and checks both CSVs.
func TestTemplatesCommand(t *testing.T) {
	defer goleak.VerifyNone(t)
	const (
		order = "order <*> placed by user <*>"
		dial  = "dial tcp <*>: connection refused"
		slow  = "slow request took <*>"
	)
	pattern := `^(?P<time>\S+ \S+) (?P<level>[A-Z]+) \[(?P<entity>[a-z]+)\] (?P<message>.*)$`
	tests := []struct {
		name      string
		args      []string
		stdin     bool
		lines     [][2]string       // line number, template
		first     map[string]string // template -> the first text it had (its id), if not itself
		table     [][3]string       // template, count, first_line
		stderrHas string
	}{
		{
			name:  "text format from a file",
			args:  []string{"--format", "text", "--pattern", pattern, "--time-layout", "2006-01-02 15:04:05.000"},
			lines: [][2]string{{"1", order}, {"2", order}, {"4", dial}, {"6", order}, {"7", dial}, {"8", slow}},
			table: [][3]string{{order, "3", "1"}, {dial, "2", "4"}, {slow, "1", "8"}},
			// Line 5 has no timestamp: counted, not mined.
			stderrHas: "1 malformed lines skipped",
		},
		{
			name:  "text format from stdin",
			args:  []string{"--format", "text", "--pattern", pattern, "--time-layout", "2006-01-02 15:04:05.000"},
			stdin: true,
			lines: [][2]string{{"1", order}, {"2", order}, {"4", dial}, {"6", order}, {"7", dial}, {"8", slow}},
			table: [][3]string{{order, "3", "1"}, {dial, "2", "4"}, {slow, "1", "8"}},
		},
		{
			name: "raw format: the whole line is the message",
			args: []string{"--format", "raw", "--mask", "number", "--mask", "ip", "--similarity", "0.5"},
			lines: [][2]string{
				{"1", "2026-01-05 <*> INFO [checkout] order <*> placed by user <*>"},
				{"2", "2026-01-05 <*> INFO [checkout] order <*> placed by user <*>"},
				{"4", "2026-01-05 <*> ERROR [cart] dial tcp <*>: connection refused"},
				{"5", "this line has no timestamp"},
				{"6", "2026-01-05 <*> INFO [checkout] order <*> placed by user <*>"},
				{"7", "2026-01-05 <*> ERROR [cart] dial tcp <*>: connection refused"},
				// Only the number and ip masks: the duration 350ms stays.
				{"8", "2026-01-05 10:00:05.000 WARN [cart] slow request took 350ms"},
			},
			// Ids are those of the first text: a template keeps its id as it generalizes.
			first: map[string]string{
				"2026-01-05 <*> INFO [checkout] order <*> placed by user <*>":  "2026-01-05 10:00:00.000 INFO [checkout] order <*> placed by user <*>",
				"2026-01-05 <*> ERROR [cart] dial tcp <*>: connection refused": "2026-01-05 10:00:02.000 ERROR [cart] dial tcp <*>: connection refused",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tplPath := filepath.Join(dir, "templates.csv")
			outPath := filepath.Join(dir, "lines.csv")
			input := templatesSample
			var stdin bytes.Buffer
			if tc.stdin {
				data, err := os.ReadFile(templatesSample)
				if err != nil {
					t.Fatal(err)
				}
				stdin.Write(data)
				input = "-"
			}
			app := newApp()
			var stdout, stderr bytes.Buffer
			app.Writer, app.ErrWriter = &stdout, &stderr
			args := append([]string{"opsdata", "templates", "--out", outPath, "--templates", tplPath}, tc.args...)
			args = append(args, input)
			// stdin is read by runTemplates from os.Stdin via the command;
			// for the stdin case call it through a pipe.
			var err error
			if tc.stdin {
				err = withStdin(t, stdin.Bytes(), func() error { return app.RunContext(context.Background(), args) })
			} else {
				err = app.RunContext(context.Background(), args)
			}
			if err != nil {
				t.Fatalf("templates: %v (stderr %s)", err, stderr.String())
			}
			if tc.stderrHas != "" && !strings.Contains(stderr.String(), tc.stderrHas) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.stderrHas)
			}
			got := readCSV(t, outPath)
			want := [][]string{{"line_number", "template_id", "template"}}
			id := func(tpl string) string {
				if f, ok := tc.first[tpl]; ok {
					return logtemplates.ID(f)
				}
				return logtemplates.ID(tpl)
			}
			for _, l := range tc.lines {
				want = append(want, []string{l[0], id(l[1]), l[1]})
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("lines CSV:\n%v\nwant:\n%v", got, want)
			}
			if tc.table != nil {
				got := readCSV(t, tplPath)
				want := [][]string{{"template_id", "template", "count", "first_line"}}
				for _, r := range tc.table {
					want = append(want, []string{id(r[0]), r[0], r[1], r[2]})
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("templates CSV:\n%v\nwant:\n%v", got, want)
				}
			}
		})
	}
}

// TestTemplatesCommandErrors checks that bad flags fail with a useful
// message rather than a panic.
func TestTemplatesCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"templates"}, "name one log file"},
		{[]string{"templates", "--similarity", "2", templatesSample}, "similarity"},
		{[]string{"templates", "--mask", "bogus", templatesSample}, "bogus"},
		{[]string{"templates", "--format", "text", templatesSample}, "pattern"},
		{[]string{"templates", "missing.log"}, "missing.log"},
	}
	for _, tc := range tests {
		app := newApp()
		var out bytes.Buffer
		app.Writer, app.ErrWriter = &out, &out
		err := app.RunContext(context.Background(), append([]string{"opsdata"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// withStdin runs fn with os.Stdin reading data.
func withStdin(t *testing.T, data []byte, fn func() error) error {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	return fn()
}

// A UTF-8 byte-order mark before the first line is not part of its
// message: the first line's template is the one the same line has later.
func TestTemplatesByteOrderMark(t *testing.T) {
	dir := t.TempDir()
	input, outPath := filepath.Join(dir, "in.log"), filepath.Join(dir, "lines.csv")
	if err := os.WriteFile(input, []byte("\uFEFFworker started\nworker started\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	app := newApp()
	var stdout, stderr bytes.Buffer
	app.Writer, app.ErrWriter = &stdout, &stderr
	if err := app.RunContext(context.Background(), []string{"opsdata", "templates", "--format", "raw", "--out", outPath, input}); err != nil {
		t.Fatalf("templates: %v (stderr %s)", err, stderr.String())
	}
	got := readCSV(t, outPath)
	if len(got) != 3 || got[1][2] != "worker started" || got[2][2] != "worker started" {
		t.Errorf("lines CSV %q, want both lines with template %q", got, "worker started")
	}
}
