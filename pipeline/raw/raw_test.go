package raw

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/internal/promtest"
	"github.com/opsdata/opsdata/pipeline/sources/promapi"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/opsdata/opsdata/schemas"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

var (
	from    = demo.DefaultStart
	to      = from.Add(3 * time.Hour)
	testKey = []byte("0123456789abcdef0123456789abcdef")
	all     = [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")}}
)

type sample struct {
	t     int64
	v     float64
	stale bool
}

// sourceSamples iterates the TSDB independently of Write.
func sourceSamples(t *testing.T, dir string) map[string][]sample {
	t.Helper()
	db, err := promtsdb.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(from.UnixMilli(), to.UnixMilli()-1)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out := map[string][]sample{}
	set := q.Select(context.Background(), false, nil, all[0]...)
	for set.Next() {
		s := set.At()
		it := s.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			out[s.Labels().String()] = append(out[s.Labels().String()], sample{ts, v, value.IsStaleNaN(v)})
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readBack reads the written tables into series label string → samples.
func readBack(t *testing.T, dir string) map[string][]sample {
	t.Helper()
	parts, _ := filepath.Glob(filepath.Join(dir, "raw_series", "*.parquet"))
	var series []schemas.RawSeries
	for _, p := range parts {
		s, err := parquet.ReadFile[schemas.RawSeries](p)
		if err != nil {
			t.Fatal(err)
		}
		series = append(series, s...)
	}
	names := map[int64]string{}
	for _, s := range series {
		var m map[string]string
		if err := jsonUnmarshal(s.Labels, &m); err != nil {
			t.Fatal(err)
		}
		m[labels.MetricName] = s.Metric
		names[s.SeriesID] = labels.FromMap(m).String()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "samples", "date=*", "*.parquet"))
	sort.Strings(files)
	out := map[string][]sample{}
	for _, f := range files {
		rows, err := parquet.ReadFile[schemas.Sample](f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			out[names[r.SeriesID]] = append(out[names[r.SeriesID]], sample{r.TS.UnixMilli(), r.Value, r.Stale})
		}
	}
	return out
}

func equalSamples(a, b []sample) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].t != b[i].t || a[i].stale != b[i].stale {
			return false
		}
		if !(a[i].v == b[i].v || (math.IsNaN(a[i].v) && math.IsNaN(b[i].v))) {
			return false
		}
	}
	return true
}

func generate(t *testing.T, om bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "demo")
	if _, err := demo.Generate(context.Background(), demo.Config{Dir: dir, Duration: to.Sub(from), OpenMetrics: om}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func exportTSDB(t *testing.T, tsdbDir string) (string, Stats) {
	t.Helper()
	return exportWith(t, tsdbDir, Options{Key: testKey})
}

// exportWith writes every series of the TSDB at tsdbDir over [from, to)
// with o (its selectors, range and directory set here).
func exportWith(t *testing.T, tsdbDir string, o Options) (string, Stats) {
	t.Helper()
	db, err := promtsdb.OpenDir(tsdbDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(from.UnixMilli(), to.UnixMilli()-1)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	o.Selectors, o.From, o.To, o.Dir = all, from, to, t.TempDir()
	st, err := Write(context.Background(), q, o)
	if err != nil {
		t.Fatal(err)
	}
	return o.Dir, st
}

func TestTSDBExportEqualsSource(t *testing.T) {
	dir := generate(t, false)
	src := sourceSamples(t, filepath.Join(dir, "tsdb"))
	out, st := exportTSDB(t, filepath.Join(dir, "tsdb"))
	var n int64
	for _, s := range src {
		n += int64(len(s))
	}
	if st.Samples != n || st.Series != int64(len(src)) || n == 0 {
		t.Fatalf("wrote %d samples of %d series; the TSDB holds %d of %d", st.Samples, st.Series, n, len(src))
	}
	got := readBack(t, out)
	checked := 0
	for name, want := range src {
		if !equalSamples(got[name], want) {
			t.Fatalf("series %s: %d samples read back, %d in the TSDB, or values differ", name, len(got[name]), len(want))
		}
		checked++
	}
	t.Logf("%d series, %d samples (%d staleness markers) read back sample for sample", checked, n, st.Stale)
}

// TestRemoteReadEqualsTSDB exports the same demo through a real
// Prometheus's remote read (STREAMED_XOR_CHUNKS) over a promtool backfill.
func TestRemoteReadEqualsTSDB(t *testing.T) {
	prom, promtool := promtest.Require(t)
	dir := generate(t, true)
	data := filepath.Join(t.TempDir(), "promdata")
	promtest.Backfill(t, promtool, filepath.Join(dir, "metrics.om"), data)
	srv := promtest.Start(t, prom, data, 5*time.Minute)

	emb, _ := exportTSDB(t, filepath.Join(dir, "tsdb"))
	q, err := promapi.OpenRemoteRead(context.Background(), srv.URL, promapi.HTTPClientConfig(promapi.Config{URL: srv.URL}), time.Minute, from, to)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	live := t.TempDir()
	st, err := Write(context.Background(), q, Options{Selectors: all, From: from, To: to, Dir: live, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	a, b := dirSums(t, emb), dirSums(t, live)
	if len(a) == 0 || !maps.Equal(a, b) {
		t.Errorf("remote read wrote %v, the TSDB path %v", b, a)
	}
	t.Logf("remote read: %d series, %d samples, byte-identical", st.Series, st.Samples)
}

// dirSums is every file under dir (slash path) → its sha256.
func dirSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
