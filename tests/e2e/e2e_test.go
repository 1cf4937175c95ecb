//go:build e2e

// Package e2e checks the published demo dataset end to end: the built
// opsdata binary, the demo cluster's real inputs, the bytes researchers get.
// Run it with `make test-e2e` (it needs `make demo` first, which it runs).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/opsdata/opsdata/spec"
)

type env struct {
	bin, demo, out, spec string
	version              string
}

func setup(t *testing.T) env {
	t.Helper()
	e := env{bin: os.Getenv("OPSDATA_BIN"), demo: os.Getenv("OPSDATA_DEMO_DIR"), out: os.Getenv("OPSDATA_OUT"), spec: os.Getenv("OPSDATA_SPEC")}
	if e.bin == "" || e.demo == "" || e.out == "" || e.spec == "" {
		t.Fatal("OPSDATA_BIN, OPSDATA_DEMO_DIR, OPSDATA_OUT and OPSDATA_SPEC must be set: run `make test-e2e`")
	}
	latest, err := os.ReadFile(filepath.Join(e.out, "demo-cluster", "latest"))
	if err != nil {
		t.Fatalf("no published demo version (run `make demo`): %v", err)
	}
	e.version = strings.TrimSpace(string(latest))
	return e
}

func (e env) versionDir() string { return filepath.Join(e.out, "demo-cluster", e.version) }

type windowRow struct {
	WindowStart    time.Time `parquet:"window_start,timestamp(millisecond)"`
	Entity         string    `parquet:"entity"`
	IncidentActive bool      `parquet:"incident_active"`
	IncidentIDs    []string  `parquet:"incident_ids,list"`
	Phase          string    `parquet:"phase"`
	Minutes        *float64  `parquet:"minutes_to_next_incident,optional"`
	Requests       *float64  `parquet:"requests_per_second,optional"`
	Errors         *float64  `parquet:"errors_per_second,optional"`
	Latency        *float64  `parquet:"latency_p99_seconds,optional"`
	CPU            *float64  `parquet:"cpu_utilization,optional"`
	Memory         *float64  `parquet:"memory_bytes,optional"`
	LogLines       int64     `parquet:"log_lines"`
	LogError       int64     `parquet:"log_error"`
}

func readWindows(t *testing.T, dir string) []windowRow {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "windows", "date=*", "*.parquet"))
	if len(files) == 0 {
		t.Fatalf("no windows files under %s", dir)
	}
	sort.Strings(files)
	var out []windowRow
	for _, f := range files {
		rows, err := parquet.ReadFile[windowRow](f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		out = append(out, rows...)
	}
	return out
}

type truth struct {
	ID       string     `json:"id"`
	Type     string     `json:"type"`
	Entities []string   `json:"entities"`
	Start    time.Time  `json:"start"`
	End      *time.Time `json:"end"`
	Ticket   *string    `json:"ticket"`
}

func readTruth(t *testing.T, demo string) []truth {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(demo, "ground_truth", "incidents.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gt []truth
	if err := json.Unmarshal(b, &gt); err != nil {
		t.Fatal(err)
	}
	return gt
}

// overlaps is the documented labelling rule: window [s, s+step) is active
// when it overlaps the incident's [start, end).
func overlaps(s time.Time, step time.Duration, start time.Time, end *time.Time) bool {
	return start.Before(s.Add(step)) && (end == nil || end.After(s))
}

// LabelTolerance is the documented tolerance of labels that only metrics
// found (docs/decisions/0011-label-merge-and-validation.md): a window may
// differ from the ground truth only within this distance of a ticket-less
// incident's start or end. Ticketed incidents must match exactly.
const LabelTolerance = 3 * time.Minute

func TestLabelsEqualGroundTruth(t *testing.T) {
	e := setup(t)
	rows := readWindows(t, e.versionDir())
	gt := readTruth(t, e.demo)
	const step = time.Minute
	var ticketed, unticketed int
	for _, g := range gt {
		if g.Ticket == nil {
			unticketed++
		} else {
			ticketed++
		}
	}
	if ticketed < 5 || unticketed < 1 {
		t.Fatalf("demo should have >=5 ticketed and >=1 ticket-less incidents, got %d and %d", ticketed, unticketed)
	}
	near := func(a, b time.Time) bool { d := a.Sub(b); return d <= LabelTolerance && d >= -LabelTolerance }
	var mismatches []string
	var active, unticketedWindows, tolerated int
	for _, r := range rows {
		want, soft := false, false
		for _, g := range gt {
			hit := false
			for _, ent := range g.Entities {
				if ent == r.Entity {
					hit = true
				}
			}
			if !hit {
				continue
			}
			if overlaps(r.WindowStart, step, g.Start, g.End) {
				want = true
				if g.Ticket == nil {
					unticketedWindows++
				}
			}
			if g.Ticket == nil && (near(r.WindowStart, g.Start) || (g.End != nil && near(r.WindowStart, *g.End))) {
				soft = true
			}
		}
		if want {
			active++
		}
		if r.IncidentActive != want {
			if soft {
				tolerated++
			} else if len(mismatches) < 10 {
				mismatches = append(mismatches, fmt.Sprintf("%s %s: incident_active=%v, ground truth %v", r.WindowStart.Format(time.RFC3339), r.Entity, r.IncidentActive, want))
			}
		}
		if r.IncidentActive != (r.Phase == "incident") {
			t.Fatalf("%s %s: incident_active=%v but phase=%s", r.WindowStart, r.Entity, r.IncidentActive, r.Phase)
		}
	}
	if len(mismatches) > 0 {
		t.Fatalf("labels differ from the ground truth beyond the tolerance:\n%s", strings.Join(mismatches, "\n"))
	}
	if active == 0 || unticketedWindows == 0 {
		t.Fatalf("expected labelled windows and ticket-less incident windows, got %d and %d", active, unticketedWindows)
	}
	if limit := int(2 * LabelTolerance / step * time.Duration(unticketed)); tolerated > limit {
		t.Fatalf("%d windows differ within the tolerance, more than %d", tolerated, limit)
	}
	t.Logf("%d windows active, matching ground truth (%d ticket-less); %d windows differ within the %s tolerance", active, unticketedWindows, tolerated, LabelTolerance)
}

func TestNoRawIdentifierPublished(t *testing.T) {
	e := setup(t)
	needles := identifierNeedles(t, e.demo) // raw_test.go
	leaks, err := anonymize.ScanDir(context.Background(), e.versionDir(), needles, 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaks {
		t.Errorf("raw identifier in %s column %q row %d: %s", l.File, l.Column, l.Row, l.Needle)
	}
}

func TestChecksumsVerify(t *testing.T) {
	e := setup(t)
	cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	cmd.Dir = e.versionDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sha256sum -c failed: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), ": OK"); n < 6 {
		t.Fatalf("only %d files verified:\n%s", n, out)
	}
}

// run executes the opsdata binary and returns stdout, stderr and the error.
func run(t *testing.T, e env, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = filepath.Dir(e.demo) // the spec's relative paths are relative to the repo root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func TestReexportIsByteIdentical(t *testing.T) {
	e := setup(t)
	out := t.TempDir()
	if _, stderr, err := run(t, e, "export", "--spec", e.spec, "--output", "file://"+out); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	sameVersion(t, e.versionDir(), filepath.Join(out, "demo-cluster", e.version), "a second export of the same inputs")
	// A third run into the same output is a no-op, not an overwrite.
	stdout, stderr, err := run(t, e, "export", "--spec", e.spec, "--output", "file://"+out)
	if err != nil || !strings.Contains(stdout, "already published") {
		t.Fatalf("re-export should be an idempotent no-op: err=%v\n%s%s", err, stdout, stderr)
	}
}

// sameVersion fails unless every file of the published version want is
// in got with the same bytes (got names what made it, for the messages).
func sameVersion(t *testing.T, want, got, what string) {
	t.Helper()
	compared := 0
	err := filepath.Walk(want, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil {
			t.Errorf("%s missing from %s: %v", rel, what, err)
			return nil
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs in %s", rel, what)
		}
		compared++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if compared < 10 {
		t.Fatalf("compared only %d files", compared)
	}
}

// TestFeaturesEqualPromQL evaluates a few features directly with
// Prometheus's engine at the documented timestamps (window end) and
// compares them with the windows table.
func TestFeaturesEqualPromQL(t *testing.T) {
	e := setup(t)
	s, err := spec.Load(e.spec)
	if err != nil {
		t.Fatal(err)
	}
	src, err := promtsdb.Open(context.Background(), filepath.Join(e.demo, "tsdb"), time.Duration(s.Metrics.LookbackDelta))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	rows := readWindows(t, e.versionDir())
	exprs := map[string]string{}
	for _, f := range s.Metrics.Features {
		exprs[f.Name] = f.Expr
	}
	pick := func(r windowRow) map[string]*float64 {
		return map[string]*float64{"requests_per_second": r.Requests, "errors_per_second": r.Errors, "latency_p99_seconds": r.Latency, "cpu_utilization": r.CPU, "memory_bytes": r.Memory}
	}
	checked := 0
	for i := 0; i < len(rows); i += len(rows) / 37 {
		r := rows[i]
		for name, got := range pick(r) {
			ts := r.WindowStart.Add(time.Minute)
			q, err := src.Engine().NewInstantQuery(context.Background(), src.Queryable(), nil, exprs[name], ts)
			if err != nil {
				t.Fatal(err)
			}
			res := q.Exec(context.Background())
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			vec, _ := res.Vector()
			var want *float64
			for _, smp := range vec {
				if smp.Metric.Get("service") == r.Entity {
					v := smp.F
					want = &v
				}
			}
			q.Close()
			switch {
			case want == nil && got == nil:
			case want == nil || got == nil:
				t.Errorf("%s %s %s: windows has %v, PromQL %v", name, r.WindowStart, r.Entity, got, want)
			case !(*want == *got || (math.IsNaN(*want) && math.IsNaN(*got))):
				t.Errorf("%s %s %s: windows %v != PromQL %v", name, r.WindowStart, r.Entity, *got, *want)
			default:
				checked++
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d feature values compared", checked)
	}
}

func TestMalformedLogLinesCounted(t *testing.T) {
	e := setup(t)
	b, err := os.ReadFile(filepath.Join(e.versionDir(), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		BadInput map[string]struct {
			Count    int64            `json:"count"`
			Reasons  map[string]int64 `json:"reasons"`
			Examples []string         `json:"examples"`
		} `json:"bad_input"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	text, ok := m.BadInput["log:text-services"]
	if !ok || text.Reasons["bad_timestamp"] < 2 || len(text.Examples) == 0 || !strings.Contains(text.Examples[0], "cart.log:") {
		t.Fatalf("manifest should count cart.log's unparseable timestamps with file:line examples, got %+v", m.BadInput)
	}
	if j := m.BadInput["log:json-services"]; j.Count < 2 {
		t.Fatalf("manifest should count checkout.jsonl's broken lines, got %+v", m.BadInput)
	}
}
