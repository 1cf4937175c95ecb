package logfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// fuzzFormats are one configuration per line format the package parses.
var fuzzFormats = []Config{
	{Name: "j", Format: FormatJSONL, Path: "x", Timezone: "Europe/Berlin"},
	{Name: "t", Format: FormatText, Path: "x", Timezone: "Europe/Berlin", TimeLayout: "2006-01-02 15:04:05.000",
		Pattern: `^(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) (?P<level>[A-Z]+) \[(?P<entity>[a-z-]+)\] (?P<message>.*)$`},
	{Name: "l", Format: "logfmt", Path: "x", Timezone: "UTC"},
	{Name: "s", Format: "syslog", Path: "x", Timezone: "UTC"},
	{Name: "k", Format: "klog", Path: "x", Timezone: "UTC", Entity: "kubelet"},
	{Name: "p", Format: "logpai", Path: "x", Timezone: "UTC", Entity: "hdfs", TimeLayout: "060102 150405",
		LogFormat: "<Date> <Time> <Pid> <Level> <Component>: <Content>"},
	{Name: "c", Format: FormatCRI, Path: "x", Entity: "pod"},
}

// FuzzLineParsers: no line, however broken, panics a parser of any format,
// and a parsed record always has a UTC time.
func FuzzLineParsers(f *testing.F) {
	for i, s := range []string{
		`{"ts":"2026-01-05T00:00:03.120Z","level":"info","service":"checkout","msg":"m"}`,
		`2026-01-05 01:00:00.123 WARN [cart] slow`,
		`ts=2026-01-05T00:00:00Z level=error msg="boom" service=api`,
		`<34>1 2026-01-05T00:00:00.003Z host app 123 ID47 - message`,
		`<13>Jan  5 00:00:00 host app[12]: text`,
		`I0105 00:00:00.123456    1 main.go:12] started`,
		`2026-01-05T00:00:00.123456789Z stderr F {"level":"warn","msg":"m","time":1}`,
		`081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating`,
	} {
		f.Add(uint8(i), s)
	}
	parsers := make([]func() lineParser, len(fuzzFormats))
	for i, c := range fuzzFormats {
		s, err := newSource(c, &pipeline.Problems{})
		if err != nil {
			f.Fatalf("%s: %v", c.Format, err)
		}
		parsers[i] = s.newParse
	}
	f.Fuzz(func(t *testing.T, format uint8, line string) {
		line = strings.ToValidUTF8(line, "\uFFFD")
		p := parsers[int(format)%len(parsers)]()
		var r pipeline.LogRecord
		if _, ok := p.parse(line, &r); ok && r.Time.Location() != time.UTC {
			t.Errorf("%s: parsed %q into a non-UTC time %v", fuzzFormats[int(format)%len(parsers)].Format, line, r.Time)
		}
	})
}

// FuzzCRIJoin: any sequence of lines through the partial-line joiner
// panics nothing, and what it returns is a line it was given or one whose
// content is within MaxLineBytes.
func FuzzCRIJoin(f *testing.F) {
	f.Add("2026-01-05T00:00:00Z stdout P a\n2026-01-05T00:00:00Z stderr F b\n2026-01-05T00:00:01Z stdout F c\n2026-01-05T00:00:02Z stdout P d")
	f.Add("x stdout P \nx stdout F:y \nx stderr P:z q")
	f.Fuzz(func(t *testing.T, text string) {
		var j criJoiner
		for i, line := range strings.Split(text, "\n") {
			out, n, _, ok, _ := j.add(line, int64(i+1), 0)
			if ok && out != line {
				if _, _, partial, content, valid := criHeader(out); !valid || partial || len(content) > MaxLineBytes || n > int64(i+1) {
					t.Fatalf("joined line %q (from line %d) is not a full CRI line", out, n)
				}
			}
		}
		for {
			if _, _, _, ok := j.flush(); !ok {
				break
			}
		}
	})
}

// FuzzCRIMultiline: any CRI file read with multiline entries panics
// nothing, and no two records begin on the same line (a line held back for
// the next entry is read once). A joined partial line begins on its first
// fragment's line, so with both streams the lines need not increase.
func FuzzCRIMultiline(f *testing.F) {
	f.Add("2026-01-05T00:00:00Z stdout F 1 start\n2026-01-05T00:00:00Z stdout F x\n2026-01-05T00:00:01Z stderr F 2 other\n2026-01-05T00:00:02Z stdout P y\n2026-01-05T00:00:03Z stdout F z\n2026-01-05T00:00:04Z stdout P 3 cut")
	f.Add("2026-01-05T00:00:00Z stdout F \nbroken\n2026-01-05T00:00:00Z stderr F 1\n2026-01-05T00:00:00Z stderr F a")
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(t.TempDir(), "0.log")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := Config{Name: "c", Format: FormatCRI, Path: path, Entity: "pod", Multiline: Multiline{Start: `^\d`, MaxLines: 5, MaxBytes: 200}}
		seen := map[int64]bool{}
		for _, r := range readAll(t, cfg, &pipeline.Problems{}) {
			if seen[r.Line] {
				t.Fatalf("two records begin on line %d", r.Line)
			}
			seen[r.Line] = true
		}
	})
}
