package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/schemas"
)

// TestResumeEqualsBatch is the property the nightly mode stands on
// (decision 0038): an export resumed at a day from the checkpoint of an
// export that ended there publishes the same table files, byte for byte,
// as one export of the whole range with the same final inputs — with a
// ticket that arrived in between relabelling a carried day. A log line that
// arrives late for a carried day makes the resume refuse (ErrResume)
// rather than publish a day that misses it.
func TestResumeEqualsBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("five exports of up to three days")
	}
	if raceEnabled && os.Getenv("OPSDATA_NIGHTLY_RACE") == "" {
		t.Skip("minutes under -race: make test-go runs it without -race (OPSDATA_NIGHTLY_RACE=1 to run it here)")
	}
	dir := t.TempDir()
	if _, err := demo.Generate(context.Background(), demo.Config{Dir: filepath.Join(dir, "demo-data"), Duration: 72 * time.Hour, Instances: 1, Scrape: time.Minute}); err != nil {
		t.Fatal(err)
	}
	sp, b := demoSpec(t, dir, func(s string) string {
		s = strings.Replace(s, "to: 2026-01-05T06:00:00Z", "to: 2026-01-08T00:00:00Z", 1)
		// With the rule labeler, which resumes too (one instance per
		// service at 1-minute scrapes keeps it cheap under -race).
		return strings.Replace(s, "    recovery: 15m\n", "    recovery: 15m\n  - kind: rule\n    rules: ["+filepath.Join(repoRoot(t), "datasets", "demo-rules.yml")+"]\n", 1)
	})
	if !strings.Contains(string(b), "kind: rule") {
		t.Fatal("the spec has no rule labeler")
	}
	d0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ctx := context.Background()
	out := t.TempDir()
	opts := func(from, to time.Time, version string) runner.Options {
		return runner.Options{Spec: sp, SpecBytes: b, From: from, To: to, Version: version, Output: "file://" + out, CodeVersion: "test", Components: components(), TempDir: t.TempDir()}
	}

	// Night 1: days 1 and 2, keeping the checkpoint.
	o := opts(d0, d0.Add(2*day), "night-1")
	var sealed []byte
	o.SaveCheckpoint = func(_ context.Context, b []byte) error { sealed = b; return nil }
	first, err := runner.Export(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) == 0 {
		t.Fatal("no checkpoint")
	}
	if strings.Contains(string(sealed), "checkout") {
		t.Fatal("the checkpoint is not sealed: a raw service name is readable")
	}

	// Late truth: a ticket filed now about an incident on day 1.
	addTicket(t, filepath.Join(dir, "demo-data", "tickets.json"), map[string]any{
		"id": "OPS-900", "title": "late: checkout errors", "body": "filed after the fact", "status": "resolved", "severity": "major",
		"type": "error_burst", "created": "2026-01-07T02:00:00Z", "impact_start": "2026-01-05T10:00:00Z", "resolved": "2026-01-05T10:40:00Z",
		"services": []string{"checkout"},
	})

	// Night 2 resumes at day 3; a one-shot export of the three days with
	// the same inputs is the reference.
	o = opts(d0, d0.Add(3*day), "night-2")
	o.Resume = &runner.Resume{At: d0.Add(2 * day), State: sealed, Previous: first.Manifest}
	var sealed2 []byte
	o.SaveCheckpoint = func(_ context.Context, b []byte) error { sealed2 = b; return nil }
	resumed, err := runner.Export(ctx, o)
	if err != nil {
		t.Fatalf("resumed export: %v", err)
	}
	o = opts(d0, d0.Add(3*day), "batch")
	o.Output = "file://" + t.TempDir()
	batch, err := runner.Export(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	tables := func(m *schemas.Manifest) map[string]schemas.File {
		out := map[string]schemas.File{}
		for _, f := range m.Files {
			if f.Table != "" {
				out[f.Path] = f
			}
		}
		return out
	}
	got, want := tables(resumed.Manifest), tables(batch.Manifest)
	if len(got) != len(want) {
		t.Errorf("resumed export has %d table files, batch %d", len(got), len(want))
	}
	for p, w := range want {
		if g, ok := got[p]; !ok || g.SHA256 != w.SHA256 {
			t.Errorf("%s: resumed %s, batch %s", p, g.SHA256, w.SHA256)
		}
	}
	// Malformed input is counted once, as by the batch export, although
	// the resumed one parsed only what was new.
	if len(batch.Manifest.BadInput) == 0 {
		t.Fatal("the demo has no malformed input to compare")
	}
	for in, w := range batch.Manifest.BadInput {
		g := resumed.Manifest.BadInput[in]
		if g.Count != w.Count || !maps.Equal(g.Reasons, w.Reasons) {
			t.Errorf("bad input %s: resumed %d %v, batch %d %v", in, g.Count, g.Reasons, w.Count, w.Reasons)
		}
	}
	// The late ticket changed day 1's windows (relabelled, not recomputed).
	if f := tables(first.Manifest)["windows/date=2026-01-05/part-00000.parquet"]; f.SHA256 == got["windows/date=2026-01-05/part-00000.parquet"].SHA256 {
		t.Error("day 1's windows did not change with the late ticket")
	}
	if f := tables(first.Manifest)["logs/date=2026-01-05/part-00000.parquet"]; f.SHA256 != got["logs/date=2026-01-05/part-00000.parquet"].SHA256 {
		t.Error("day 1's logs changed")
	}
	if n := batch.Manifest.Labels.IncidentsBySource["rule"]; n == 0 || resumed.Manifest.Labels.IncidentsBySource["rule"] != n {
		t.Errorf("rule incidents: resumed %d, batch %d (want some)", resumed.Manifest.Labels.IncidentsBySource["rule"], n)
	}
	if !maps.Equal(resumed.Manifest.Labels.WindowsByPhase, batch.Manifest.Labels.WindowsByPhase) ||
		resumed.Manifest.Labels.Windows != batch.Manifest.Labels.Windows || resumed.Manifest.Labels.LabelledWindows != batch.Manifest.Labels.LabelledWindows {
		t.Errorf("label summary: resumed %+v, batch %+v", resumed.Manifest.Labels, batch.Manifest.Labels)
	}

	// Night 3 adds no day, only another late ticket (day 2): every day is
	// carried, relabelled where the labels moved; equal to the batch again.
	addTicket(t, filepath.Join(dir, "demo-data", "tickets.json"), map[string]any{
		"id": "OPS-901", "title": "late: cart slow", "body": "filed late", "status": "resolved", "severity": "minor",
		"type": "latency_spike", "created": "2026-01-08T02:00:00Z", "impact_start": "2026-01-06T15:00:00Z", "resolved": "2026-01-06T15:20:00Z",
		"services": []string{"cart"},
	})
	o = opts(d0, d0.Add(3*day), "night-3")
	o.Resume = &runner.Resume{At: d0.Add(3 * day), State: sealed2, Previous: resumed.Manifest}
	relabelled, err := runner.Export(ctx, o)
	if err != nil {
		t.Fatalf("relabel-only export: %v", err)
	}
	o = opts(d0, d0.Add(3*day), "batch-3")
	o.Output = "file://" + t.TempDir()
	batch3, err := runner.Export(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	got, want = tables(relabelled.Manifest), tables(batch3.Manifest)
	for p, w := range want {
		if g, ok := got[p]; !ok || g.SHA256 != w.SHA256 {
			t.Errorf("relabel-only night: %s: resumed %s, batch %s", p, g.SHA256, w.SHA256)
		}
	}
	if got["windows/date=2026-01-06/part-00000.parquet"].SHA256 == tables(resumed.Manifest)["windows/date=2026-01-06/part-00000.parquet"].SHA256 {
		t.Error("the late ticket for day 2 did not change its windows")
	}
	if g, w := relabelled.Manifest.Labels.WindowsByPhase, batch3.Manifest.Labels.WindowsByPhase; !maps.Equal(g, w) {
		t.Errorf("relabel-only night: windows by phase %v, batch %v", g, w)
	}

	// A line that arrives late for a carried day: no resume.
	late := `{"ts":"2026-01-05T12:00:00Z","level":"error","service":"checkout","msg":"arrived a day late"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "demo-data", "logs", "zz-late.jsonl"), []byte(late), 0o644); err != nil {
		t.Fatal(err)
	}
	o = opts(d0, d0.Add(3*day), "night-2b")
	o.Resume = &runner.Resume{At: d0.Add(2 * day), State: sealed, Previous: first.Manifest}
	if _, err := runner.Export(ctx, o); !errors.Is(err, runner.ErrResume) {
		t.Fatalf("a late line for a carried day: %v, want ErrResume", err)
	}
}

func addTicket(t *testing.T, path string, tk map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var all []map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	all = append(all, tk)
	if b, err = json.Marshal(all); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
