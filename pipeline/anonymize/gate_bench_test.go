package anonymize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/internal/benchutil"
	"github.com/opsdata/opsdata/spec"
)

// sampleRow has the shape of the raw samples table (schemas.RawSample) plus
// a dictionary-encoded string column, as the windows table has.
type sampleRow struct {
	SeriesID int64     `parquet:"series_id,delta"`
	TS       time.Time `parquet:"ts,timestamp(millisecond),delta"`
	Value    float64   `parquet:"value,split"`
	Stale    bool      `parquet:"stale"`
	Entity   string    `parquet:"entity,dict"`
}

func writeSamples(b *testing.B, path string, n int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := parquet.NewGenericWriter[sampleRow](f, parquet.Compression(&parquet.Zstd))
	rows := make([]sampleRow, 0, 8192)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		rows = append(rows, sampleRow{SeriesID: int64(i % 10000), TS: t0.Add(time.Duration(i/10000) * 15 * time.Second),
			Value: float64(i%977) * 1.0001, Stale: i%1000 == 0, Entity: fmt.Sprintf("svc-%03d", i%200)})
		if len(rows) == cap(rows) {
			if _, err := w.Write(rows); err != nil {
				b.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	if _, err := w.Write(rows); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGateNumericTable: the leakage gate over a samples-shaped table
// (2M rows: int64, timestamp, double, bool and a dictionary string column)
// with a realistic inventory. Its cost must follow the text to check, not
// the number of cells.
func BenchmarkGateNumericTable(b *testing.B) {
	const rows = 2_000_000
	dir := b.TempDir()
	writeSamples(b, filepath.Join(dir, "samples.parquet"), rows)
	needles := make([]string, 0, 20000)
	for i := 0; i < 20000; i++ {
		needles = append(needles, fmt.Sprintf("node-%05d.prod.acme.internal", i))
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		leaks, err := ScanDir(context.Background(), dir, needles, 10)
		if err != nil || len(leaks) != 0 {
			b.Fatal(leaks, err)
		}
	}
	benchutil.Report(b, float64(rows*b.N), "rows")
}

// BenchmarkInventory lists the gate's inventory (what it searches the
// staged version for) on a day of 350k learned host names, as the gate and
// the report do once each.
func BenchmarkInventory(b *testing.B) {
	a := newTest(b, spec.Anonymize{HostDomains: []string{"acme.internal"}})
	for i := range 350_000 {
		a.Learn(TypeHost, fmt.Sprintf("node-%d.prod.acme.internal", i))
	}
	a.builds.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if l, _ := a.buildInventory(); len(l) < 350_000 {
			b.Fatalf("inventory of %d values, want at least the 350k hosts", len(l))
		}
	}
}

// BenchmarkNeedleSet builds the gate's needles and their automaton from an
// inventory of 350k learned host names, as PrepareGate does while the last
// windows are written: its transient memory adds to the run's peak.
func BenchmarkNeedleSet(b *testing.B) {
	inv := make([]string, 350_000)
	for i := range inv {
		inv[i] = fmt.Sprintf("node-%d.prod.acme.internal", i)
	}
	sort.Strings(inv)
	b.ReportAllocs()
	var before, after runtime.MemStats
	var ns needleSet
	for range b.N {
		runtime.GC()
		runtime.ReadMemStats(&before)
		if ns = newNeedleSet(inv); len(ns.pats) != len(inv) {
			b.Fatalf("%d needles, want %d", len(ns.pats), len(inv))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	// What the prepared set keeps alive until the gate runs.
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "live-MiB")
	runtime.KeepAlive(ns)
}
