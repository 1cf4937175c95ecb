package raw

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/internal/benchutil"
)

const noisyGenEnv = "OPSDATA_RAW_NOISY_GEN"

// noisySeries and noisyStep shape the block: 10,000 series × 1 day at 15 s
// (57.6 M samples), as a real Prometheus scrapes them.
const (
	noisySeries = 10_000
	noisyStep   = 15 * time.Second
)

// noisyDaysEnv makes the block longer (BenchmarkRawNoisyBlock2Days: memory
// must stay flat in the block's size).
const noisyDaysEnv = "OPSDATA_RAW_NOISY_DAYS"

func noisyDays(t testing.TB) int {
	switch d := os.Getenv(noisyDaysEnv); d {
	case "", "1":
		return 1
	case "2":
		return 2
	default:
		t.Fatalf("%s=%q: want 1 or 2", noisyDaysEnv, d)
		return 0
	}
}

// TestGenerateNoisyBlock writes the noisy block in a child process (see
// BenchmarkRawNoisyBlock), shaped like a real Prometheus's rather than the
// demo's smooth series. Targets (job, instance) are scraped every 15 s at
// their own offset, and every series of a target carries the scrape's
// timestamp; most scrapes land exactly on the target's schedule (Prometheus
// aligns timestamps within scrape.timestamp-tolerance, 2 ms), about one in
// twelve is a few to tens of ms late. Per target: up (mostly 1), integer
// counters whose increments are Poisson-like around a per-series rate (many
// nearly idle) with an occasional reset, CPU-seconds counters in
// hundredths, float gauges with noise (hundredths and full precision),
// integral gauges (memory in pages on a random walk, small counts with
// jitter), constant info gauges; and high-churn pod series that live one to
// three hours. Deterministic (fixed seed).
func TestGenerateNoisyBlock(t *testing.T) {
	dir := os.Getenv(noisyGenEnv)
	if dir == "" {
		return
	}
	days := noisyDays(t)
	tsdbDir := filepath.Join(dir, "tsdb")
	// A block range far beyond the data: the head then takes the samples
	// series by series (it only accepts samples within half a range of its
	// newest one), and the one block written still spans just the range.
	w, err := tsdb.NewBlockWriter(promslog.NewNopLogger(), tsdbDir, int64(100*365*24*time.Hour/time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	start := demo.DefaultStart.UnixMilli()
	steps := days * int((24*time.Hour)/noisyStep)
	step := noisyStep.Milliseconds()
	ts := make([]int64, steps)
	n := 0
	add := func(lset labels.Labels, from, to int, val func(i int) float64) {
		if n == noisySeries {
			return
		}
		app := w.Appender(ctx)
		var ref storage.SeriesRef
		for i := from; i < to; i++ {
			if ref, err = app.Append(ref, lset, ts[i], val(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		n++
	}
	for tg := 0; n < noisySeries; tg++ {
		job := noisyJobs[tg%len(noisyJobs)]
		inst := fmt.Sprintf("10.%d.%d.%d:9100", tg/65536%256, tg/256%256, tg%256)
		offset := r.Int64N(step)
		for i := range ts {
			ts[i] = start + offset + int64(i)*step
			if r.IntN(12) == 0 { // a late scrape
				ts[i] += 3 + r.Int64N(40)
			}
		}
		target := func(name string, kv ...string) labels.Labels {
			return labels.FromStrings(append([]string{"__name__", name, "job", job, "instance", inst}, kv...)...)
		}
		add(target("up"), 0, steps, func(int) float64 {
			if r.IntN(5000) == 0 {
				return 0
			}
			return 1
		})
		for _, c := range []string{"200", "201", "204", "301", "400", "401", "403", "404", "429", "500", "502", "503"} {
			for _, h := range []string{"/api", "/login"} {
				lambda := math.Exp(r.Float64()*11 - 8) // 0.0003 … 20 per second: many nearly idle
				add(target("http_requests_total", "code", c, "handler", h), 0, steps, counter(r, lambda*15, 1))
			}
		}
		for cpu := range 1 {
			for _, mode := range []string{"user", "system", "idle", "iowait"} {
				util := r.Float64()
				add(target("node_cpu_seconds_total", "cpu", fmt.Sprint(cpu), "mode", mode), 0, steps, counter(r, util*15*100, 0.01))
			}
		}
		for _, g := range []string{"node_load1", "node_load5"} {
			add(target(g), 0, steps, gaugeHundredths(r, 0.5+r.Float64()*4, 0.2))
		}
		add(target("node_hwmon_temp_celsius", "sensor", "temp1"), 0, steps, gaugeHundredths(r, 40+r.Float64()*20, 0.5))
		add(target("go_gc_duration_seconds", "quantile", "0.5"), 0, steps, func(int) float64 { return 1e-4 * (1 + r.ExpFloat64()) })
		mem := float64(r.IntN(1<<20)) * 4096
		add(target("node_memory_Active_bytes"), 0, steps, func(int) float64 {
			if r.IntN(3) == 0 {
				mem = math.Max(0, mem+float64(r.IntN(513)-256)*4096)
			}
			return mem
		})
		gor := 20 + r.IntN(200)
		add(target("go_goroutines"), 0, steps, func(int) float64 { return float64(gor + r.IntN(7) - 3) })
		add(target("process_open_fds"), 0, steps, func(int) float64 { return float64(gor/2 + r.IntN(3)) })
		add(target("node_uname_info", "release", "6.1.0"), 0, steps, func(int) float64 { return 1 })
		add(target("machine_cpu_cores"), 0, steps, func(int) float64 { return 8 })
		// Churn: pods of this target's node that live one to three hours.
		for range 1 {
			from := r.IntN(steps - 720)
			to := from + 240 + r.IntN(480)
			pod := fmt.Sprintf("web-%08x-%05x", r.Uint32(), r.IntN(1<<20))
			add(target("container_cpu_usage_seconds_total", "pod", pod), from, to, counter(r, 15*r.Float64()*100, 0.01))
			add(target("container_memory_working_set_bytes", "pod", pod), from, to, func(int) float64 {
				return float64(r.IntN(1<<16)+1<<16) * 4096
			})
		}
	}
	if _, err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

var noisyJobs = []string{"node", "api", "web", "db", "cache", "queue", "auth", "search"}

// counter is a counter whose increment per scrape is Poisson-like with
// mean mean (in units of unit), resetting to 0 about once a day.
func counter(r *rand.Rand, mean, unit float64) func(int) float64 {
	var v float64
	return func(int) float64 {
		if r.IntN(5760) == 0 {
			v = 0
			return v
		}
		inc := math.Round(mean + math.Sqrt(mean)*r.NormFloat64())
		v += math.Max(0, inc)
		return math.Round(v) * unit
	}
}

// gaugeHundredths is a gauge around base, slowly varying, with noise of
// standard deviation sd, reported in hundredths.
func gaugeHundredths(r *rand.Rand, base, sd float64) func(int) float64 {
	phase := r.Float64() * 6
	return func(i int) float64 {
		return math.Round((base*(1+0.3*math.Sin(float64(i)/900+phase))+sd*r.NormFloat64())*100) / 100
	}
}

// BenchmarkRawNoisyBlock: the raw export's read-and-write path (TSDB →
// samples and raw_series tables) over the noisy 10k-series day, the block
// the guide's reference converter figures are for. Reports samples/s,
// bytes/sample of the samples table against the block's own, and peak RSS.
func BenchmarkRawNoisyBlock(b *testing.B) { benchNoisy(b, 1) }

// BenchmarkRawNoisyBlock2Days: the same 10k series over two days (twice
// the samples): peak RSS must not grow with the block.
func BenchmarkRawNoisyBlock2Days(b *testing.B) { benchNoisy(b, 2) }

// releaseEveryEnv overrides releaseEvery for a sweep of the memory/CPU
// trade-off (BENCHMARKS.md); 0 never releases (the behaviour before).
const releaseEveryEnv = "OPSDATA_RAW_RELEASE_EVERY"

// workersEnv sets Options.Workers (default 0: GOMAXPROCS).
const workersEnv = "OPSDATA_RAW_WORKERS"

func benchNoisy(b *testing.B, days int) {
	b.Setenv(noisyDaysEnv, fmt.Sprint(days))
	if v := os.Getenv(releaseEveryEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			b.Fatalf("%s=%q: want a number of samples >= 0", releaseEveryEnv, v)
		}
		defer func(old int64) { releaseEvery = old }(releaseEvery)
		releaseEvery = n
	}
	if v := os.Getenv(workersEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			b.Fatalf("%s=%q: want a number of workers >= 0", workersEnv, v)
		}
		defer func(old int) { benchWorkers = old }(benchWorkers)
		benchWorkers = n
	}
	cache := benchutil.ChildFixture(b, fmt.Sprintf("opsdata-bench-raw-noisy-v2-10k-%dd", days), "done", "TestGenerateNoisyBlock", noisyGenEnv)
	// A minute on each side: the scrape offsets put samples past midnight.
	benchRawDay(b, filepath.Join(cache, "tsdb"), demo.DefaultStart.Add(-time.Minute), demo.DefaultStart.Add(time.Duration(days)*24*time.Hour+time.Minute))
}
