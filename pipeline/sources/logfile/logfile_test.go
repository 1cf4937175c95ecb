package logfile

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/internal/benchutil"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/schemas"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const demoPattern = `^(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) (?P<level>[A-Z]+) \[(?P<entity>[a-z-]+)\] (?P<message>.*)$`

// file is one input file of a test case.
type file struct {
	name    string
	content string
	gzip    bool
	codec   string // "zstd" or "xz": compressed so, as logrotate's compresscmd leaves files
}

// rec is the part of a LogRecord a test compares, in one line.
func rec(r pipeline.LogRecord) string {
	return fmt.Sprintf("%s %s %s %s:%d %q", r.Time.Format(time.RFC3339Nano), r.Entity, r.Level, r.File, r.Line, r.Message)
}

func writeFiles(t testing.TB, files []file) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		data := []byte(f.content)
		if f.gzip {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			if _, err := zw.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			data = b.Bytes()
		}
		if f.codec != "" {
			data = compressFor(t, f.codec, data)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func compressFor(t testing.TB, codec string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	switch codec {
	case "zstd":
		w, err = zstd.NewWriter(&b)
	case "xz":
		w, err = xz.NewWriter(&b)
	default:
		t.Fatalf("no writer for %q", codec)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// expectRecords reads cfg's source and compares its records with want and
// its problem counts with reasons (nil: no problem at all); it returns the
// problems' examples, compared apart.
func expectRecords(t *testing.T, cfg Config, want []string, reasons map[string]int64) []string {
	t.Helper()
	var problems pipeline.Problems
	var got []string
	for _, r := range readAll(t, cfg, &problems) {
		got = append(got, rec(r))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records:\n got %q\nwant %q", got, want)
	}
	rep := problems.Report()
	wantRep := map[string]schemas.InputProblems{}
	if reasons != nil {
		var n int64
		for _, c := range reasons {
			n += c
		}
		wantRep["log:"+cfg.Name] = schemas.InputProblems{Count: n, Reasons: reasons}
	}
	var examples []string
	for k, v := range rep {
		examples = append(examples, v.Examples...)
		v.Examples = nil
		rep[k] = v
	}
	if !reflect.DeepEqual(rep, wantRep) {
		t.Errorf("problems:\n got %+v\nwant %+v", rep, wantRep)
	}
	return examples
}

func readAll(t *testing.T, cfg Config, problems *pipeline.Problems) []pipeline.LogRecord {
	t.Helper()
	src, err := New(cfg, problems)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if src.Name() != cfg.Name {
		t.Errorf("Name() = %q, want %q", src.Name(), cfg.Name)
	}
	it, err := src.Open(context.Background(), pipeline.Grid{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var out []pipeline.LogRecord
	for it.Next() {
		out = append(out, it.At())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return out
}

func TestRead(t *testing.T) {
	jsonl := Config{Name: "app", Format: "jsonl", Path: "*.jsonl*"}
	text := Config{Name: "legacy", Format: "text", Path: "*.log", Pattern: demoPattern,
		TimeLayout: "2006-01-02 15:04:05.000", Timezone: "Europe/Berlin"}
	with := func(c Config, f func(*Config)) Config { f(&c); return c }
	longLine := `{"ts":"2026-01-05T00:00:01Z","service":"a","msg":"` + strings.Repeat("x", MaxLineBytes) + `"}`

	tests := []struct {
		name    string
		cfg     Config
		files   []file
		want    []string
		reasons map[string]int64 // nil: no problems at all
	}{
		{
			name: "jsonl basic, UTC and offsets",
			cfg:  jsonl,
			files: []file{{name: "a.jsonl", content: `{"ts":"2026-01-05T00:00:03.120Z","level":"info","service":"checkout","msg":"hello"}
{"ts":"2026-01-05T02:00:04+01:00","level":"WARNING","service":"checkout","message":"offset"}

{"time":"2026-01-05T01:00:05Z","level":"fatal","service":"cart","msg":"x"}
{"timestamp":"2026-01-05T01:00:06Z","service":"cart","msg":"no level"}
`}},
			want: []string{
				`2026-01-05T00:00:03.12Z checkout info a.jsonl:1 "hello"`,
				`2026-01-05T01:00:04Z checkout warn a.jsonl:2 "offset"`,
				`2026-01-05T01:00:05Z cart error a.jsonl:4 "x"`,
				`2026-01-05T01:00:06Z cart other a.jsonl:5 "no level"`,
			},
		},
		{
			name:  "naive timestamp with timezone, both sides of DST",
			cfg:   with(jsonl, func(c *Config) { c.Timezone = "Europe/Berlin" }),
			files: []file{{name: "a.jsonl", content: "{\"ts\":\"2026-01-05 01:00:00.5\",\"service\":\"a\"}\n{\"ts\":\"2026-07-05T01:00:00\",\"service\":\"a\"}\n"}},
			want: []string{
				`2026-01-05T00:00:00.5Z a other a.jsonl:1 ""`,
				`2026-07-04T23:00:00Z a other a.jsonl:2 ""`,
			},
		},
		{
			name:    "naive timestamp without timezone is a problem",
			cfg:     jsonl,
			files:   []file{{name: "a.jsonl", content: "{\"ts\":\"2026-01-05 01:00:00\",\"service\":\"a\"}\n{\"ts\":\"2026-01-05T01:00:00Z\",\"service\":\"a\"}\n"}},
			want:    []string{`2026-01-05T01:00:00Z a other a.jsonl:2 ""`},
			reasons: map[string]int64{"naive_timestamp": 1},
		},
		{
			name: "bad timestamps",
			cfg:  jsonl,
			files: []file{{name: "a.jsonl", content: `{"ts":"yesterday","service":"a"}
{"ts":"2026-13-05T01:00:00Z","service":"a"}
{"ts":"","service":"a"}
{"ts":true,"service":"a"}
{"ts":"2026-01-05T01:00:00Z","service":"a"}
`}},
			want:    []string{`2026-01-05T01:00:00Z a other a.jsonl:5 ""`},
			reasons: map[string]int64{"bad_timestamp": 4},
		},
		{
			name: "broken JSON, missing time, missing entity",
			cfg:  jsonl,
			files: []file{{name: "a.jsonl", content: `{"ts":"2026-01-05T01:00:00Z","service":"a"
not json at all
[1,2]
{"ts":"2026-01-05T01:00:00Z","service":"a"} trailing
{"service":"a","msg":"no time"}
{"ts":null,"service":"a"}
{"ts":"2026-01-05T01:00:00Z","msg":"no entity"}
{"ts":"2026-01-05T01:00:00Z","service":"a","msg":"ok"}
`}},
			want:    []string{`2026-01-05T01:00:00Z a other a.jsonl:8 "ok"`},
			reasons: map[string]int64{"invalid_json": 4, "missing_timestamp": 2, "missing_entity": 1},
		},
		{
			name: "epoch seconds, millis, fractional seconds",
			cfg:  jsonl,
			files: []file{{name: "a.jsonl", content: `{"ts":1767571200,"service":"a"}
{"ts":1767571200123,"service":"a"}
{"ts":1767571200.25,"service":"a"}
{"ts":1767571200500001,"service":"a"}
`}},
			want: []string{
				`2026-01-05T00:00:00Z a other a.jsonl:1 ""`,
				`2026-01-05T00:00:00.123Z a other a.jsonl:2 ""`,
				`2026-01-05T00:00:00.25Z a other a.jsonl:3 ""`,
				`2026-01-05T00:00:00.500001Z a other a.jsonl:4 ""`,
			},
		},
		{
			name: "gzip by magic and by suffix",
			cfg:  jsonl,
			files: []file{
				{name: "a.jsonl", gzip: true, content: `{"ts":"2026-01-05T00:00:01Z","service":"a","msg":"gz magic"}` + "\n"},
				{name: "b.jsonl.gz", gzip: true, content: `{"ts":"2026-01-05T00:00:02Z","service":"b","msg":"gz suffix"}`},
			},
			want: []string{
				`2026-01-05T00:00:01Z a other a.jsonl:1 "gz magic"`,
				`2026-01-05T00:00:02Z b other b.jsonl.gz:1 "gz suffix"`,
			},
		},
		{
			name: "zstd and xz by magic and by suffix",
			cfg:  jsonl,
			files: []file{
				{name: "a.jsonl", codec: "zstd", content: `{"ts":"2026-01-05T00:00:01Z","service":"a","msg":"zstd magic"}` + "\n"},
				{name: "b.jsonl.zst", codec: "zstd", content: `{"ts":"2026-01-05T00:00:02Z","service":"b","msg":"zstd suffix"}`},
				{name: "c.jsonl.1.xz", codec: "xz", content: `{"ts":"2026-01-05T00:00:03Z","service":"c","msg":"xz"}` + "\n"},
			},
			want: []string{
				`2026-01-05T00:00:01Z a other a.jsonl:1 "zstd magic"`,
				`2026-01-05T00:00:02Z b other b.jsonl.zst:1 "zstd suffix"`,
				`2026-01-05T00:00:03Z c other c.jsonl.1.xz:1 "xz"`,
			},
		},
		{
			name:    "line over 1 MiB is skipped, numbering continues",
			cfg:     jsonl,
			files:   []file{{name: "a.jsonl", content: longLine + "\n" + `{"ts":"2026-01-05T00:00:02Z","service":"a","msg":"after"}` + "\r\n"}},
			want:    []string{`2026-01-05T00:00:02Z a other a.jsonl:2 "after"`},
			reasons: map[string]int64{"line_too_long": 1},
		},
		{
			name:    "line over 1 MiB at end of gzip file without newline",
			cfg:     jsonl,
			files:   []file{{name: "a.jsonl.gz", gzip: true, content: `{"ts":"2026-01-05T00:00:02Z","service":"a","msg":"before"}` + "\n" + longLine}},
			want:    []string{`2026-01-05T00:00:02Z a other a.jsonl.gz:1 "before"`},
			reasons: map[string]int64{"line_too_long": 1},
		},
		{
			name:    "invalid UTF-8 is repaired and emitted",
			cfg:     jsonl,
			files:   []file{{name: "a.jsonl", content: "{\"ts\":\"2026-01-05T00:00:02Z\",\"service\":\"a\",\"msg\":\"caf\xe9 \xff!\"}\n"}},
			want:    []string{"2026-01-05T00:00:02Z a other a.jsonl:1 \"caf\ufffd \ufffd!\""},
			reasons: map[string]int64{"invalid_utf8": 1},
		},
		{
			name: "multi-file merge, ties by file order then line",
			cfg:  jsonl,
			files: []file{
				{name: "b.jsonl", content: `{"ts":"2026-01-05T00:00:01Z","service":"b","msg":"b1"}
{"ts":"2026-01-05T00:00:03Z","service":"b","msg":"b2"}
{"ts":"2026-01-05T00:00:03Z","service":"b","msg":"b3"}
`},
				{name: "a.jsonl", content: `{"ts":"2026-01-05T00:00:02Z","service":"a","msg":"a1"}
{"ts":"2026-01-05T00:00:03Z","service":"a","msg":"a2"}
{"ts":"2026-01-05T00:00:05Z","service":"a","msg":"a3"}
`},
				{name: "c.jsonl", content: ""},
			},
			want: []string{
				`2026-01-05T00:00:01Z b other b.jsonl:1 "b1"`,
				`2026-01-05T00:00:02Z a other a.jsonl:1 "a1"`,
				`2026-01-05T00:00:03Z a other a.jsonl:2 "a2"`,
				`2026-01-05T00:00:03Z b other b.jsonl:2 "b2"`,
				`2026-01-05T00:00:03Z b other b.jsonl:3 "b3"`,
				`2026-01-05T00:00:05Z a other a.jsonl:3 "a3"`,
			},
		},
		{
			name: "out of order within a file is emitted and counted",
			cfg:  jsonl,
			files: []file{{name: "a.jsonl", content: `{"ts":"2026-01-05T00:00:05Z","service":"a","msg":"1"}
{"ts":"2026-01-05T00:00:01Z","service":"a","msg":"2"}
{"ts":"2026-01-05T00:00:06Z","service":"a","msg":"3"}
`}},
			want: []string{
				`2026-01-05T00:00:05Z a other a.jsonl:1 "1"`,
				`2026-01-05T00:00:01Z a other a.jsonl:2 "2"`,
				`2026-01-05T00:00:06Z a other a.jsonl:3 "3"`,
			},
			reasons: map[string]int64{"out_of_order": 1},
		},
		{
			name: "configured fields and fixed entity fallback",
			cfg: with(jsonl, func(c *Config) {
				c.Fields = LogFields{Time: "@t", Level: "sev", Message: "text", Entity: "app"}
				c.Entity = "fallback"
			}),
			files: []file{{name: "a.jsonl", content: `{"@t":"2026-01-05T00:00:01Z","sev":"E","app":"x","text":"m1","ts":"ignored"}
{"@t":"2026-01-05T00:00:02Z","sev":"D","text":"m2"}
`}},
			want: []string{
				`2026-01-05T00:00:01Z x error a.jsonl:1 "m1"`,
				`2026-01-05T00:00:02Z fallback debug a.jsonl:2 "m2"`,
			},
		},
		{
			name:    "time layout with zone",
			cfg:     with(jsonl, func(c *Config) { c.TimeLayout = "02/Jan/2006:15:04:05 -0700"; c.Entity = "web" }),
			files:   []file{{name: "a.jsonl", content: `{"ts":"05/Jan/2026:10:00:00 +0200"}` + "\n" + `{"ts":"2026-01-05T10:00:00Z"}` + "\n"}},
			want:    []string{`2026-01-05T08:00:00Z web other a.jsonl:1 ""`},
			reasons: map[string]int64{"bad_timestamp": 1},
		},
		{
			name:    "time layout without zone and no timezone",
			cfg:     with(text, func(c *Config) { c.Timezone = "" }),
			files:   []file{{name: "a.log", content: "2026-01-05 01:00:03.120 ERROR [cart] boom\n"}},
			reasons: map[string]int64{"naive_timestamp": 1},
		},
		{
			name: "text with Berlin time and DST",
			cfg:  text,
			files: []file{{name: "a.log", content: `2026-01-05 01:00:03.120 ERROR [cart] payment failed: card declined
2026-07-05 01:00:03.120 INFO [cart-api] summer
garbage line
2026-01-05 99:00:03.120 INFO [cart] bad hour
`}},
			want: []string{
				`2026-01-05T00:00:03.12Z cart error a.log:1 "payment failed: card declined"`,
				`2026-07-04T23:00:03.12Z cart-api info a.log:2 "summer"`,
			},
			reasons: map[string]int64{"no_match": 1, "bad_timestamp": 1},
		},
		{
			name: "text without entity group uses the fixed entity",
			cfg: with(text, func(c *Config) {
				c.Pattern = `^(?P<time>\S+ \S+) (?P<message>.*)$`
				c.Entity = "node-1"
			}),
			files: []file{{name: "a.log", content: "2026-01-05 01:00:03.120 hi\n"}},
			want:  []string{`2026-01-05T00:00:03.12Z node-1 other a.log:1 "hi"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			cfg := tc.cfg
			cfg.Path = filepath.Join(dir, cfg.Path)
			expectRecords(t, cfg, tc.want, tc.reasons)
		})
	}
}

func TestFields(t *testing.T) {
	dir := writeFiles(t, []file{{name: "a.jsonl", content: `{"ts":"2026-01-05T00:00:03.120Z","level":"info","service":"checkout","host":"worker-1.prod.acme.internal","pod":"checkout-5d8f7b9c4-x2k9p","user":"jd\"oe42","msg":"m","code":500,"ok":false,"nested":{"a":"b"},"list":["x"],"nil":null}
{"ts":"2026-01-05T00:00:04Z","service":"checkout"}
`}})
	recs := readAll(t, Config{Name: "app", Format: "jsonl", Path: filepath.Join(dir, "*")}, &pipeline.Problems{})
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2", len(recs))
	}
	want := []pipeline.LogField{ // in the line's order
		{Key: "host", Value: "worker-1.prod.acme.internal"},
		{Key: "pod", Value: "checkout-5d8f7b9c4-x2k9p"},
		{Key: "user", Value: `jd"oe42`},
		{Key: "code", Value: "500"},
		{Key: "ok", Value: "false"},
	}
	if !reflect.DeepEqual(recs[0].Fields, want) {
		t.Errorf("Fields = %v, want %v", recs[0].Fields, want)
	}
	if recs[0].Source != "app" || recs[0].File != "a.jsonl" || recs[0].Line != 1 || recs[0].Time.Location() != time.UTC {
		t.Errorf("record provenance = %q %q %d %v", recs[0].Source, recs[0].File, recs[0].Line, recs[0].Time.Location())
	}
	if recs[1].Fields != nil {
		t.Errorf("second record Fields = %v, want nil", recs[1].Fields)
	}
}

// fieldMap is a record's fields as a map, a repeated key's last value
// winning (as LogRecord.Field reads them); nil when there are none.
func fieldMap(fs []pipeline.LogField) map[string]string {
	if len(fs) == 0 {
		return nil
	}
	m := make(map[string]string, len(fs))
	for _, f := range fs {
		m[f.Key] = f.Value
	}
	return m
}

// TestSelectFields: a source told which fields are read parses no other,
// in every format that carries fields.
func TestSelectFields(t *testing.T) {
	cases := []struct {
		name, format, content string
		selected              []string
		want                  map[string]string
	}{
		{"jsonl", "jsonl", `{"ts":"2026-01-05T00:00:03Z","service":"checkout","host":"w1","user":"jdoe","code":500,"msg":"m"}` + "\n",
			[]string{"host", "code"}, map[string]string{"host": "w1", "code": "500"}},
		{"jsonl none", "jsonl", `{"ts":"2026-01-05T00:00:03Z","service":"checkout","host":"w1","msg":"m"}` + "\n",
			nil, nil},
		{"logfmt", "logfmt", `ts=2026-01-05T00:00:03Z service=checkout host=w1 user=jdoe msg=m` + "\n",
			[]string{"user"}, map[string]string{"user": "jdoe"}},
		{"syslog kept", "syslog", "<34>1 2026-01-05T00:00:03Z w1 app 1 - - m\n",
			[]string{"host"}, map[string]string{"host": "w1"}},
		{"syslog left out", "syslog", "<34>1 2026-01-05T00:00:03Z w1 app 1 - - m\n",
			[]string{"user"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, []file{{name: "a.log", content: c.content}})
			src, err := New(Config{Name: "app", Format: c.format, Path: filepath.Join(dir, "*")}, &pipeline.Problems{})
			if err != nil {
				t.Fatal(err)
			}
			src.(pipeline.FieldSelector).SelectFields(c.selected)
			it, err := src.Open(context.Background(), pipeline.Grid{})
			if err != nil {
				t.Fatal(err)
			}
			defer it.Close()
			if !it.Next() {
				t.Fatalf("no record: %v", it.Err())
			}
			if got := fieldMap(it.At().Fields); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Fields = %v, want %v", got, c.want)
			}
		})
	}
}

// Problem examples say where and why, never what the line contained.
func TestProblemExamplesCarryNoContent(t *testing.T) {
	const secret = "hunter2-SECRET"
	dir := writeFiles(t, []file{{name: "a.jsonl", content: `{"ts":"2026-01-05T00:00:01Z","password":"` + secret + `"` + "\n" +
		`{"ts":"yesterday","service":"a","password":"` + secret + `"}` + "\n" +
		`{"ts":"2026-01-05T00:00:01Z","service":"a","password":"` + secret + "\xff\"}\n" +
		`{"ts":"2026-01-05T00:00:01 ` + strings.Repeat("z", 100) + secret + `","service":"a"}` + "\n"}})
	var problems pipeline.Problems
	readAll(t, Config{Name: "app", Format: "jsonl", Path: filepath.Join(dir, "*")}, &problems)
	rep := problems.Report()["log:app"]
	if rep.Count != 4 {
		t.Fatalf("count = %d, want 4 (%v)", rep.Count, rep.Reasons)
	}
	wantPrefix := []string{"a.jsonl:1: invalid_json", "a.jsonl:2: bad_timestamp", "a.jsonl:3: invalid_utf8", "a.jsonl:4: bad_timestamp"}
	for i, ex := range rep.Examples {
		if strings.Contains(ex, "SECRET") {
			t.Errorf("example %q leaks line content", ex)
		}
		if !strings.HasPrefix(ex, wantPrefix[i]) {
			t.Errorf("example %d = %q, want prefix %q", i, ex, wantPrefix[i])
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := writeFiles(t, []file{{name: "bad.jsonl.gz", content: "not gzip"}})
	tests := []struct {
		name    string
		cfg     Config
		newErr  string // substring of New's error
		openErr string // substring of Open's error
		is      error
	}{
		{name: "no match", cfg: Config{Name: "app", Format: "jsonl", Path: filepath.Join(dir, "*.nope")},
			openErr: `log source "app": no log files match "` + filepath.Join(dir, "*.nope"), is: ErrNoFiles},
		{name: "bad glob", cfg: Config{Name: "app", Format: "jsonl", Path: "[x"}, newErr: "syntax error in pattern"},
		{name: "unknown format", cfg: Config{Name: "app", Format: "xml", Path: "*"}, newErr: `format "xml"`, is: ErrFormat},
		{name: "bad timezone", cfg: Config{Name: "app", Format: "jsonl", Path: "*", Timezone: "Mars/Olympus"}, newErr: "Mars/Olympus"},
		{name: "text without groups", cfg: Config{Name: "app", Format: "text", Path: "*", Pattern: "(.*)"}, newErr: "named groups"},
		{name: "corrupt gzip", cfg: Config{Name: "app", Format: "jsonl", Path: filepath.Join(dir, "*.gz")}, openErr: "not a readable gzip file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := New(tc.cfg, &pipeline.Problems{})
			if tc.newErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.newErr) {
					t.Fatalf("New error = %v, want containing %q", err, tc.newErr)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("New error %v is not %v", err, tc.is)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			it, err := src.Open(context.Background(), pipeline.Grid{})
			if err == nil {
				it.Close()
				t.Fatal("Open succeeded, want error")
			}
			if !strings.Contains(err.Error(), tc.openErr) {
				t.Errorf("Open error = %v, want containing %q", err, tc.openErr)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Open error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestContextCanceled(t *testing.T) {
	var b strings.Builder
	for i := range 3 * ctxCheckEvery {
		fmt.Fprintf(&b, `{"ts":%d,"service":"a"}`+"\n", 1767571200+i)
	}
	dir := writeFiles(t, []file{{name: "a.jsonl", content: b.String()}})
	src, err := New(Config{Name: "app", Format: "jsonl", Path: filepath.Join(dir, "*")}, &pipeline.Problems{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	it, err := src.Open(ctx, pipeline.Grid{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	cancel()
	n := 0
	for it.Next() {
		n++
	}
	if !errors.Is(it.Err(), context.Canceled) || n >= ctxCheckEvery {
		t.Errorf("after cancel: %d records, Err = %v; want < %d and context.Canceled", n, it.Err(), ctxCheckEvery)
	}
}

// BenchmarkFormats measures reading one plain file of 200k lines in each
// format: the same kind of access line (a host, a user, a path, a status,
// a duration) written as each format writes it.
func BenchmarkFormats(b *testing.B) {
	const lines = 200_000
	base := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	rfc := "2006-01-02T15:04:05.000Z07:00"
	jsonLine := func(i int, t time.Time) string {
		return fmt.Sprintf(`{"ts":"%s","level":"info","service":"checkout","host":"worker-%d.prod.acme.internal","user":"jdoe%d","msg":"GET /api/v1/cart/%d 200 in %dms"}`,
			t.Format(rfc), i%40, i%1000, i, i%250)
	}
	for _, c := range []struct {
		name string
		cfg  Config
		line func(i int, t time.Time) string
		gzip bool // the file is compressed, as rotated logs are
	}{
		{"jsonl", Config{Format: FormatJSONL}, jsonLine, false},
		{"jsonl-gzip", Config{Format: FormatJSONL}, jsonLine, true},
		{"jsonl-naive-time", Config{Format: FormatJSONL, Timezone: "Europe/Berlin"}, func(i int, t time.Time) string {
			return strings.Replace(jsonLine(i, t), t.Format(rfc), t.Format("2006-01-02 15:04:05.000"), 1)
		}, false},
		{"logfmt", Config{Format: FormatLogfmt}, func(i int, t time.Time) string {
			return fmt.Sprintf(`ts=%s level=info service=checkout host=worker-%d.prod.acme.internal user=jdoe%d msg="GET /api/v1/cart/%d 200 in %dms"`,
				t.Format(rfc), i%40, i%1000, i, i%250)
		}, false},
		{"text", Config{Format: FormatText, Pattern: `^(?P<time>\S+) (?P<level>[A-Z]+) \[(?P<entity>[^\]]+)\] (?P<message>.*)$`}, func(i int, t time.Time) string {
			return fmt.Sprintf(`%s INFO [checkout] worker-%d.prod.acme.internal user=jdoe%d GET /api/v1/cart/%d 200 in %dms`,
				t.Format(rfc), i%40, i%1000, i, i%250)
		}, false},
		{"syslog-5424", Config{Format: FormatSyslog}, func(i int, t time.Time) string {
			return fmt.Sprintf(`<166>1 %s worker-%d.prod.acme.internal checkout 1234 - - user=jdoe%d GET /api/v1/cart/%d 200 in %dms`,
				t.Format(rfc), i%40, i%1000, i, i%250)
		}, false},
		{"syslog-3164", Config{Format: FormatSyslog, Timezone: "UTC"}, func(i int, t time.Time) string {
			return fmt.Sprintf(`<166>%s worker-%d checkout[1234]: user=jdoe%d GET /api/v1/cart/%d 200 in %dms`,
				t.Format(time.Stamp), i%40, i%1000, i, i%250)
		}, false},
		{"klog", Config{Format: FormatKlog, Timezone: "UTC", Entity: "kubelet"}, func(i int, t time.Time) string {
			return fmt.Sprintf(`I%s    1234 kubelet.go:%d] "Pod status updated" pod="shop/checkout-%d" node="worker-%d"`,
				t.Format("0102 15:04:05.000000"), i%500, i%1000, i%40)
		}, false},
		{"cri-json", Config{Format: FormatCRI, Entity: "checkout"}, func(i int, t time.Time) string {
			// A JSON line in a pod log, one in 50 split by the runtime.
			line := t.Format(time.RFC3339Nano) + " stdout F " + jsonLine(i, t)
			if i%50 == 0 {
				j := jsonLine(i, t)
				line = t.Format(time.RFC3339Nano) + " stdout P " + j[:40] + "\n" + t.Format(time.RFC3339Nano) + " stdout F " + j[40:]
			}
			return line
		}, false},
		{"cri-text", Config{Format: FormatCRI, Entity: "checkout"}, func(i int, t time.Time) string {
			return fmt.Sprintf(`%s stderr F worker-%d.prod.acme.internal user=jdoe%d GET /api/v1/cart/%d 200 in %dms`,
				t.Format(time.RFC3339Nano), i%40, i%1000, i, i%250)
		}, false},
		{"logpai", Config{Format: FormatLogPAI, LogFormat: "<Date> <Time> <Level> <Component>: <Content>", TimeLayout: "2006-01-02 15:04:05.000",
			Timezone: "UTC", Fields: LogFields{Entity: "Component"}}, func(i int, t time.Time) string {
			return fmt.Sprintf(`%s INFO dfs.DataNode: Receiving block blk_%d src: /10.250.%d.%d:50010 dest: /10.250.%d.%d:50010`,
				t.Format("2006-01-02 15:04:05.000"), i*7919, i%256, i%200, i%7, i%250)
		}, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			for i := range lines {
				buf.WriteString(c.line(i, base.Add(time.Duration(i)*37*time.Millisecond)))
				buf.WriteByte('\n')
			}
			dir := writeFiles(b, []file{{name: "a.log", content: buf.String(), gzip: c.gzip}})
			cfg := c.cfg
			cfg.Name, cfg.Path = "app", filepath.Join(dir, "*.log")
			problems := &pipeline.Problems{}
			src, err := New(cfg, problems)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(buf.Len()))
			b.ResetTimer()
			readAllLoop(b, src, problems, lines)
			b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// FuzzJSONLine checks that no line, however broken, panics the parser and
// that a parsed record always has a UTC time and an entity.
func FuzzJSONLine(f *testing.F) {
	for _, s := range []string{
		`{"ts":"2026-01-05T00:00:03.120Z","level":"info","service":"checkout","msg":"m","n":1,"o":{"a":[1]}}`,
		`{"ts":1767571200123,"service":"a"}`, `{"ts":"2026-01-05 01:00:00","service":"a"}`,
		`{`, `[]`, `"x"`, `{"ts":1e400,"service":"a"}`, `{"ts":-9223372036854775808,"service":"a"}`,
	} {
		f.Add(s)
	}
	loc, _ := time.LoadLocation("Europe/Berlin")
	fc := fieldsConfig{time: defaultTimeKeys, level: defaultLevelKeys, message: defaultMessageKeys, entity: defaultEntityKeys}
	p := newJSONParser(fc, "", newTimeParser("", loc), nil)
	f.Fuzz(func(t *testing.T, line string) {
		line = strings.ToValidUTF8(line, "\uFFFD")
		var r pipeline.LogRecord
		if _, ok := p.parse(line, &r); ok {
			if r.Entity == "" || r.Time.Location() != time.UTC {
				t.Errorf("parsed %q into entity %q time %v", line, r.Entity, r.Time)
			}
		}
	})
}

// checkFlatScan: whenever the flat scan takes a line, the value tree takes
// it too and the record is the same.
func checkFlatScan(t *testing.T, p *jsonParser, line string) bool {
	t.Helper()
	flat, ok := p.scanFlat(line, nil)
	if !ok {
		return false
	}
	tree, prob, ok := treeFields(line, nil)
	if !ok {
		t.Fatalf("%q: the flat scan took a line the tree refuses (%s)", line, prob.detail)
	}
	var a, b pipeline.LogRecord
	pa, oka := p.fill(flat, &a)
	pb, okb := p.fill(tree, &b)
	if oka != okb || pa != pb || !reflect.DeepEqual(a, b) {
		t.Fatalf("%q: flat scan %v %+v %+v, tree %v %+v %+v", line, oka, pa, a, okb, pb, b)
	}
	return true
}

func flatTestParser() *jsonParser {
	fc := fieldsConfig{time: defaultTimeKeys, level: defaultLevelKeys, message: defaultMessageKeys, entity: defaultEntityKeys}
	return newJSONParser(fc, "", newTimeParser("", time.UTC), nil)
}

// TestFlatScanEqualsTree over random lines built from JSON's pieces:
// valid and broken, duplicate keys, nulls, nested objects and arrays,
// escapes, whitespace, trailing content.
func TestFlatScanEqualsTree(t *testing.T) {
	p := flatTestParser()
	pieces := []string{`{`, `}`, `[`, `]`, `,`, `:`, ` `, `"ts"`, `"time"`, `"level"`, `"msg"`, `"message"`, `"service"`, `"host"`,
		`"2026-01-05T00:00:03Z"`, `1767571200`, `-1.5e3`, `01`, `true`, `false`, `null`, `tru`, `"a\"b"`, `"\u00e9"`, `"\x"`,
		`"w1.prod"`, `{"a":[1,{"b":2}]}`, `"x"`, "\t", `"unterminated`}
	rng := rand.New(rand.NewPCG(4, 2))
	took := 0
	for i := 0; i < 200000; i++ {
		var b strings.Builder
		b.WriteString(`{"ts":"2026-01-05T00:00:03Z","service":"a"`)
		for n := rng.IntN(8); n > 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		if rng.IntN(2) == 0 {
			b.WriteString(`}`)
		}
		if checkFlatScan(t, p, b.String()) {
			took++
		}
	}
	if took < 1000 {
		t.Fatalf("the flat scan took only %d lines: the test shows little", took)
	}
}

func FuzzFlatScan(f *testing.F) {
	for _, s := range []string{
		`{"ts":"2026-01-05T00:00:03.120Z","level":"info","service":"checkout","msg":"m","n":1,"o":{"a":[1]}}`,
		`{"ts":1767571200123,"service":"a","ts":"x"}`, `{"ts":null,"time":"2026-01-05T01:00:00Z","service":"a"}`,
		`{"ts":"2026-01-05T00:00:03Z","service":"a","msg":{"x":1}}`, `{"ts":"2026-01-05T00:00:03Z","service":"a"} x`,
	} {
		f.Add(s)
	}
	p := flatTestParser()
	f.Fuzz(func(t *testing.T, line string) {
		checkFlatScan(t, p, strings.ToValidUTF8(line, "\uFFFD"))
	})
}

// TestJSONKeyOccurrences: a key's first occurrence is the one read (a
// null there means absent, and a later duplicate does not stand in),
// while every non-null occurrence of other fields reaches Fields, the
// last winning.
func TestJSONKeyOccurrences(t *testing.T) {
	p := flatTestParser()
	cases := []struct {
		line, entity, msg string
		fields            map[string]string
		ok                bool
	}{
		{`{"ts":"2026-01-05T00:00:03Z","service":"a","service":"b","msg":"m"}`, "a", "m", nil, true},
		{`{"ts":"2026-01-05T00:00:03Z","service":null,"service":"b","msg":"m"}`, "", "", nil, false},
		{`{"ts":"2026-01-05T00:00:03Z","entity":null,"service":"c","msg":"m"}`, "c", "m", map[string]string{}, true},
		{`{"ts":"2026-01-05T00:00:03Z","service":"a","host":"h1","host":null,"host":"h2","msg":"m"}`, "a", "m", map[string]string{"host": "h2"}, true},
		{`{"ts":"2026-01-05T00:00:03Z","service":"a","msg":{"x":[1, 2]}}`, "a", `{"x":[1, 2]}`, nil, true},
	}
	for _, c := range cases {
		var r pipeline.LogRecord
		_, ok := p.parse(c.line, &r)
		if ok != c.ok {
			t.Fatalf("%s: ok %v, want %v", c.line, ok, c.ok)
		}
		if !ok {
			continue
		}
		if len(c.fields) == 0 {
			c.fields = nil
		}
		if r.Entity != c.entity || r.Message != c.msg || !reflect.DeepEqual(fieldMap(r.Fields), c.fields) {
			t.Errorf("%s: entity %q message %q fields %v, want %q %q %v", c.line, r.Entity, r.Message, r.Fields, c.entity, c.msg, c.fields)
		}
	}
}

func TestReadBufFor(t *testing.T) {
	for _, tc := range []struct{ files, want int }{
		{0, readBufSize}, {1, readBufSize}, {1024, readBufSize}, {2048, 32 << 10}, {10_000, 6710}, {1_000_000, minReadBuf},
	} {
		if got := readBufFor(tc.files); got != tc.want {
			t.Errorf("readBufFor(%d) = %d, want %d", tc.files, got, tc.want)
		}
	}
}

// A glob over thousands of files reads them all at once with smaller
// buffers: lines longer than a buffer, plain and compressed, still come
// whole.
func TestManyFilesShareTheBufferBudget(t *testing.T) {
	const files = 2100 // 31 KiB a file
	long := strings.Repeat("x", 40<<10)
	base := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	line := func(f, i int, msg string) string {
		return fmt.Sprintf(`{"ts":%q,"service":"svc","msg":"%s %d/%d"}`+"\n", base.Add(time.Duration(i*files+f)*time.Millisecond).Format(time.RFC3339Nano), msg, f, i)
	}
	var fs []file
	for f := range files {
		var b strings.Builder
		for i := range 3 {
			msg := "m"
			if f%700 == 0 && i == 1 {
				msg = long
			}
			b.WriteString(line(f, i, msg))
		}
		// Some compressed: a few hundred bytes for 40 KiB of text.
		fs = append(fs, file{name: fmt.Sprintf("f%04d.jsonl", f), content: b.String(), gzip: f%500 == 0})
	}
	dir := writeFiles(t, fs)
	problems := &pipeline.Problems{}
	src, err := New(Config{Name: "app", Format: FormatJSONL, Path: filepath.Join(dir, "f*")}, problems)
	if err != nil {
		t.Fatal(err)
	}
	it, err := src.Open(context.Background(), pipeline.Grid{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n, longs := 0, 0
	for it.Next() {
		rec := it.At()
		if want := fmt.Sprintf("%d/%d", n%files, n/files); !strings.HasSuffix(rec.Message, " "+want) {
			t.Fatalf("record %d: message ends %q, want %s", n, rec.Message[max(0, len(rec.Message)-12):], want)
		}
		if strings.HasPrefix(rec.Message, long) {
			longs++
		}
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 3*files || longs != 3 || problems.Total() != 0 {
		t.Errorf("%d records with %d long ones and %d problems, want %d, 3 and 0", n, longs, problems.Total(), 3*files)
	}
}

// BenchmarkManyFiles reads a glob over 3,000 pod-log files of 300 JSON
// lines each, all covering the same hour, as a cluster's /var/log/pods
// does: the merge takes one line from a different file nearly every time.
func BenchmarkManyFiles(b *testing.B) {
	const files, lines = 3000, 300
	dir := b.TempDir()
	base := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for f := range files {
		var buf bytes.Buffer
		for i := range lines {
			fmt.Fprintf(&buf, `{"ts":"%s","level":"info","service":"svc-%d","pod":"svc-%d-%05d","msg":"GET /api/v1/cart/%d 200 in %dms"}`+"\n",
				base.Add(time.Duration(i*12)*time.Second+time.Duration(f%97)*time.Millisecond).Format(time.RFC3339Nano), f%40, f%40, f, i, (i*f)%250)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("pod-%05d.log", f)), buf.Bytes(), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	problems := &pipeline.Problems{}
	src, err := New(Config{Name: "pods", Format: FormatJSONL, Path: filepath.Join(dir, "*.log")}, problems)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	readAllLoop(b, src, problems, files*lines)
	benchutil.Report(b, float64(files*lines*b.N), "lines")
}

// readAllLoop reads the whole source once per benchmark iteration and
// fails unless every iteration reads lines records.
func readAllLoop(b *testing.B, src pipeline.LogSource, problems *pipeline.Problems, lines int) {
	b.Helper()
	for b.Loop() {
		it, err := src.Open(context.Background(), pipeline.Grid{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for it.Next() {
			n++
		}
		if err := it.Err(); err != nil || n != lines {
			b.Fatalf("read %d lines, err %v, problems %v", n, err, problems.Report())
		}
		it.Close()
	}
}

// A UTF-8 byte-order mark before a file's first line is not part of it, in
// any format; a UTF-16 file is reported once, not as garbage lines.
func TestByteOrderMarks(t *testing.T) {
	const bom = "\uFEFF"
	jsonLines := `{"ts":"2026-01-05T10:00:00Z","service":"api","msg":"first"}` + "\n" + `{"ts":"2026-01-05T10:00:01Z","service":"api","msg":"second"}` + "\n"
	for _, tc := range []struct {
		name     string
		cfg      Config
		content  string
		gzip     bool
		want     []string // messages
		problems map[string]int64
	}{
		{"jsonl", Config{Format: FormatJSONL}, bom + jsonLines, false, []string{"first", "second"}, nil},
		{"jsonl gzip", Config{Format: FormatJSONL}, bom + jsonLines, true, []string{"first", "second"}, nil},
		{"text anchored", Config{Format: FormatText, Pattern: `^(?P<time>\S+) (?P<entity>\S+) (?P<message>.*)$`},
			bom + "2026-01-05T10:00:00Z api first\n2026-01-05T10:00:01Z api second\n", false, []string{"first", "second"}, nil},
		{"a mark inside a line stays", Config{Format: FormatText, Pattern: `^(?P<time>\S+) (?P<entity>\S+) (?P<message>.*)$`},
			"2026-01-05T10:00:00Z api " + bom + "first\n", false, []string{bom + "first"}, nil},
		{"utf-16", Config{Format: FormatJSONL}, "\xff\xfe{\x00\"\x00t\x00s\x00\"\x00\n\x00", false, nil, map[string]int64{reasonUTF16: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, []file{{name: "a.log", content: tc.content, gzip: tc.gzip}})
			cfg := tc.cfg
			cfg.Name, cfg.Path = "app", filepath.Join(dir, "a.log")
			problems := &pipeline.Problems{}
			var got []string
			for _, r := range readAll(t, cfg, problems) {
				got = append(got, r.Message)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("messages %q, want %q", got, tc.want)
			}
			if n := problems.Total(); n != int64(len(tc.problems)) {
				t.Errorf("%d problems %v, want %v", n, problems.Report(), tc.problems)
			}
			for reason, n := range tc.problems {
				if got := problems.Report()["log:app"].Reasons[reason]; got != n {
					t.Errorf("%s: %d, want %d (%v)", reason, got, n, problems.Report())
				}
			}
		})
	}
}

// JSON lines as common producers write them are read without a fields
// mapping (a fixed entity where the line names none).
func TestJSONProducersDefaults(t *testing.T) {
	at := time.Date(2026, 1, 5, 10, 0, 0, 123_000_000, time.UTC)
	for _, tc := range []struct {
		producer, line, entity string
		level, message         string
	}{
		{"zap", `{"level":"warn","ts":1767607200.123,"caller":"main.go:12","msg":"slow call","service":"api"}`, "", pipeline.LevelWarn, "slow call"},
		{"logrus", `{"level":"error","msg":"dial failed","time":"2026-01-05T11:00:00.123+01:00","service":"api"}`, "", pipeline.LevelError, "dial failed"},
		{"slog", `{"time":"2026-01-05T10:00:00.123Z","level":"INFO","msg":"started","service":"api"}`, "", pipeline.LevelInfo, "started"},
		{"pino", `{"level":30,"time":1767607200123,"pid":7,"hostname":"h","msg":"listening"}`, "web", pipeline.LevelInfo, "listening"},
		{"bunyan", `{"name":"web","hostname":"h","pid":7,"level":50,"msg":"boom","time":"2026-01-05T10:00:00.123Z","v":0}`, "web", pipeline.LevelError, "boom"},
		{"ecs", `{"@timestamp":"2026-01-05T10:00:00.123Z","log.level":"warn","message":"disk almost full","ecs.version":"1.6.0"}`, "node", pipeline.LevelWarn, "disk almost full"},
		{"gcp", `{"severity":"ERROR","message":"query failed","time":"2026-01-05T10:00:00.123Z"}`, "db", pipeline.LevelError, "query failed"},
		{"go-kit", `{"ts":"2026-01-05T10:00:00.123Z","lvl":"debug","msg":"tick"}`, "worker", pipeline.LevelDebug, "tick"},
		{"docker json-file", `{"log":"GET /healthz 200\n","stream":"stdout","time":"2026-01-05T10:00:00.123Z"}`, "web", pipeline.LevelOther, "GET /healthz 200"},
		{"docker json-file, windows", `{"log":"ready\r\n","stream":"stdout","time":"2026-01-05T10:00:00.123Z"}`, "web", pipeline.LevelOther, "ready"},
	} {
		t.Run(tc.producer, func(t *testing.T) {
			dir := writeFiles(t, []file{{name: "a.log", content: tc.line + "\n"}})
			problems := &pipeline.Problems{}
			recs := readAll(t, Config{Name: "app", Format: FormatJSONL, Path: filepath.Join(dir, "a.log"), Entity: tc.entity}, problems)
			if len(recs) != 1 {
				t.Fatalf("%d records, problems %v", len(recs), problems.Report())
			}
			r := recs[0]
			wantEntity := tc.entity
			if wantEntity == "" {
				wantEntity = "api"
			}
			if !r.Time.Equal(at) || r.Level != tc.level || r.Message != tc.message || r.Entity != wantEntity {
				t.Errorf("got %v %s %q %s, want %v %s %q %s", r.Time, r.Level, r.Message, r.Entity, at, tc.level, tc.message, wantEntity)
			}
		})
	}
}

// BenchmarkInflate decompresses 200k gzip-compressed JSON lines with the
// library the reader uses (klauspost/compress) and, beside it, with the
// standard library's compress/gzip it replaced.
func BenchmarkInflate(b *testing.B) {
	var text bytes.Buffer
	for i := range 200_000 {
		fmt.Fprintf(&text, `{"ts":"2026-01-05T00:00:%02d.000Z","level":"info","service":"checkout","host":"worker-%d.prod.acme.internal","user":"jdoe%d","msg":"GET /api/v1/cart/%d 200 in %dms"}`+"\n", i%60, i%40, i%1000, i, i%250)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(text.Bytes()); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	for _, lib := range []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{"klauspost", func(r io.Reader) (io.Reader, error) { return kgzip.NewReader(r) }},
		{"stdlib", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	} {
		b.Run(lib.name, func(b *testing.B) {
			b.SetBytes(int64(text.Len()))
			for b.Loop() {
				r, err := lib.open(bytes.NewReader(z.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, r); err != nil || n != int64(text.Len()) {
					b.Fatalf("inflated %d of %d bytes: %v", n, text.Len(), err)
				}
			}
		})
	}
}

// TestFlatScanTakesCommonLines: the lines real producers write take the
// flat scan, not the tree (which is correct too, but several times
// slower): escapes in values, nested objects outside the message, every
// scalar, white space.
func TestFlatScanTakesCommonLines(t *testing.T) {
	p := flatTestParser()
	for _, line := range []string{
		`{"level":"info","ts":1767571200.123,"caller":"main.go:12","msg":"GET /a?q=\"x\" \u00e9\n","status":200,"ok":true,"err":null}`,
		`{"time":"2026-01-05T00:00:03.120Z","level":"INFO","msg":"started","attrs":{"k":"v","n":{"m":[1,2]}},"pid":-12}`,
		`{ "@timestamp" : "2026-01-05T00:00:03Z" , "log.level" : "warn" , "message" : "a\\b\/c\t" , "x" : 1e-3 }`,
		`{"log":"plain line\n","stream":"stderr","time":"2026-01-05T00:00:03.123456789Z"}`,
		`{}`,
	} {
		if _, ok := p.scanFlat(line, nil); !ok {
			t.Errorf("the flat scan left %q to the tree", line)
		}
		checkFlatScan(t, p, line)
	}
}

// TestJSONNestedKeys: a dotted key no top-level field has reads into
// nested objects, as log shippers write them (Fluent Bit's kubernetes
// filter, Vector, Filebeat); a top-level key with the dotted name (ECS)
// wins; learned fields may be paths too.
func TestJSONNestedKeys(t *testing.T) {
	shipper := `{"time":"2026-01-05T10:00:00Z","log":"GET / 200\n","stream":"stdout",` +
		`"kubernetes":{"pod_name":"checkout-7d9f8b6c5-x2x9z","namespace_name":"shop","host":"node-3.acme.internal","labels":{"app":"checkout"}},` +
		`"log_processed":{"level":"warn"}}`
	ecs := `{"@timestamp":"2026-01-05T10:00:01Z","log_processed.level":"error","log_processed":{"level":"debug"},"message":"m","service":{"name":"cart"},"kubernetes":{"labels":{"app":"ignored"}},"kubernetes.labels.app":"flat"}`
	cfg := Config{Name: "app", Format: FormatJSONL, Fields: LogFields{Entity: "kubernetes.labels.app", Level: "log_processed.level"}}
	dir := writeFiles(t, []file{{name: "a.jsonl", content: shipper + "\n" + ecs + "\n" + `{"time":"2026-01-05T10:00:02Z","log":"x","kubernetes":{"labels":{}}}` + "\n"}})
	cfg.Path = filepath.Join(dir, "*.jsonl")
	src, err := New(cfg, &pipeline.Problems{})
	if err != nil {
		t.Fatal(err)
	}
	src.(pipeline.FieldSelector).SelectFields([]string{"kubernetes.host", "service.name"})
	it, err := src.Open(context.Background(), pipeline.Grid{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []string
	for it.Next() {
		r := it.At()
		got = append(got, fmt.Sprintf("%s %s %q %v", r.Entity, r.Level, r.Message, r.Fields))
	}
	want := []string{
		`checkout warn "GET / 200" [{kubernetes.host node-3.acme.internal}]`,
		`flat error "m" [{service.name cart}]`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records:\n got %q\nwant %q", got, want)
	}
}

// skipPlain stops where the byte loop it speeds up stops: at every start
// of random strings holding each special byte, bytes from 0x80 and the
// bytes next to the specials (0x1f, 0x20, '!', '#', '[', ']'), short and
// longer than a word.
func TestSkipPlain(t *testing.T) {
	naive := func(s string, j int) int {
		for j < len(s) && !strSpecial[s[j]] {
			j++
		}
		return j
	}
	alphabet := []byte("ab\"\\\x00\x1f\x20!#[]\x7f\x80\xc3\xa9\xff\t\n")
	rng := rand.New(rand.NewPCG(9, 4))
	for round := range 20000 {
		n := rng.IntN(40)
		b := make([]byte, n)
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[i] = 'a' + byte(rng.IntN(26)) // runs of plain bytes
			}
		}
		s := string(b)
		for j := 0; j <= len(s); j++ {
			if got, want := skipPlain(s, j), naive(s, j); got != want {
				t.Fatalf("round %d: skipPlain(%q, %d) = %d, want %d", round, s, j, got, want)
			}
		}
	}
	for c := 0; c < 256; c++ {
		s := "abcdefgh" + string([]byte{byte(c)}) + "ijklmnop"
		if got, want := skipPlain(s, 0), naive(s, 0); got != want {
			t.Fatalf("byte %#x: skipPlain = %d, want %d", c, got, want)
		}
	}
}
