package runner_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opsdata/opsdata/internal/benchutil"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/spec"
)

// benchLogShape sets the cardinality of a generated day of logs: n lines
// over one day for 12 services, access lines with a distinct client
// address each, plus a mix of other templates carrying hosts, users,
// durations and ids. The zero shape is BenchmarkExportLogs' (3 worker
// hosts, 4 db hosts, 5k users, svc-0..11, JSON lines).
type benchLogShape struct {
	hosts    int      // distinct node hostnames (pods and nodes churning), 0: the fixed few
	format   string   // "logfmt" or JSON lines
	users    int      // distinct users, 0: 5000
	services []string // entity names, nil: svc-0..11
}

func writeBenchLogsShaped(tb testing.TB, path string, n int, shape benchLogShape) {
	users := shape.users
	if users == 0 {
		users = 5000
	}
	host := func(rng *rand.Rand, i int) string {
		if shape.hosts == 0 {
			return "worker-" + strconv.Itoa(i%3)
		}
		// Churn: the hosts of the day come and go in order, so a host is
		// seen for a while and new ones keep appearing all day.
		k := i*shape.hosts/n + rng.IntN(64)
		return "node-" + strconv.Itoa(k%shape.hosts)
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(7, 11))
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	step := 24 * time.Hour / time.Duration(n)
	levels := []string{"info", "info", "info", "debug", "warn", "error"}
	for i := 0; i < n; i++ {
		ts := start.Add(time.Duration(i) * step).Format("2006-01-02T15:04:05.000Z")
		svc := "svc-" + strconv.Itoa(i%12)
		if shape.services != nil {
			svc = shape.services[i%len(shape.services)]
		}
		var msg string
		switch rng.IntN(6) {
		case 0, 1:
			msg = fmt.Sprintf("GET /v1/items/%d 200 %dms client=10.%d.%d.%d", rng.IntN(100000), rng.IntN(500), rng.IntN(256), rng.IntN(256), rng.IntN(256))
		case 2:
			msg = fmt.Sprintf("connection pool to db-%d.prod.acme.internal:5432 active=%d idle=%d", rng.IntN(4), rng.IntN(50), rng.IntN(20))
		case 3:
			msg = fmt.Sprintf("user=u%d logged in from 2001:db8::%x", rng.IntN(users), rng.IntN(65536))
		case 4:
			msg = fmt.Sprintf("processed batch %d items=%d in %dms", rng.IntN(1e6), rng.IntN(1000), rng.IntN(900))
		default:
			if shape.hosts == 0 {
				msg = fmt.Sprintf("retrying call to worker-%d.prod.acme.internal attempt=%d", rng.IntN(3), rng.IntN(5))
			} else {
				msg = fmt.Sprintf("retrying call to %s.prod.acme.internal attempt=%d", host(rng, i), rng.IntN(5))
			}
		}
		h := "worker-" + strconv.Itoa(i%3)
		if shape.hosts != 0 {
			h = host(rng, i)
		}
		if shape.format == "logfmt" {
			fmt.Fprintf(w, "ts=%s level=%s service=%s host=%s.prod.acme.internal msg=%q\n", ts, levels[rng.IntN(len(levels))], svc, h, msg)
		} else {
			fmt.Fprintf(w, `{"ts":%q,"level":%q,"service":%q,"host":"%s.prod.acme.internal","msg":%q}`+"\n", ts, levels[rng.IntN(len(levels))], svc, h, msg)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkExportLogs is the whole logs path of a real export: read and
// parse JSON lines, mine templates (pass 1), anonymize, match and count
// (pass 2), write logs/log_templates/log_counts/windows, run the leakage
// gate over everything and publish. OPSDATA_BENCH_LINES sets the size
// (default 5M lines, about 0.9 GB of JSON).
func BenchmarkExportLogs(b *testing.B) { benchExportLogs(b, "jsonl") }

// BenchmarkExportLogsLogfmt is BenchmarkExportLogs on the same lines
// written as logfmt.
func BenchmarkExportLogsLogfmt(b *testing.B) { benchExportLogs(b, "logfmt") }

func benchExportLogs(b *testing.B, format string) {
	n := 5_000_000
	if v, err := strconv.Atoi(os.Getenv("OPSDATA_BENCH_LINES")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	logPath := filepath.Join(dir, "app.log")
	writeBenchLogsShaped(b, logPath, n, benchLogShape{format: format})
	keyPath := filepath.Join(dir, "key")
	if err := os.WriteFile(keyPath, []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	src := fmt.Sprintf(`dataset: bench-logs
licence: CC-BY-4.0
range: {from: 2026-01-05T00:00:00Z, to: 2026-01-06T00:00:00Z}
logs:
  - {name: app, path: %q, format: %s, fields: {time: ts, level: level, message: msg, entity: service}}
log_features: {top_templates: 5}
anonymize:
  key: {file: %q}
  log_fields: {host: host}
  host_domains: [acme.internal]
`, logPath, format, keyPath)
	sp, err := spec.Parse("bench.yaml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	var res *runner.Result
	b.ResetTimer()
	cpu := benchutil.CPUSeconds()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, fmt.Sprintf("out-%d", i))
		var err error
		res, err = runner.Export(context.Background(), runner.Options{Spec: sp, SpecBytes: []byte(src), Output: "file://" + out, Components: components()})
		if err != nil {
			b.Fatal(err)
		}
		if got := res.Rows["logs"]; got != int64(n) {
			b.Fatalf("logs rows %d, want %d", got, n)
		}
	}
	cpu = benchutil.CPUSeconds() - cpu
	benchutil.Report(b, float64(n*b.N), "lines")
	// CPU time varies far less than wall time on a shared machine: the
	// figure to compare builds by.
	b.ReportMetric(cpu*1e6/float64(n*b.N), "cpu-µs/line")
	b.ReportMetric(float64(benchutil.DirBytes(filepath.Join(dir, "out-0")))/float64(n), "published-bytes/line")
	for _, st := range res.Stages {
		b.ReportMetric(st.Wall.Seconds(), "s-"+st.Name)
	}
}
