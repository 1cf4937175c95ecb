package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/internal/benchutil"
	"github.com/opsdata/opsdata/pipeline/runner"
)

const benchDayEnv = "OPSDATA_EXPORT_DAY_GEN"

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// daySeries: the demo's services × instances of the nightly day
// (OPSDATA_BENCH_SERVICES, default 100 × 5 instances = 10k series).
func daySeries() (services, instances int) { return envInt("OPSDATA_BENCH_SERVICES", 100), 5 }

// TestGenerateExportDayFixture generates the day benchmark's TSDB in a
// child process (so its memory is not counted); it does nothing in a
// normal test run.
func TestGenerateExportDayFixture(t *testing.T) {
	dir := os.Getenv(benchDayEnv)
	if dir == "" {
		return
	}
	svcs, inst := daySeries()
	if _, err := demo.Generate(context.Background(), demo.Config{Dir: filepath.Join(dir, "demo-data"), Duration: 24 * time.Hour, Services: svcs, Instances: inst}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkExportDay is a realistic nightly day through a full export (the
// day of issue 14): the demo cluster at 100 services × 5 instances (10k
// series, one day at 15 s; the demo spec's 8 PromQL features, tickets,
// ticket and rule labels) and a JSON log source of OPSDATA_BENCH_LINES
// lines (default 5M) naming OPSDATA_BENCH_HOSTS churning hosts (default
// 350k), a few thousand users and a new client address on every third
// line; anonymize, gate and publish. OPSDATA_BENCH_DEMO_LOGS=1 adds the
// demo's own log files. Reports the wall time of each stage (s-<stage>; stages on other
// goroutines overlap).
func BenchmarkExportDay(b *testing.B) {
	svcs, _ := daySeries()
	dir := benchutil.ChildFixture(b, fmt.Sprintf("opsdata-bench-export-day-%dsvc", svcs), "done", "TestGenerateExportDayFixture", benchDayEnv)
	n := envInt("OPSDATA_BENCH_LINES", 5_000_000)
	hosts := envInt("OPSDATA_BENCH_HOSTS", 350_000)
	tmp := b.TempDir()
	logPath := filepath.Join(tmp, "app.jsonl")
	names := []string{"frontend", "checkout", "payments", "catalog", "cart", "auth"}
	var services []string
	for i := 0; i < svcs; i++ {
		s := names[i%len(names)]
		if i >= len(names) {
			s += "-" + strconv.Itoa(i/len(names)+1)
		}
		services = append(services, s)
	}
	writeBenchLogsShaped(b, logPath, n, benchLogShape{hosts: hosts, users: 3000, services: services})
	rules, err := filepath.Abs("../../datasets/demo-rules.yml")
	if err != nil {
		b.Fatal(err)
	}
	sp, specBytes := demoSpec(b, dir, func(s string) string {
		s = strings.Replace(s, "to: 2026-01-05T06:00:00Z", "to: 2026-01-06T00:00:00Z", 1)
		s = strings.Replace(s, "labelers:\n", fmt.Sprintf("labelers:\n  - kind: rule\n    rules: [%q]\n", rules), 1)
		app := fmt.Sprintf("  - {name: app, path: %q, format: jsonl, fields: {time: ts, level: level, message: msg, entity: service}}\n", logPath)
		if os.Getenv("OPSDATA_BENCH_DEMO_LOGS") != "" {
			return strings.Replace(s, "logs:\n", "logs:\n"+app, 1)
		}
		// The day: the generated lines are the day's logs; the
		// demo's own log files (1.9M lines at 100 services) only with
		// OPSDATA_BENCH_DEMO_LOGS.
		at := strings.Index(s, "\nlogs:\n") + len("\nlogs:\n")
		end := at + strings.Index(s[at:], "\n\n") + 1
		return s[:at] + app + s[end:]
	})
	var res *runner.Result
	rss := benchutil.StartRSSSampler(10 * time.Millisecond)
	b.ResetTimer()
	cpu := benchutil.CPUSeconds()
	for i := 0; i < b.N; i++ {
		var err error
		res, err = runner.Export(context.Background(), runner.Options{Spec: sp, SpecBytes: specBytes, Output: "file://" + b.TempDir(), CodeVersion: "bench", Components: components()})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu = benchutil.CPUSeconds() - cpu
	benchutil.Report(b, float64(res.Rows["logs"])*float64(b.N), "lines")
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	// Anonymous (the process's own) and file-backed (the TSDB's mapped
	// chunks and index) peaks apart: only the first is the export's memory.
	benchutil.ReportRSSSplit(b, rss.Stop())
	for _, st := range res.Stages {
		b.ReportMetric(st.Wall.Seconds(), "s-"+st.Name)
	}
}
