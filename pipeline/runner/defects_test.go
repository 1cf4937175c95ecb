package runner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsdata/opsdata/datasets/pull"
	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/schemas"
	specpkg "github.com/opsdata/opsdata/spec"
)

// The tickets table is declared sorted by ticket_id, whatever the order in
// which the sources return tickets (by start time): ids out of time order.
func TestTicketsSortedByID(t *testing.T) {
	dir := shortDemo(t)
	sp, b := withTickets(t, dir, `[
  {"id": "OPS-9", "title": "late id, early start", "status": "resolved", "severity": "major",
   "created": "2026-01-05T01:10:00Z", "resolved": "2026-01-05T01:30:00Z", "services": ["checkout"]},
  {"id": "OPS-10", "title": "early id, late start", "status": "resolved", "severity": "minor",
   "created": "2026-01-05T03:10:00Z", "resolved": "2026-01-05T03:20:00Z", "services": ["cart"]},
  {"id": "ALPHA-1", "title": "middle", "status": "resolved", "severity": "minor",
   "created": "2026-01-05T02:10:00Z", "resolved": "2026-01-05T02:20:00Z", "services": ["cart"]}
]`)
	out := t.TempDir()
	res, err := export(t, sp, b, out)
	if err != nil {
		t.Fatal(err)
	}
	rows := readTable[schemas.Ticket](t, filepath.Join(out, "demo-cluster", res.Version), schemas.TableTickets)
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.TicketID
	}
	if len(ids) != 3 || !sort.StringsAreSorted(ids) {
		t.Fatalf("tickets rows in order %q, want sorted by ticket_id", ids)
	}
}

// The card says where features are evaluated exactly as the code does
// (decision 0005): at the window's end, never its start.
func TestCardFeatureTimestamps(t *testing.T) {
	dir := shortDemo(t)
	sp, b := demoSpec(t, dir, nil)
	out := t.TempDir()
	res, err := export(t, sp, b, out)
	if err != nil {
		t.Fatal(err)
	}
	card, err := os.ReadFile(filepath.Join(out, "demo-cluster", res.Version, schemas.ReadmeFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(card), "evaluated at every window start") || strings.Contains(string(card), "evaluated at its start") {
		t.Error("the card says features are evaluated at the window start")
	}
	if !strings.Contains(string(card), "evaluated at the end of every window") {
		t.Error("the card does not say features are evaluated at the window end")
	}
}

// A TSDB as operators copy it — blocks without wal/, symlinked into a
// directory of their own — exports the same windows as the original.
func TestExportFromSymlinkedBlocksWithoutWAL(t *testing.T) {
	dir := shortDemo(t)
	orig := filepath.Join(dir, "demo-data", "tsdb")
	links := filepath.Join(t.TempDir(), "tsdb")
	if err := os.Mkdir(links, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(orig)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && e.Name() != "wal" {
			if err := os.Symlink(filepath.Join(orig, e.Name()), filepath.Join(links, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	sp, b := demoSpec(t, dir, nil)
	out1 := t.TempDir()
	r1, err := export(t, sp, b, out1)
	if err != nil {
		t.Fatal(err)
	}
	sp2, b2 := demoSpec(t, dir, func(s string) string {
		if !strings.Contains(s, "path: "+orig+"\n") {
			t.Fatal("demo.yaml changed shape: no metrics.tsdb.path line")
		}
		return strings.Replace(s, "path: "+orig+"\n", "path: "+links+"\n", 1)
	})
	out2 := t.TempDir()
	r2, err := export(t, sp2, b2, out2)
	if err != nil {
		t.Fatalf("export from symlinked blocks without wal/: %v", err)
	}
	for _, day := range []string{"windows/date=2026-01-05/part-00000.parquet", "metrics/date=2026-01-05/part-00000.parquet"} {
		a, _ := os.ReadFile(filepath.Join(out1, "demo-cluster", r1.Version, day))
		c, _ := os.ReadFile(filepath.Join(out2, "demo-cluster", r2.Version, day))
		if len(a) == 0 || string(a) != string(c) {
			t.Errorf("%s differs between the original TSDB and its symlinked blocks", day)
		}
	}
}

// A range without any metric sample or log line is refused unless the
// operator asks for it: an empty dataset must not be published by mistake.
func TestEmptyRangeRefused(t *testing.T) {
	dir := shortDemo(t)
	sp, b := demoSpec(t, dir, func(s string) string {
		return strings.Replace(s, "  from: 2026-01-05T00:00:00Z\n  to: 2026-01-05T06:00:00Z\n", "  from: 2026-01-05T07:00:00Z\n  to: 2026-01-05T08:00:00Z\n", 1)
	})
	if !sp.Range.From.Equal(time.Date(2026, 1, 5, 7, 0, 0, 0, time.UTC)) {
		t.Fatal("demo.yaml changed shape: range not moved")
	}
	out := t.TempDir()
	if _, err := export(t, sp, b, out); !errors.Is(err, runner.ErrEmpty) {
		t.Fatalf("export of a range after the data: %v, want ErrEmpty", err)
	}
	// Tickets only: windows with labels and nothing else.
	spec := fmt.Sprintf(`dataset: tickets-only
licence: CC-BY-4.0
range: {from: 2026-01-05T00:00:00Z, to: 2026-01-05T06:00:00Z}
tickets:
  - {name: t, format: json, path: %s, fields: {entities: services, timezone: timezone}}
labelers:
  - {kind: ticket}
anonymize:
  key: {file: %s}
`, filepath.Join(dir, "demo-data", "tickets.json"), filepath.Join(dir, "demo-data", "anonymization.key"))
	s2, err := specpkg.Parse("tickets.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	o := runner.Options{Spec: s2, SpecBytes: []byte(spec), Output: "file://" + out, CodeVersion: "test", Components: components()}
	if _, err := runner.Export(context.Background(), o); !errors.Is(err, runner.ErrEmpty) {
		t.Fatalf("tickets-only export: %v, want ErrEmpty", err)
	}
	o.AllowEmpty = true
	res, err := runner.Export(context.Background(), o)
	if err != nil {
		t.Fatalf("tickets-only export with AllowEmpty: %v", err)
	}
	if res.Rows[schemas.TableWindows] == 0 {
		t.Error("AllowEmpty published no windows")
	}
}

// Severities and statuses are published from closed vocabularies: known
// spellings are mapped, anything else is counted and published as
// unknown/other, never as written (a status may hold an e-mail address).
func TestTicketVocabularies(t *testing.T) {
	dir := shortDemo(t)
	sp, b := withTickets(t, dir, `[
  {"id": "OPS-1", "title": "a", "status": "In Progress", "severity": "SEV-1",
   "created": "2026-01-05T01:10:00Z", "resolved": "2026-01-05T01:30:00Z", "services": ["checkout"]},
  {"id": "OPS-2", "title": "b", "status": "escalated to carol.k@acme-corp.example", "severity": "bananas",
   "created": "2026-01-05T03:10:00Z", "resolved": "2026-01-05T03:20:00Z", "services": ["cart"]}
]`)
	out := t.TempDir()
	res, err := export(t, sp, b, out)
	if err != nil {
		t.Fatal(err)
	}
	v := filepath.Join(out, "demo-cluster", res.Version)
	got := map[string][2]string{}
	for _, r := range readTable[schemas.Ticket](t, v, schemas.TableTickets) {
		got[r.TicketID] = [2]string{r.Status, r.Severity}
	}
	want := map[string][2]string{"OPS-1": {"open", "critical"}, "OPS-2": {"other", "unknown"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tickets (status, severity) = %v, want %v", got, want)
	}
	for _, in := range readTable[schemas.Incident](t, v, schemas.TableIncidents) {
		if in.Severity != "critical" && in.Severity != "unknown" {
			t.Errorf("incident %s severity %q", in.IncidentID, in.Severity)
		}
	}
	rep := res.Problems["labels:ticket"]
	if rep.Reasons["unknown_severity"] != 1 || res.Problems["tickets:ops-tickets"].Reasons["unknown_status"] != 1 {
		t.Errorf("problems %+v: want one unknown_severity (labels:ticket) and one unknown_status (tickets:ops-tickets)", res.Problems)
	}
}

// withTickets is the demo spec with its tickets replaced by the JSON array
// text (written to a file of its own).
func withTickets(t *testing.T, dir, text string) (*specpkg.Spec, []byte) {
	t.Helper()
	tickets := filepath.Join(t.TempDir(), "tickets.json")
	if err := os.WriteFile(tickets, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return demoSpec(t, dir, func(s string) string {
		return strings.Replace(s, filepath.Join(dir, "demo-data", "tickets.json"), tickets, 1)
	})
}

// countingLogs counts the log sources opened through a factory.
func countingLogs(f pipeline.LogSourceFactory, opened *atomic.Int64) pipeline.LogSourceFactory {
	next := f.New
	f.New = func(name string, cfg pipeline.Config, p *pipeline.Problems) (pipeline.LogSource, error) {
		src, err := next(name, cfg, p)
		if err != nil {
			return nil, err
		}
		return countingSource{src, opened}, nil
	}
	return f
}

type countingSource struct {
	pipeline.LogSource
	opened *atomic.Int64
}

func (c countingSource) Open(ctx context.Context, g pipeline.Grid) (pipeline.LogIterator, error) {
	c.opened.Add(1)
	return c.LogSource.Open(ctx, g)
}

// A re-run over unchanged inputs is recognised before any data is read:
// no metric source is opened, no log source read; a changed input file
// makes the next run read again.
func TestRerunReadsNothing(t *testing.T) {
	dir := shortDemo(t)
	sp, b := demoSpec(t, dir, nil)
	out := t.TempDir()
	var metricsOpened, logsOpened atomic.Int64
	comps := components()
	m := comps.Metrics["tsdb"]
	next := m.New
	m.New = func(ctx context.Context, s specpkg.Metrics, cfg pipeline.Config, p *pipeline.Problems) (pipeline.MetricSource, error) {
		metricsOpened.Add(1)
		return next(ctx, s, cfg, p)
	}
	comps.Metrics["tsdb"] = m
	for k, f := range comps.Logs {
		comps.Logs[k] = countingLogs(f, &logsOpened)
	}
	run := func() *runner.Result {
		t.Helper()
		res, err := runner.Export(context.Background(), runner.Options{Spec: sp, SpecBytes: b, Output: "file://" + out, CodeVersion: "test", Components: comps})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := run()
	if first.AlreadyPublished || metricsOpened.Load() == 0 || logsOpened.Load() == 0 {
		t.Fatalf("first run: already=%v metrics=%d logs=%d", first.AlreadyPublished, metricsOpened.Load(), logsOpened.Load())
	}
	if _, err := os.Stat(filepath.Join(out, "demo-cluster", schemas.StateDir, "inputs", first.Version+".json")); err != nil {
		t.Fatalf("no input state recorded: %v", err)
	}
	metricsOpened.Store(0)
	logsOpened.Store(0)
	second := run()
	if !second.AlreadyPublished || metricsOpened.Load() != 0 || logsOpened.Load() != 0 {
		t.Fatalf("re-run: already=%v, opened %d metric and %d log sources; want none", second.AlreadyPublished, metricsOpened.Load(), logsOpened.Load())
	}
	if second.Rows[schemas.TableWindows] != first.Rows[schemas.TableWindows] {
		t.Errorf("re-run reports %d windows, the version has %d", second.Rows[schemas.TableWindows], first.Rows[schemas.TableWindows])
	}
	// Touch a log file: the inputs changed, so the run reads them again
	// (and finds the same bytes: still already published).
	logFile := filepath.Join(dir, "demo-data", "logs", "cart.log")
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(logFile, later, later); err != nil {
		t.Fatal(err)
	}
	third := run()
	if logsOpened.Load() == 0 {
		t.Error("a changed input file did not make the run read again")
	}
	if !third.AlreadyPublished {
		t.Error("unchanged content must still be recognised as published")
	}
}

// Template ids hold across versions: exporting a log as two consecutive
// versions gives (nearly) every line the id a single export gives it, since
// the second version's miners resume from the sealed registry the first
// left in the bucket; re-running the first version gives its same bytes.
func TestTemplateIDsAcrossVersions(t *testing.T) {
	dir := shortDemo(t)
	sp, b := demoSpec(t, dir, nil)
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	exportRange := func(out, version string, from, to time.Time) *runner.Result {
		t.Helper()
		res, err := runner.Export(context.Background(), runner.Options{Spec: sp, SpecBytes: b, Output: "file://" + out, CodeVersion: "test",
			Components: components(), From: from, To: to, Version: version})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	ids := func(out, version string) map[string]string {
		m := map[string]string{}
		for _, l := range readTable[schemas.Log](t, filepath.Join(out, "demo-cluster", version), schemas.TableLogs) {
			m[fmt.Sprintf("%s:%s:%d", l.Source, l.File, l.Line)] = l.TemplateID
		}
		return m
	}
	one := t.TempDir()
	exportRange(one, "all", t0, t0.Add(6*time.Hour))
	whole := ids(one, "all")
	two := t.TempDir()
	exportRange(two, "first", t0, t0.Add(3*time.Hour))
	firstManifest, _ := os.ReadFile(filepath.Join(two, "demo-cluster", "first", schemas.ManifestFile))
	exportRange(two, "second", t0.Add(3*time.Hour), t0.Add(6*time.Hour))
	second := ids(two, "second")
	if len(second) == 0 {
		t.Fatal("the second version has no log lines")
	}
	same := 0
	for k, id := range second {
		if whole[k] == id {
			same++
		}
	}
	frac := float64(same) / float64(len(second))
	t.Logf("%d of %d lines (%.4f) keep the single export's id", same, len(second), frac)
	if frac < 0.999 {
		t.Errorf("%.4f of the second version's %d lines have the single export's template id, want >= 0.999", frac, len(second))
	}
	// Re-running the first version resumes from the state it started from.
	os.Remove(filepath.Join(two, "demo-cluster", schemas.StateDir, "inputs", "first.json")) // force a full run
	exportRange(two, "first", t0, t0.Add(3*time.Hour))
	again, _ := os.ReadFile(filepath.Join(two, "demo-cluster", "first", schemas.ManifestFile))
	if !bytes.Equal(firstManifest, again) {
		t.Error("re-running the first version changed its manifest")
	}
	// The registry in the bucket never holds raw text readable without the key.
	sealed, err := os.ReadFile(filepath.Join(two, "demo-cluster", schemas.StateDir, "templates", "latest.sealed"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("acme")) || bytes.Contains(sealed, []byte("GET /")) {
		t.Error("the template registry is stored in clear")
	}
}

// A version holds only what the export wrote for it: no scratch marks or
// other hidden files of the run (they would differ between processes).
func TestVersionHasNoRunFiles(t *testing.T) {
	dir := shortDemo(t)
	sp, b := demoSpec(t, dir, nil)
	out := t.TempDir()
	res, err := export(t, sp, b, out)
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(filepath.Join(out, "demo-cluster", res.Version), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			t.Errorf("published %s", strings.TrimPrefix(p, out))
		}
		return err
	})
}

// With public_url, the card's and the catalog page's download commands
// work as written: here the output is served over HTTP, and the card's
// `opsdata pull URL/DATASET@VERSION DIR` pulls a version that verifies.
func TestPublicURLLinksWork(t *testing.T) {
	dir := shortDemo(t)
	out := t.TempDir()
	srv := httptest.NewServer(http.FileServer(http.Dir(out)))
	defer srv.Close()
	sp, b := demoSpec(t, dir, func(s string) string {
		return strings.Replace(s, "output: file://./out\n", "output: file://./out\npublic_url: "+srv.URL+"/\n", 1)
	})
	if sp.PublicURL == "" {
		t.Fatal("demo.yaml changed shape: public_url not set")
	}
	res, err := export(t, sp, b, out)
	if err != nil {
		t.Fatal(err)
	}
	card, _ := os.ReadFile(filepath.Join(out, "demo-cluster", res.Version, schemas.ReadmeFile))
	page, _ := os.ReadFile(filepath.Join(out, "demo-cluster", "index.html"))
	want := "opsdata pull " + srv.URL + "/demo-cluster@" + res.Version
	if !strings.Contains(string(card), want) || !strings.Contains(string(page), want) {
		t.Fatalf("card or catalog page lacks %q", want)
	}
	bkt, prefix, err := bucket.OpenBucket(context.Background(), srv.URL, bucket.ForReading())
	if err != nil {
		t.Fatal(err)
	}
	got := t.TempDir()
	if _, err := pull.Pull(context.Background(), bkt, prefix, "demo-cluster", res.Version, got, pull.Options{}); err != nil {
		t.Fatalf("the card's pull: %v", err)
	}
	cmd := exec.Command("sha256sum", "--quiet", "-c", schemas.SumsFile)
	cmd.Dir = got
	if outb, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c after pulling over HTTP: %v\n%s", err, outb)
	}
}
