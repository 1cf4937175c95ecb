package runner_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/internal/benchutil"
	"github.com/opsdata/opsdata/internal/promtest"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/pipeline/sources/promapi"
)

const benchFixtureEnv = "OPSDATA_EXPORT_BENCH_GEN"

// TestGenerateExportBenchFixture is the export benchmarks' generator (one
// day of the demo cluster with its OpenMetrics), run in a child process
// so its memory is not counted; it does nothing in a normal test run.
func TestGenerateExportBenchFixture(t *testing.T) {
	dir := os.Getenv(benchFixtureEnv)
	if dir == "" {
		return
	}
	sum, err := demo.Generate(context.Background(), demo.Config{Dir: filepath.Join(dir, "demo-data"), Duration: 24 * time.Hour, OpenMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sum)
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// benchFixture is the cached one-day demo and its summary.
func benchFixture(b *testing.B) (string, demo.Summary) {
	b.Helper()
	dir := benchutil.ChildFixture(b, "opsdata-bench-export-1d", "summary.json", "TestGenerateExportBenchFixture", benchFixtureEnv)
	var sum demo.Summary
	raw, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err == nil {
		err = json.Unmarshal(raw, &sum)
	}
	if err != nil {
		b.Fatal(err)
	}
	return dir, sum
}

// benchExport runs the windowed export of the fixture's day b.N times and
// returns the output directory of the last run.
func benchExport(b *testing.B, dir string, comps pipeline.Components, url string) (string, *runner.Result) {
	b.Helper()
	sp, specBytes := demoSpec(b, dir, func(s string) string {
		s = strings.Replace(s, "to: 2026-01-05T06:00:00Z", "to: 2026-01-06T00:00:00Z", 1)
		if url != "" {
			s = strings.Replace(s, "  source: tsdb\n", "  source: prometheus\n  prometheus:\n    url: "+url+"\n", 1)
		}
		return s
	})
	var out string
	var res *runner.Result
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out = b.TempDir()
		var err error
		res, err = runner.Export(context.Background(), runner.Options{Spec: sp, SpecBytes: specBytes, Output: "file://" + out, CodeVersion: "bench", Components: comps})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	benchutil.Report(b, float64(res.Rows["windows"])*float64(b.N), "windows")
	return out, res
}

// BenchmarkExportEmbedded: the demo spec's windowed export of one day of
// the demo cluster (6 services × 3 instances, 1-minute windows, 8 PromQL
// features, logs and tickets) with the embedded engine over the TSDB.
// Also reports the metrics table's bytes per published value and per
// source sample against the TSDB block's bytes per sample (same data).
func BenchmarkExportEmbedded(b *testing.B) {
	dir, sum := benchFixture(b)
	out, res := benchExport(b, dir, components(), "")
	metricsBytes := benchutil.DirBytes(filepath.Join(out, "demo-cluster", res.Version, "metrics"))
	tsdbBytes := benchutil.DirBytes(filepath.Join(dir, "demo-data", "tsdb"))
	b.ReportMetric(float64(metricsBytes)/float64(res.Rows["metrics"]), "metrics-bytes/row")
	b.ReportMetric(float64(metricsBytes)/float64(sum.Samples), "metrics-bytes/tsdb-sample")
	b.ReportMetric(float64(tsdbBytes)/float64(sum.Samples), "tsdb-bytes/sample")
}

// BenchmarkExportLive: the same export as BenchmarkExportEmbedded through
// a real Prometheus (query_range over HTTP), started on 127.0.0.1 over a
// promtool backfill of the same day's OpenMetrics (not timed).
func BenchmarkExportLive(b *testing.B) {
	dir, _ := benchFixture(b)
	prom, promtool := promtest.Require(b)
	data := filepath.Join(b.TempDir(), "promdata")
	promtest.Backfill(b, promtool, filepath.Join(dir, "demo-data", "metrics.om"), data)
	srv := promtest.Start(b, prom, data, 5*time.Minute)
	comps := components()
	comps.Metrics["prometheus"] = promapi.Factory()
	benchExport(b, dir, comps, srv.URL)
}

// BenchmarkExportRerun: the same one-day export as BenchmarkExportEmbedded,
// run again over unchanged inputs into the output it published: the run
// returns on the recorded input fingerprint (decision 0032) before opening
// the TSDB or any log file. Reports the re-run's time against the first.
func BenchmarkExportRerun(b *testing.B) {
	dir, _ := benchFixture(b)
	sp, specBytes := demoSpec(b, dir, func(s string) string {
		return strings.Replace(s, "to: 2026-01-05T06:00:00Z", "to: 2026-01-06T00:00:00Z", 1)
	})
	o := runner.Options{Spec: sp, SpecBytes: specBytes, Output: "file://" + b.TempDir(), CodeVersion: "bench", Components: components()}
	start := time.Now()
	if _, err := runner.Export(context.Background(), o); err != nil {
		b.Fatal(err)
	}
	first := time.Since(start)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := runner.Export(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		if !res.AlreadyPublished {
			b.Fatal("the re-run was not recognised as published")
		}
	}
	b.StopTimer()
	b.ReportMetric(first.Seconds(), "first-run-s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "rerun-s")
	b.ReportMetric(benchutil.PeakRSSMiB(), "peak-RSS-MiB")
}
