package raw

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/internal/benchutil"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
)

const benchGenEnv = "OPSDATA_RAW_BENCH_GEN"

// TestGenerateBenchBlock is the benchmark's generator, run in a child
// process (so the simulation's ~460 MB does not count in the benchmark's
// peak RSS); it does nothing in a normal test run.
func TestGenerateBenchBlock(t *testing.T) {
	dir := os.Getenv(benchGenEnv)
	if dir == "" {
		return
	}
	if _, err := demo.Generate(context.Background(), demo.Config{Dir: dir, Duration: 24 * time.Hour, Services: 100, Instances: 5}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRawTSDBToParquet: every sample of a generated block of 10,000
// series × 1 day at 15 s (57.6 M samples; the demo generator with 100
// services × 5 instances, cached in the temp dir) read from the TSDB and
// written as the samples and raw_series tables. Reports samples/s,
// bytes/sample of the samples table, the TSDB's own bytes/sample and peak RSS.
func BenchmarkRawTSDBToParquet(b *testing.B) {
	cache := benchutil.ChildFixture(b, "opsdata-bench-raw-10k", "ground_truth", "TestGenerateBenchBlock", benchGenEnv)
	benchRawDay(b, filepath.Join(cache, "tsdb"), demo.DefaultStart, demo.DefaultStart.Add(24*time.Hour))
}

// benchWorkers is Options.Workers of the benchmarks (OPSDATA_RAW_WORKERS).
var benchWorkers int

// benchRawDay exports every sample of tsdbDir in [from, to) b.N times and
// reports samples/s, bytes/sample of the samples table and of the TSDB,
// series and peak RSS.
func benchRawDay(b *testing.B, tsdbDir string, from, to time.Time) {
	var st Stats
	var out string
	rss := benchutil.StartRSSSampler(10 * time.Millisecond)
	cpu := benchutil.CPUSeconds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out = b.TempDir()
		db, err := promtsdb.OpenDir(tsdbDir)
		if err != nil {
			b.Fatal(err)
		}
		q, err := db.Querier(from.UnixMilli(), to.UnixMilli()-1)
		if err != nil {
			b.Fatal(err)
		}
		st, err = Write(context.Background(), q, Options{Selectors: all, From: from, To: to, Dir: out, Key: testKey, Workers: benchWorkers})
		q.Close()
		db.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu = benchutil.CPUSeconds() - cpu
	benchutil.ReportRSSSplit(b, rss.Stop())
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	benchutil.Report(b, float64(st.Samples)*float64(b.N), "samples")
	b.ReportMetric(float64(benchutil.DirBytes(filepath.Join(out, "samples")))/float64(st.Samples), "parquet-bytes/sample")
	b.ReportMetric(float64(benchutil.DirBytes(tsdbDir))/float64(st.Samples), "tsdb-bytes/sample")
	b.ReportMetric(float64(st.Series), "series")
}
