//go:build e2e

package e2e

import (
	"math"
	"path/filepath"
	"sort"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/schemas"
)

// TestRawRemoteReadEqualsTSDB runs `opsdata raw --source remote-read`
// against the real Prometheus of the live tests (a promtool backfill of the
// 6 h fixture's OpenMetrics) and `--source tsdb` over the fixture's own TSDB,
// for the same selector and range: the two versions must hold the same
// series (labels, anonymized alike) and the same samples, sample for sample.
func TestRawRemoteReadEqualsTSDB(t *testing.T) {
	bin, specText, demoDir, srv := liveEnv(t)
	spec := liveSpec(t, specText, demoDir, t.TempDir(), srv.URL)
	// One hour of one service's request counters: small, but several series
	// and thousands of samples, away from the fixture's edges.
	from, to := "2026-01-05T02:00:00Z", "2026-01-05T03:00:00Z"
	const match = `http_requests_total{service="checkout"}`
	export := func(source string) (dir string) {
		t.Helper()
		out := t.TempDir()
		stdout, stderr, err := runBin(bin, "raw", "--buckets", "1", "--spec", spec, "--source", source, "--match", match,
			"--from", from, "--to", to, "--version", "v", "--output", "file://"+out)
		if err != nil {
			t.Fatalf("opsdata raw --source %s: %v\nstdout:\n%s\nstderr:\n%s\nserver log: %s", source, err, stdout, stderr, srv.Log)
		}
		m, _ := filepath.Glob(filepath.Join(out, "*-raw", "v"))
		if len(m) != 1 {
			t.Fatalf("--source %s published %v, want one <dataset>-raw/v", source, m)
		}
		return m[0]
	}
	remote, local := export("remote-read"), export("tsdb")

	readSamples := func(dir string) map[int64][]schemas.Sample {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(dir, schemas.TableSamples, "date=*", "*.parquet"))
		if len(files) == 0 {
			t.Fatalf("no samples under %s", dir)
		}
		sort.Strings(files)
		out := map[int64][]schemas.Sample{}
		for _, f := range files {
			rows, err := parquet.ReadFile[schemas.Sample](f)
			if err != nil {
				t.Fatalf("read %s: %v", f, err)
			}
			for _, r := range rows {
				out[r.SeriesID] = append(out[r.SeriesID], r)
			}
		}
		return out
	}
	readSeries := func(dir string) []schemas.RawSeries {
		t.Helper()
		rows, err := parquet.ReadFile[schemas.RawSeries](filepath.Join(dir, schemas.TableRawSeries, "part-00000.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	rs, ls := readSeries(remote), readSeries(local)
	if len(ls) < 3 {
		t.Fatalf("tsdb path exported only %d series of %s", len(ls), match)
	}
	if len(rs) != len(ls) {
		t.Fatalf("raw_series: remote-read %d rows, tsdb %d", len(rs), len(ls))
	}
	for i := range ls {
		if rs[i] != ls[i] {
			t.Errorf("raw_series row %d: remote-read %+v, tsdb %+v", i, rs[i], ls[i])
		}
	}
	rsm, lsm := readSamples(remote), readSamples(local)
	count := func(m map[int64][]schemas.Sample) (n int) {
		for _, v := range m {
			n += len(v)
		}
		return n
	}
	if rn, ln := count(rsm), count(lsm); rn != ln || ln < 1000 {
		t.Fatalf("samples: remote-read %d, tsdb %d (want equal, and at least 1000)", rn, ln)
	}
	for id, want := range lsm {
		got := rsm[id]
		if len(got) != len(want) {
			t.Fatalf("series %d: remote-read %d samples, tsdb %d", id, len(got), len(want))
		}
		for j := range want {
			g, w := got[j], want[j]
			if !g.TS.Equal(w.TS) || g.Stale != w.Stale || !(g.Value == w.Value || math.IsNaN(g.Value) && math.IsNaN(w.Value)) {
				t.Fatalf("series %d sample %d: remote-read %+v, tsdb %+v", id, j, g, w)
			}
		}
	}
	t.Logf("%d series, %d samples equal between remote-read and tsdb", len(ls), count(lsm))
}
