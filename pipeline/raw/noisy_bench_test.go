package raw

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
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

// TestGenerateNoisyBlock writes the noisy block in a child process (see
// BenchmarkRawNoisyBlock): real shapes, unlike the demo's smooth series —
// counters with integer increments and occasional resets, scrape offsets
// with a few ms of jitter; float gauges with noise in hundredths and byte
// gauges on a random walk; mostly-constant up series; and
// high-churn series that live an hour or two. Deterministic (fixed seed).
func TestGenerateNoisyBlock(t *testing.T) {
	dir := os.Getenv(noisyGenEnv)
	if dir == "" {
		return
	}
	tsdbDir := filepath.Join(dir, "tsdb")
	// A block range far beyond the data: the head then takes the samples
	// series by series (it only accepts samples within half a range of its
	// newest one), and the one block written still spans just the day.
	w, err := tsdb.NewBlockWriter(promslog.NewNopLogger(), tsdbDir, int64(100*365*24*time.Hour/time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	start := demo.DefaultStart.UnixMilli()
	steps := int((24 * time.Hour) / noisyStep)
	for s := 0; s < noisySeries; s++ {
		app := w.Appender(ctx)
		job, inst := fmt.Sprintf("job-%d", s%40), fmt.Sprintf("10.%d.%d.%d:9100", s/65536%256, s/256%256, s%256)
		var lset labels.Labels
		from, to := 0, steps
		kind := s % 20
		switch {
		case kind < 8:
			lset = labels.FromStrings("__name__", fmt.Sprintf("http_requests_total_%d", s%97), "job", job, "instance", inst, "code", []string{"200", "404", "500"}[s%3])
		case kind < 16:
			lset = labels.FromStrings("__name__", fmt.Sprintf("node_load_%d", s%89), "job", job, "instance", inst)
		case kind < 19:
			lset = labels.FromStrings("__name__", "up", "job", job, "instance", inst)
		default: // churn: a pod that lives one to three hours
			from = r.IntN(steps - 720)
			to = from + 240 + r.IntN(480)
			lset = labels.FromStrings("__name__", "container_cpu_seconds_total", "job", job, "pod", fmt.Sprintf("web-%x", r.Uint64()))
		}
		var ref storage.SeriesRef
		v, base := 0.0, 10+r.Float64()*100
		for i := from; i < to; i++ {
			// A target is scraped at its own offset, a few ms late or early.
			ts := start + int64(i)*noisyStep.Milliseconds() + int64(s%1000) + int64(r.IntN(9)) - 4
			switch {
			case kind < 8 || kind == 19:
				if r.IntN(20000) == 0 {
					v = 0 // restart
				} else {
					v += float64(r.IntN(50))
				}
			case kind < 16:
				if s%2 == 0 { // a float gauge (a load, a ratio) in hundredths
					v = math.Round((base+5*math.Sin(float64(i)/300)+r.NormFloat64()*0.37)*100) / 100
				} else { // a byte gauge (memory) on a random walk
					v = math.Max(0, math.Round(base*1e6+v+r.NormFloat64()*4096))
				}
			default:
				v = 1
				if r.IntN(3000) == 0 {
					v = 0
				}
			}
			if ref, err = app.Append(ref, lset, ts, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
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

// BenchmarkRawNoisyBlock: the raw export's read-and-write path (TSDB →
// samples and raw_series tables) over the noisy 10k-series day, the block
// the guide's reference converter figures are for. Reports samples/s,
// bytes/sample of the samples table against the block's own, and peak RSS.
func BenchmarkRawNoisyBlock(b *testing.B) {
	cache := benchutil.ChildFixture(b, "opsdata-bench-raw-noisy-10k", "done", "TestGenerateNoisyBlock", noisyGenEnv)
	// A minute on each side: the scrape offsets put samples past midnight.
	benchRawDay(b, filepath.Join(cache, "tsdb"), demo.DefaultStart.Add(-time.Minute), demo.DefaultStart.Add(24*time.Hour+time.Minute))
}
