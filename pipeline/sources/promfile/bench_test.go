package promfile

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdata/opsdata/internal/benchutil"
)

// benchFile writes 200 series x 10,000 samples (15 s apart, ~42 h) in
// time order, as exporters and promtool dumps write them.
func benchFile(b *testing.B, format Format) (string, int) {
	const nSeries, nSamples = 200, 10_000
	path := filepath.Join(b.TempDir(), "series."+string(format))
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if format == CSV {
		fmt.Fprintln(w, "timestamp,__name__,service,instance,value")
	} else {
		fmt.Fprintln(w, "# TYPE http_requests counter")
	}
	for i := 0; i < nSamples; i++ {
		ts := t0/1000 + int64(i)*15
		for s := 0; s < nSeries; s++ {
			if format == CSV {
				fmt.Fprintf(w, "%d,http_requests_total,svc-%d,svc-%d-%d:8080,%d\n", ts, s%20, s%20, s, i*7+s)
			} else {
				fmt.Fprintf(w, "http_requests_total{service=\"svc-%d\",instance=\"svc-%d-%d:8080\"} %d %d\n", s%20, s%20, s, i*7+s, ts)
			}
		}
	}
	if format == OpenMetrics {
		fmt.Fprintln(w, "# EOF")
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path, nSeries * nSamples
}

func benchLoad(b *testing.B, format Format) {
	path, n := benchFile(b, format)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, err := Open(context.Background(), format, Config{Path: path}, 5*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		src.Close()
	}
	benchutil.Report(b, float64(n*b.N), "samples")
}

// BenchmarkLoadCSV loads 2M samples from CSV into the temporary TSDB.
func BenchmarkLoadCSV(b *testing.B) { benchLoad(b, CSV) }

// BenchmarkLoadOpenMetrics loads 2M samples from OpenMetrics text.
func BenchmarkLoadOpenMetrics(b *testing.B) { benchLoad(b, OpenMetrics) }
