package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runTemplatesCLI runs `opsdata templates args...` and returns the per-line
// CSV rows (without the header), stderr and the error.
func runTemplatesCLI(t *testing.T, dir string, args ...string) ([][]string, string, error) {
	t.Helper()
	out := filepath.Join(dir, "lines.csv")
	app := newApp()
	var stdout, stderr bytes.Buffer
	app.Writer, app.ErrWriter = &stdout, &stderr
	err := app.RunContext(context.Background(), append([]string{"opsdata", "templates", "--out", out}, args...))
	if err != nil {
		return nil, stderr.String(), err
	}
	rows := readCSV(t, out)
	return rows[1:], stderr.String(), nil
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTemplatesFormatsUsersBring covers the cases of issue #13: logparser
// format strings, epoch layouts, extra masks with commas, flags after the
// file name, and out-of-order lines reported as such.
func TestTemplatesFormatsUsersBring(t *testing.T) {
	const linux = "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown\n" +
		"Jun 14 15:16:02 combo sshd(pam_unix)[19937]: check pass; user unknown\n" +
		"Jun 15 02:04:59 combo ftpd[20882]: connection from 222.33.90.199 () at Wed Jun 15 02:04:59 2005\n"
	const bgl = "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected\n" +
		"- 1117838571 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.51.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected\n"
	const ordered = "2026-01-05T10:00:02Z job done in 5s\n2026-01-05T10:00:01Z job done in 7s\n2026-01-05T10:00:03Z job done in 9s\n"
	tests := []struct {
		name      string
		file      string
		args      func(file string) []string
		templates []string // per line
		stderrHas []string
		stderrNot []string
		errHas    string
	}{
		{
			name: "logparser Linux format with an optional PID group",
			file: linux,
			args: func(f string) []string {
				return []string{"--format", "logpai", "--log-format", `<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>`,
					"--time-layout", "Jan 2 15:04:05", f}
			},
			templates: []string{"check pass; user unknown", "check pass; user unknown", "connection from <*> () at Wed Jun <*> <*> <*>"},
			stderrNot: []string{"malformed"},
		},
		{
			name: "BGL with time_layout unix on <Timestamp>",
			file: bgl,
			args: func(f string) []string {
				return []string{"--format", "logpai", "--log-format", `<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>`,
					"--time-layout", "unix", "--timezone", "", f}
			},
			templates: []string{"instruction cache parity error corrected", "instruction cache parity error corrected"},
		},
		{
			name: "a format that matches nothing is an error, not exit 0",
			file: linux,
			args: func(f string) []string {
				return []string{"--format", "logpai", "--log-format", `\[<Time>\] \[<Level>\] <Content>`, "--time-layout", "Jan 2 15:04:05", f}
			},
			errHas: "none of the 3 lines",
		},
		{
			name: "extra masks with commas are taken whole",
			file: "ids 1.2.3.4,5.6.7.8 seen\nids 9.9.9.9 seen\nretry aaa then\nretry aaaa then\n",
			args: func(f string) []string {
				return []string{"--mask", "none", "--extra-mask", `((\d+\.){3}\d+,?)+`, "--extra-mask", `a{3,}`, f}
			},
			templates: []string{"ids <*> seen", "ids <*> seen", "retry <*> then", "retry <*> then"},
		},
		{
			name: "flags after the file name",
			file: "user 17 logged in\nuser 23 logged in\n",
			args: func(f string) []string {
				return []string{f, "--mask", "none", "--similarity=0.5"}
			},
			templates: []string{"user <*> logged in", "user <*> logged in"},
		},
		{
			name: "out-of-order lines are counted as such, and mined",
			file: ordered,
			args: func(f string) []string {
				return []string{"--format", "logpai", "--log-format", "<Timestamp> <Content>", f}
			},
			templates: []string{"job done in <*>", "job done in <*>", "job done in <*>"},
			stderrHas: []string{"1 lines earlier than the line before them"},
			stderrNot: []string{"malformed"},
		},
		{
			name:   "two file names",
			file:   "a\n",
			args:   func(f string) []string { return []string{f, f} },
			errHas: "name one log file, not 2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := writeFile(t, dir, "in.log", tc.file)
			rows, stderr, err := runTemplatesCLI(t, dir, tc.args(f)...)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("error %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v (stderr %s)", err, stderr)
			}
			if len(rows) != len(tc.templates) {
				t.Fatalf("%d rows %v, want %d", len(rows), rows, len(tc.templates))
			}
			for i, want := range tc.templates {
				if rows[i][2] != want {
					t.Errorf("line %s: template %q, want %q", rows[i][0], rows[i][2], want)
				}
			}
			for _, s := range tc.stderrHas {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr %q lacks %q", stderr, s)
				}
			}
			for _, s := range tc.stderrNot {
				if strings.Contains(stderr, s) {
					t.Errorf("stderr %q has %q", stderr, s)
				}
			}
		})
	}
}

// TestTemplatesRegistryResume: two runs over the halves of a log with
// --registry give every line the id one run over the whole log gives.
func TestTemplatesRegistryResume(t *testing.T) {
	var a, b strings.Builder
	for i := 0; i < 40; i++ {
		l := []string{"conn from 10.0.0.%d port %d", "user u%d logged out after %ds"}[i%2]
		line := strings.Replace(strings.Replace(l, "%d", string(rune('0'+i%10)), 1), "%d", string(rune('0'+i%7)), 1) + "\n"
		if i < 20 {
			a.WriteString(line)
		} else {
			b.WriteString(line)
		}
	}
	dir := t.TempDir()
	whole := writeFile(t, dir, "whole.log", a.String()+b.String())
	first := writeFile(t, dir, "a.log", a.String())
	second := writeFile(t, dir, "b.log", b.String())
	one, _, err := runTemplatesCLI(t, dir, whole)
	if err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(dir, "registry.csv")
	r1, _, err := runTemplatesCLI(t, dir, "--registry", reg, first)
	if err != nil {
		t.Fatal(err)
	}
	r2, _, err := runTemplatesCLI(t, dir, "--registry", reg, second)
	if err != nil {
		t.Fatal(err)
	}
	two := append(r1, r2...)
	for i := range one {
		if one[i][1] != two[i][1] {
			t.Errorf("line %d: id %s in one run, %s in two", i+1, one[i][1], two[i][1])
		}
	}
	if _, err := os.Stat(reg); err != nil {
		t.Fatal(err)
	}
}
