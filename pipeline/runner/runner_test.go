package runner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/labelers/rule"
	"github.com/opsdata/opsdata/labelers/ticket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/pipeline/sources/logfile"
	"github.com/opsdata/opsdata/pipeline/sources/promblocks"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/opsdata/opsdata/pipeline/sources/ticketfile"
	"github.com/opsdata/opsdata/spec"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if demoDir != "" {
		os.RemoveAll(demoDir) // the short demo shared by this binary's tests
	}
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/prometheus/prometheus/tsdb/chunks.(*ChunkDiskMapper).Close"),
			goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func components() pipeline.Components {
	return pipeline.Components{
		Metrics:  map[string]pipeline.MetricSourceFactory{"tsdb": promtsdb.Factory(), "blocks": promblocks.Factory()},
		Logs:     map[string]pipeline.LogSourceFactory{"jsonl": logfile.Factory("jsonl"), "text": logfile.Factory("text"), "logfmt": logfile.Factory(logfile.FormatLogfmt)},
		Tickets:  map[string]pipeline.TicketSourceFactory{"json": ticketfile.Factory(ticketfile.FormatJSON)},
		Labelers: map[string]pipeline.LabelerFactory{"ticket": ticket.Factory(), "rule": rule.Factory()},
	}
}

// shortDemo generates 6 hours of the demo cluster once per test binary.
var demoDir string

func shortDemo(t *testing.T) string {
	t.Helper()
	if demoDir != "" {
		return demoDir
	}
	dir, err := os.MkdirTemp("", "opsdata-runner-test-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demo.Generate(context.Background(), demo.Config{Dir: filepath.Join(dir, "demo-data"), Duration: 6 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	demoDir = dir
	return dir
}

// demoSpec loads datasets/demo.yaml with paths pointing at dir and a 6h range.
func demoSpec(t testing.TB, dir string, edit func(string) string) (*spec.Spec, []byte) {
	t.Helper()
	b, err := os.ReadFile("../../datasets/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "./demo-data", filepath.Join(dir, "demo-data"))
	s = strings.Replace(s, "to: 2026-01-08T00:00:00Z", "to: 2026-01-05T06:00:00Z", 1)
	// The rule labeler costs minutes under -race here; tests/e2e covers it.
	s = strings.Replace(s, "  - kind: rule\n    rules: [./datasets/demo-rules.yml]\n", "", 1)
	if edit != nil {
		s = edit(s)
	}
	sp, err := spec.Parse("demo.yaml", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return sp, []byte(s)
}

func export(t *testing.T, sp *spec.Spec, b []byte, out string) (*runner.Result, error) {
	t.Helper()
	return runner.Export(context.Background(), runner.Options{Spec: sp, SpecBytes: b, Output: "file://" + out, CodeVersion: "test", Components: components()})
}

func TestExportIsDeterministicAndIdempotent(t *testing.T) {
	dir := shortDemo(t)
	sp, b := demoSpec(t, dir, nil)
	outA, outB := t.TempDir(), t.TempDir()
	resA, err := export(t, sp, b, outA)
	if err != nil {
		t.Fatal(err)
	}
	if resA.Rows["windows"] != 6*60*6 {
		t.Fatalf("want 6h x 60 windows x 6 services, got %d", resA.Rows["windows"])
	}
	if _, err := export(t, sp, b, outB); err != nil {
		t.Fatal(err)
	}
	va := filepath.Join(outA, "demo-cluster", resA.Version)
	vb := filepath.Join(outB, "demo-cluster", resA.Version)
	n := 0
	filepath.Walk(va, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(va, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(vb, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two exports (err=%v)", rel, err)
		}
		n++
		return nil
	})
	if n < 8 {
		t.Fatalf("only %d files published", n)
	}
	again, err := export(t, sp, b, outA)
	if err != nil || !again.AlreadyPublished {
		t.Fatalf("re-export must be an idempotent no-op, got %+v, %v", again, err)
	}
}

// TestFailuresPublishNothing: every failure mode leaves no visible version.
func TestFailuresPublishNothing(t *testing.T) {
	dir := shortDemo(t)
	cases := []struct {
		name string
		edit func(string) string
		ctx  func() (context.Context, context.CancelFunc)
		want error
		msg  string
	}{
		{name: "raw pod label leaks", edit: func(s string) string {
			// keep a "host" label raw and put a real node name in it.
			s = strings.Replace(s, "keep: [job, code, le]", "keep: [job, code, le, host]", 1)
			return strings.Replace(s, "expr: max by (service) (memory_working_set_bytes)", `expr: label_replace(max by (service) (memory_working_set_bytes), "host", "worker-1.prod.acme.internal", "", "")`, 1)
		}, want: runner.ErrLeak, msg: "series"},
		{name: "canary in logs", edit: func(s string) string {
			return strings.Replace(s, "canaries: []", "canaries: [GET]", 1)
		}, want: runner.ErrLeak, msg: "logs"},
		{name: "missing tsdb", edit: func(s string) string {
			return strings.Replace(s, "demo-data/tsdb", "demo-data/no-such-tsdb", 1)
		}, msg: "no-such-tsdb"},
		{name: "missing log files", edit: func(s string) string {
			return strings.Replace(s, "logs/*.jsonl", "logs/*.missing", 1)
		}, msg: "*.missing"},
		{name: "two series per entity", edit: func(s string) string {
			return strings.Replace(s, "sum by (service) (up)", "sum by (service, node) (up)", 1)
		}, msg: "more than one series"},
		{name: "cancelled", ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, want: context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp, b := demoSpec(t, dir, tc.edit)
			ctx := context.Background()
			if tc.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tc.ctx()
				defer cancel()
			}
			out := t.TempDir()
			_, err := runner.Export(ctx, runner.Options{Spec: sp, SpecBytes: b, Output: "file://" + out, Components: components()})
			if err == nil {
				t.Fatal("export should fail")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("want %v, got %v", tc.want, err)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error should mention %q: %v", tc.msg, err)
			}
			entries, _ := filepath.Glob(filepath.Join(out, "*", "*", "manifest.json"))
			pointers, _ := filepath.Glob(filepath.Join(out, "*", "latest"))
			if len(entries)+len(pointers) > 0 {
				t.Fatalf("failed export left a visible version: %v %v", entries, pointers)
			}
		})
	}
}

func TestDefaultVersion(t *testing.T) {
	mk := func(a, b string) pipeline.Grid {
		x, _ := time.Parse(time.RFC3339, a)
		y, _ := time.Parse(time.RFC3339, b)
		g, err := pipeline.NewGrid(x, y, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	for _, c := range []struct {
		g    pipeline.Grid
		want string
	}{
		{mk("2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"), "2026-01-05"},
		{mk("2026-01-05T00:00:00Z", "2026-01-08T00:00:00Z"), "2026-01-05_2026-01-08"},
		{mk("2026-01-05T00:00:00Z", "2026-01-05T06:00:00Z"), "2026-01-05_2026-01-05T0600Z"},
	} {
		if got := runner.DefaultVersion(c.g); got != c.want {
			t.Errorf("DefaultVersion = %q, want %q", got, c.want)
		}
	}
}

// TestFeatureErrorStopsTheDay: the features are evaluated beside the log
// passes (exportDay); a feature's error is the export's error, reported
// whichever side finished first, and nothing is published.
func TestFeatureErrorStopsTheDay(t *testing.T) {
	dir := shortDemo(t)
	sp, b := demoSpec(t, dir, func(s string) string {
		return strings.Replace(s, "expr: sum by (service) (rate(http_requests_total[5m]))", "expr: sum(rate(http_requests_total[5m]))", 1)
	})
	out := t.TempDir()
	_, err := export(t, sp, b, out)
	var ee *align.ErrEntity
	if !errors.As(err, &ee) || ee.Feature != "requests_per_second" {
		t.Fatalf("err = %v, want the feature's entity error", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("published %d entries after the error", len(entries))
	}
}
