package raw

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/tsdbutil"

	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/opsdata/opsdata/schemas"
)

var update = flag.Bool("update", false, "rewrite testdata/workers.sha256")

// The workers block spans midnight, so the export writes two days' files.
var (
	workersFrom = from.Add(-2 * time.Hour)
	workersTo   = from.Add(2 * time.Hour)
)

// workersBlock writes a block of 12 scrape targets × 6 series at 15 s over
// [workersFrom, workersTo), with scrape jitter, a counter, noisy gauges, a
// staleness marker and a series that starts late; with histogram, one
// target also holds a native histogram series.
func workersBlock(t *testing.T, histogram bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tsdb")
	w, err := tsdb.NewBlockWriter(promslog.NewNopLogger(), dir, int64(100*24*time.Hour/time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := int(workersTo.Sub(workersFrom) / (15 * time.Second))
	for tg := range 12 {
		job, inst := []string{"node", "api", "db"}[tg%3], fmt.Sprintf("10.0.0.%d:9100", tg)
		for s := range 6 {
			lset := labels.FromStrings("__name__", fmt.Sprintf("m%d", s%3), "job", job, "instance", inst, "k", fmt.Sprint(s))
			app := w.Appender(ctx)
			var ref storage.SeriesRef
			for i := range steps {
				if s == 5 && i < steps/3 { // starts late
					continue
				}
				ts := workersFrom.Add(time.Duration(i)*15*time.Second).UnixMilli() + int64(tg*37+(i*i)%7)
				v := float64(i*(s+1)) + math.Sin(float64(i+tg))*float64(s%2)
				if s == 4 && i == steps/2 {
					v = math.Float64frombits(value.StaleNaN)
				}
				if ref, err = app.Append(ref, lset, ts, v); err != nil {
					t.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if histogram && tg == 7 {
			app := w.Appender(ctx)
			lset := labels.FromStrings("__name__", "h", "job", job, "instance", inst)
			for i := range 10 {
				if _, err := app.AppendHistogram(0, lset, workersFrom.Add(time.Duration(i)*time.Minute).UnixMilli(), tsdbutil.GenerateTestHistogram(int64(i)), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// exportWorkers exports every series of the block at tsdbDir over
// [workersFrom, workersTo) into a new directory with o.
func exportWorkers(t *testing.T, tsdbDir string, o Options) (string, Stats, error) {
	t.Helper()
	db, err := promtsdb.OpenDir(tsdbDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(workersFrom.UnixMilli(), workersTo.UnixMilli()-1)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	o.Selectors, o.From, o.To, o.Dir, o.Key = all, workersFrom, workersTo, t.TempDir(), testKey
	st, err := Write(context.Background(), q, o)
	return o.Dir, st, err
}

// TestWorkersWriteSameBytes: however many workers write the samples files
// (and whichever shard writes them), every file has the same bytes, and
// the bytes are those of testdata/workers.sha256 (-update rewrites it;
// the samples format of decision 0039 — before it, the single-goroutine
// writer's files were byte-identical to 1, 2 and 4 workers').
func TestWorkersWriteSameBytes(t *testing.T) {
	dir := workersBlock(t, false)
	var want map[string]string
	for _, tc := range []struct {
		workers, shard, shards int
	}{{1, 0, 1}, {2, 0, 1}, {4, 0, 1}, {16, 0, 1}, {2, 1, 3}, {3, 2, 3}} {
		t.Run(fmt.Sprintf("workers=%d,shard=%d/%d", tc.workers, tc.shard, tc.shards), func(t *testing.T) {
			out, st, err := exportWorkers(t, dir, Options{Buckets: 4, Workers: tc.workers, Shard: tc.shard, Shards: tc.shards})
			if err != nil {
				t.Fatal(err)
			}
			got := dirSums(t, out)
			if tc.shards == 1 {
				if st.Series != 12*6 || st.Stale != 12 || st.Files != len(got) || !slices.ContainsFunc(slices.Collect(maps.Keys(got)), func(p string) bool { return strings.Contains(p, "date=2026-01-04") }) {
					t.Fatalf("stats %+v, files %v: want 72 series, 12 stale samples, files of both days", st, slices.Sorted(maps.Keys(got)))
				}
				if want == nil {
					want = got
					checkGolden(t, got)
				} else if !maps.Equal(got, want) {
					t.Errorf("%d workers wrote %v, 1 worker %v", tc.workers, got, want)
				}
				return
			}
			for p, sum := range got {
				if want[p] != sum {
					t.Errorf("shard %d/%d: %s has sha256 %s, one process %s", tc.shard, tc.shards, p, sum, want[p])
				}
			}
		})
	}
}

func checkGolden(t *testing.T, sums map[string]string) {
	t.Helper()
	golden := filepath.Join("testdata", "workers.sha256")
	var b strings.Builder
	for _, p := range slices.Sorted(maps.Keys(sums)) {
		fmt.Fprintf(&b, "%s  %s\n", sums[p], p)
	}
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("the files' bytes changed (a change of the samples format needs a decision note and `go test -run TestWorkersWriteSameBytes -update`):\ngot\n%swant\n%s", b.String(), want)
	}
}

// TestWorkerFailureLeavesNoSamplesFile: a series the export refuses (a
// native histogram) fails the whole export with every worker count, and
// no samples file is left, finished or half-written.
func TestWorkerFailureLeavesNoSamplesFile(t *testing.T) {
	dir := workersBlock(t, true)
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			out, _, err := exportWorkers(t, dir, Options{Buckets: 4, Workers: workers})
			if !errors.Is(err, ErrNativeHistogram) {
				t.Fatalf("err = %v, want ErrNativeHistogram", err)
			}
			var left []string
			filepath.WalkDir(filepath.Join(out, schemas.TableSamples), func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					left = append(left, p)
				}
				return nil
			})
			// Files finished before the failure may stay (the staging
			// directory is discarded); none may be half-written.
			for _, p := range left {
				if strings.HasSuffix(p, ".tmp") {
					t.Errorf("left a half-written file %s", p)
				}
			}
		})
	}
}

// TestSampleRowSchema: the rows the writer encodes have the schema of the
// published contract (schemas.Sample), name included.
func TestSampleRowSchema(t *testing.T) {
	want := parquet.SchemaOf(new(schemas.Sample))
	if sampleSchema.String() != want.String() || sampleSchema.Name() != want.Name() {
		t.Errorf("sampleRow's schema\n%s\nschemas.Sample's\n%s", sampleSchema, want)
	}
}
