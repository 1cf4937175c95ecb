package nightly

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/labelers/alertmanager"
	"github.com/opsdata/opsdata/labelers/alertseries"
	"github.com/opsdata/opsdata/labelers/manual"
	"github.com/opsdata/opsdata/labelers/rule"
	"github.com/opsdata/opsdata/labelers/ticket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/sources/logfile"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/opsdata/opsdata/pipeline/sources/ticketfile"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// counted wraps the demo's components and counts how often a metric or
// log source is opened: a no-op night must open none.
type counted struct{ metrics, logs atomic.Int64 }

func (c *counted) components() pipeline.Components {
	m := promtsdb.Factory()
	mNew := m.New
	m.New = func(ctx context.Context, s spec.Metrics, cfg pipeline.Config, p *pipeline.Problems) (pipeline.MetricSource, error) {
		c.metrics.Add(1)
		return mNew(ctx, s, cfg, p)
	}
	logs := map[string]pipeline.LogSourceFactory{}
	for _, k := range []string{"jsonl", "text"} {
		f := logfile.Factory(k)
		fNew := f.New
		f.New = func(name string, cfg pipeline.Config, p *pipeline.Problems) (pipeline.LogSource, error) {
			c.logs.Add(1)
			return fNew(name, cfg, p)
		}
		logs[k] = f
	}
	return pipeline.Components{
		Metrics:  map[string]pipeline.MetricSourceFactory{"tsdb": m},
		Logs:     logs,
		Tickets:  map[string]pipeline.TicketSourceFactory{"json": ticketfile.Factory(ticketfile.FormatJSON)},
		Labelers: map[string]pipeline.LabelerFactory{"ticket": ticket.Factory(), "rule": rule.Factory(), "manual": manual.Factory(), "alertmanager": alertmanager.Factory(), "alerts_series": alertseries.Factory()},
	}
}

var demoStart = demo.DefaultStart

// scenario is a generated nightly demo and a spec over it.
type scenario struct {
	dir, out string
	plan     *demo.NightlyPlan
	spec     *spec.Spec
	bytes    []byte
}

// newScenario generates the demo (one instance per service, 1-minute
// scrapes, to keep each night's export short) with the nightly scenario.
func newScenario(t testing.TB, days int, nightlyYAML string) *scenario {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "demo-data")
	if _, err := demo.Generate(context.Background(), demo.Config{Dir: dir, Duration: time.Duration(days) * 24 * time.Hour, Instances: 1, Scrape: time.Minute}); err != nil {
		t.Fatal(err)
	}
	plan, err := demo.WriteNightly(dir, demoStart, time.Duration(days)*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sc := &scenario{dir: dir, out: filepath.Join(root, "out"), plan: plan}
	sc.spec, sc.bytes = sc.specFor(t, "file://"+sc.out, nightlyYAML)
	return sc
}

func (sc *scenario) specFor(t testing.TB, output, nightlyYAML string) (*spec.Spec, []byte) {
	t.Helper()
	repo := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(repo, "datasets", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	txt := strings.ReplaceAll(string(b), "./demo-data", sc.dir)
	txt = strings.ReplaceAll(txt, "./datasets/demo-rules.yml", filepath.Join(repo, "datasets", "demo-rules.yml"))
	txt = strings.Replace(txt, "output: file://./out", "output: "+output, 1)
	txt += "\nnightly: " + nightlyYAML + "\n"
	p := filepath.Join(filepath.Dir(sc.dir), "spec.yaml")
	if err := os.WriteFile(p, []byte(txt), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse(p, []byte(txt))
	if err != nil {
		t.Fatal(err)
	}
	return s, []byte(txt)
}

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod")
		}
		dir = parent
	}
}

func (sc *scenario) night(t testing.TB, c *counted, now time.Time, hook func(context.Context, string) error) (*Report, error) {
	t.Helper()
	if err := sc.plan.Apply(sc.dir, now); err != nil {
		t.Fatal(err)
	}
	return Run(context.Background(), Options{Spec: sc.spec, SpecBytes: sc.bytes, Components: c.components(), Now: now, TempDir: t.TempDir(), hook: hook})
}

type keyRow struct {
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	Entity      string    `parquet:"entity"`
}

// windowKeys reads every windows file under dir/windows and fails on a
// (window_start, entity) seen twice; it returns the number of rows.
func windowKeys(t testing.TB, dir string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "windows", "date=*", "*.parquet"))
	if len(files) == 0 {
		t.Fatalf("no windows files under %s", dir)
	}
	seen := map[keyRow]bool{}
	for _, f := range files {
		rows, err := parquet.ReadFile[keyRow](f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		for _, r := range rows {
			r.WindowStart = r.WindowStart.UTC()
			if seen[r] {
				t.Fatalf("%s: (%s, %s) twice", dir, r.WindowStart, r.Entity)
			}
			seen[r] = true
		}
	}
	return len(seen)
}

// checkSums verifies dir/SHA256SUMS as `sha256sum -c` would.
func checkSums(t testing.TB, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, schemas.SumsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sum, p, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("bad SHA256SUMS line %q", line)
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatalf("SHA256SUMS: %v", err)
		}
		if s := sha256.Sum256(data); hex.EncodeToString(s[:]) != sum {
			t.Fatalf("SHA256SUMS: %s: FAILED", p)
		}
	}
}

func day0(d int) time.Time { return demoStart.Add(time.Duration(d) * 24 * time.Hour) }

// killedNight runs a night that is killed just before its commit (after
// its parts are uploaded) and checks it failed; the inputs are applied.
func (sc *scenario) killedNight(t testing.TB, now time.Time) {
	t.Helper()
	if err := sc.plan.Apply(sc.dir, now); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := Run(rctx, Options{Spec: sc.spec, SpecBytes: sc.bytes, Components: (&counted{}).components(), Now: now, TempDir: t.TempDir(),
		hook: func(ctx context.Context, stage string) error {
			if stage == "commit" {
				cancel()
				return fmt.Errorf("killed: %w", context.Canceled)
			}
			return nil
		}})
	if err == nil || rep.Outcome != Failed {
		t.Fatalf("%s: killed run: outcome %s, err %v", now, rep.Outcome, err)
	}
}
