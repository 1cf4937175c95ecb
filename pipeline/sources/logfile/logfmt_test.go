package logfile

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-logfmt/logfmt"

	"github.com/opsdata/opsdata/pipeline"
)

// goLogfmtPairs is go-logfmt's reading of one line: the reference
// scanLogfmt must agree with on every line that library can read (one
// line, shorter than its Scanner's 64 KiB).
func goLogfmtPairs(line string) ([]logfmtPair, bool) {
	dec := logfmt.NewDecoder(strings.NewReader(line))
	if !dec.ScanRecord() {
		return nil, false
	}
	var pairs []logfmtPair
	for dec.ScanKeyval() {
		pairs = append(pairs, logfmtPair{string(dec.Key()), string(dec.Value())})
	}
	return pairs, dec.Err() == nil
}

var logfmtLines = []string{
	`ts=2026-01-05T00:00:00Z level=error msg="boom" service=api`,
	`a=1 b= c d="" e="x y" f=`,
	`msg="slow request \"GET /cart\"" user=jdoe`,
	`msg="tab\there\nnew \u00e9 \ud83d\ude00 \ud800 x \/ \' \\"`,
	`msg="bad \x escape"`, `msg="trailing \`, `msg="unterminated`,
	`a="x"b=2`, `=v`, `a=b=c`, `a=b"c`, `a"b=1`, "k\uFFFD=v", "k=\uFFFD",
	"a=1\tb=2\x01c=3", `a=1 a=2 b=3 a=`, `  lead=1  `, `é=ü "`, `msg="ctl` + "\x01" + `"`,
	`msg="ctl` + "\x01" + `\n"`, `u="\u12"`, `u="\u12zz"`, `u="\ud83d\u0041"`,
}

func TestLogfmtScanMatchesGoLogfmt(t *testing.T) {
	for _, line := range logfmtLines {
		want, wantOK := goLogfmtPairs(line)
		got, gotOK := scanLogfmt(line, nil)
		if gotOK != wantOK || wantOK && !slices.Equal(got, want) {
			t.Errorf("%q: got %q ok=%v, go-logfmt %q ok=%v", line, got, gotOK, want, wantOK)
		}
	}
}

// FuzzLogfmtScan holds scanLogfmt to go-logfmt's Decoder on any line.
func FuzzLogfmtScan(f *testing.F) {
	for _, s := range logfmtLines {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		line = strings.ReplaceAll(strings.ToValidUTF8(line, "\uFFFD"), "\n", " ")
		if line == "" || len(line) >= 64<<10 {
			return
		}
		want, wantOK := goLogfmtPairs(line)
		got, gotOK := scanLogfmt(line, nil)
		if gotOK != wantOK || wantOK && !slices.Equal(got, want) {
			t.Errorf("%q: got %q ok=%v, go-logfmt %q ok=%v", line, got, gotOK, want, wantOK)
		}
	})
}

func TestLogfmtRecord(t *testing.T) {
	many := make([]logfmtPair, 0, 80)
	var manyWant []logfmtPair
	for i := range 40 {
		k := "k" + strings.Repeat("x", i)
		many = append(many, logfmtPair{k, "first"})
		manyWant = append(manyWant, logfmtPair{k, "last"})
	}
	for i := range 40 {
		many = append(many, logfmtPair{"k" + strings.Repeat("x", i), "last"})
	}
	for _, tc := range []struct {
		name     string
		in, want []logfmtPair
	}{
		{"distinct", []logfmtPair{{"a", "1"}, {"b", "2"}}, []logfmtPair{{"a", "1"}, {"b", "2"}}},
		{"repeated key keeps its place and last value", []logfmtPair{{"a", "1"}, {"b", "2"}, {"a", ""}, {"c", "3"}, {"b", "4"}},
			[]logfmtPair{{"a", ""}, {"b", "4"}, {"c", "3"}}},
		{"many keys", many, manyWant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := logfmtRecord(slices.Clone(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A logfmt line of any length up to MaxLineBytes is read: go-logfmt's
// Scanner stops at 64 KiB and the line was counted as an empty record.
func TestLogfmtLongLine(t *testing.T) {
	p := &logfmtParser{fc: fieldsConfig{time: []string{"ts"}, message: []string{"msg"}, entity: []string{"service"}},
		timeParse: newTimeParser("", nil), fields: &fieldSelection{}}
	body := strings.Repeat("stack frame at main.go:12 ", 8000) // ~200 KiB
	line := `ts=2026-01-05T00:00:00Z service=api trace="` + strings.ReplaceAll(body, " ", `\t`) + `" msg="` + body + `"`
	var rec pipeline.LogRecord
	if prob, ok := p.parse(line, &rec); !ok {
		t.Fatalf("a %d-byte line: %v", len(line), prob)
	}
	if rec.Message != body || rec.Entity != "api" || len(rec.Fields) != 1 || rec.Fields[0].Value != strings.ReplaceAll(body, " ", "\t") {
		t.Errorf("message of %d bytes, entity %q, %d fields", len(rec.Message), rec.Entity, len(rec.Fields))
	}
}
