//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/internal/promtest"
)

// The live-server tests run the real Prometheus (Debian's 2.42) over a
// promtool backfill of the demo cluster's OpenMetrics and compare with the
// embedded engine (Prometheus v0.315 = 3.x) over the demo's own TSDB.
//
// The demo's scrapes are offset by 7.5 s so that no sample sits exactly on
// a range boundary: Prometheus 3 made range selectors left-open, (t-5m, t],
// where 2.x includes a sample at t-5m, so on-boundary samples would make
// every rate() differ between the two versions. See
// docs/decisions/0006-live-prometheus-equivalence.md.
var (
	liveStart    = time.Date(2026, 1, 5, 0, 0, 7, 500e6, time.UTC)
	liveDuration = 6 * time.Hour
	liveOnce     sync.Once
	liveDemo     string
	liveErr      error
)

// liveFixture generates the 6 h demo (with metrics.om) once per test binary.
func liveFixture(t *testing.T) string {
	t.Helper()
	liveOnce.Do(func() {
		dir, err := os.MkdirTemp("", "opsdata-live-")
		if err != nil {
			liveErr = err
			return
		}
		liveDemo = filepath.Join(dir, "demo")
		_, liveErr = demo.Generate(context.Background(), demo.Config{Dir: liveDemo, Start: liveStart, Duration: liveDuration, OpenMetrics: true})
	})
	if liveErr != nil {
		t.Fatalf("generate the live demo: %v", liveErr)
	}
	return liveDemo
}

func TestMain(m *testing.M) {
	code := m.Run()
	if liveDemo != "" {
		os.RemoveAll(filepath.Dir(liveDemo))
	}
	os.Exit(code)
}

// liveEnv starts a fresh Prometheus over a fresh backfill of the fixture.
func liveEnv(t *testing.T) (bin, specText, demoDir string, srv *promtest.Server) {
	t.Helper()
	bin, specPath := os.Getenv("OPSDATA_BIN"), os.Getenv("OPSDATA_SPEC")
	if bin == "" || specPath == "" {
		t.Fatal("OPSDATA_BIN and OPSDATA_SPEC must be set: run `make test-e2e`")
	}
	prom, promtool := promtest.Require(t)
	demoDir = liveFixture(t)
	data := filepath.Join(t.TempDir(), "promdata")
	promtest.Backfill(t, promtool, filepath.Join(demoDir, "metrics.om"), data)
	srv = promtest.Start(t, prom, data, 5*time.Minute)
	b, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	return bin, string(b), demoDir, srv
}

// liveSpec rewrites the demo spec for the 6 h fixture; with url set the
// metrics come from the server instead of the TSDB.
func liveSpec(t *testing.T, specText, demoDir, out, url string) string {
	t.Helper()
	s := strings.ReplaceAll(specText, "./demo-data", demoDir)
	s = strings.Replace(s, "output: file://./out", "output: file://"+out, 1)
	s = strings.Replace(s, "to: 2026-01-08T00:00:00Z", "to: 2026-01-05T06:00:00Z", 1)
	// The rule labeler evaluates over the TSDB only (for now); drop it from
	// both exports so they differ in the metric source alone.
	if i := strings.Index(s, "  - kind: rule\n"); i >= 0 {
		j := i + len("  - kind: rule\n")
		for j < len(s) && strings.HasPrefix(s[j:], "    ") {
			j += strings.IndexByte(s[j:], '\n') + 1
		}
		s = s[:i] + s[j:]
	}
	if url != "" {
		s = strings.Replace(s, "  source: tsdb\n", "  source: prometheus\n  prometheus:\n    url: "+url+"\n    retries: 2\n    max_concurrency: 2\n", 1)
	}
	if !strings.Contains(s, "to: 2026-01-05T06:00:00Z") || (url != "" && !strings.Contains(s, "source: prometheus")) {
		t.Fatal("datasets/demo.yaml changed shape; update liveSpec")
	}
	path := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runBin(bin string, args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd := exec.Command(bin, args...)
	// The demo spec's relative paths (./datasets/...) are relative to the
	// repository root, where `make` runs opsdata.
	cmd.Dir = filepath.Dir(filepath.Dir(os.Getenv("OPSDATA_SPEC")))
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// table is a Parquet table read generically: column names and rows.
type table struct {
	cols []string
	rows [][]parquet.Value
}

func readTable(t *testing.T, dir string) table {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "date=*", "*.parquet"))
	if len(files) == 0 {
		t.Fatalf("no parquet files under %s", dir)
	}
	sort.Strings(files)
	var tb table
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := fh.Stat()
		pf, err := parquet.OpenFile(fh, st.Size())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var cols []string
		for _, c := range pf.Schema().Columns() {
			cols = append(cols, strings.Join(c, "."))
		}
		if tb.cols == nil {
			tb.cols = cols
		} else if strings.Join(cols, ",") != strings.Join(tb.cols, ",") {
			t.Fatalf("%s: columns %v differ from %v", f, cols, tb.cols)
		}
		for _, rg := range pf.RowGroups() {
			rr := rg.Rows()
			buf := make([]parquet.Row, 256)
			for {
				n, err := rr.ReadRows(buf)
				for _, r := range buf[:n] {
					tb.rows = append(tb.rows, append([]parquet.Value(nil), r.Clone()...))
				}
				if err != nil {
					break
				}
			}
			rr.Close()
		}
		fh.Close()
	}
	return tb
}

// relTol is the tolerance for feature values: the two engines sum in a
// different order (Prometheus 3 uses Kahan summation in sum/avg), which
// moves results by a few ulps, never more.
const relTol = 1e-9

func TestLiveFeaturesEqualEmbedded(t *testing.T) {
	bin, specText, demoDir, srv := liveEnv(t)
	outEmb, outLive := filepath.Join(t.TempDir(), "emb"), filepath.Join(t.TempDir(), "live")
	if _, stderr, err := runBin(bin, "export", "--spec", liveSpec(t, specText, demoDir, outEmb, "")); err != nil {
		t.Fatalf("embedded export: %v\n%s", err, stderr)
	}
	if _, stderr, err := runBin(bin, "export", "--spec", liveSpec(t, specText, demoDir, outLive, srv.URL)); err != nil {
		t.Fatalf("live export: %v\n%s\nserver log: %s", err, stderr, srv.Log)
	}
	version := "2026-01-05_2026-01-05T0600Z"
	emb := readTable(t, filepath.Join(outEmb, "demo-cluster", version, "windows"))
	live := readTable(t, filepath.Join(outLive, "demo-cluster", version, "windows"))
	if strings.Join(emb.cols, ",") != strings.Join(live.cols, ",") {
		t.Fatalf("columns differ:\nembedded %v\nlive     %v", emb.cols, live.cols)
	}
	if len(emb.rows) != len(live.rows) || len(emb.rows) != 6*60*6 {
		t.Fatalf("rows: embedded %d, live %d, want %d", len(emb.rows), len(live.rows), 6*60*6)
	}
	// Windows whose end is less than the 5m rate range after the first
	// scrape see counters start from nothing; Prometheus 3 extrapolates
	// those towards zero differently from 2.42 (decision 0006).
	warmup := liveStart.Add(5 * time.Minute)
	var compared, exact, skipped int
	for i := range emb.rows {
		wsMs := emb.rows[i][0].Int64()
		inWarmup := time.UnixMilli(wsMs).Add(time.Minute).Before(warmup)
		for c := range emb.cols {
			a, b := emb.rows[i][c], live.rows[i][c]
			where := fmt.Sprintf("row %d (%s, %s) column %s", i, time.UnixMilli(wsMs).UTC().Format(time.RFC3339), emb.rows[i][1], emb.cols[c])
			if a.IsNull() != b.IsNull() {
				t.Errorf("%s: embedded %v, live %v", where, a, b)
				continue
			}
			if a.IsNull() {
				continue
			}
			if a.Kind() != parquet.Double {
				if !parquet.Equal(a, b) {
					t.Errorf("%s: embedded %v, live %v", where, a, b)
				}
				continue
			}
			if inWarmup {
				skipped++
				continue
			}
			x, y := a.Double(), b.Double()
			compared++
			if x == y {
				exact++
				continue
			}
			if math.Abs(x-y) > relTol*math.Max(math.Abs(x), math.Abs(y)) {
				t.Errorf("%s: embedded %v, live %v (relative difference %.3g > %g)", where, x, y, math.Abs(x-y)/math.Abs(x), relTol)
			}
		}
	}
	t.Logf("compared %d feature values (%d bit-identical), skipped %d in the first 5 minutes", compared, exact, skipped)
	if compared < 10000 {
		t.Fatalf("only %d values compared", compared)
	}
}

// TestPrometheusStoppedMidExport kills the server after the export's
// third query: the export must fail non-zero, say Prometheus failed, and
// leave no visible version.
func TestPrometheusStoppedMidExport(t *testing.T) {
	bin, specText, demoDir, srv := liveEnv(t)
	target, _ := url.Parse(srv.URL)
	var queries atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/query_range") && queries.Add(1) == 3 {
			srv.Kill()
		}
		proxy.ServeHTTP(w, r)
	})
	ps := &http.Server{Handler: handler}
	ln := listenLocal(t)
	go ps.Serve(ln)
	defer ps.Close()

	out := filepath.Join(t.TempDir(), "out")
	start := time.Now()
	_, stderr, err := runBin(bin, "export", "--spec", liveSpec(t, specText, demoDir, out, "http://"+ln.Addr().String()))
	if err == nil {
		t.Fatalf("export succeeded although Prometheus was killed (after %d queries)", queries.Load())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("want a non-zero exit, got %v", err)
	}
	for _, want := range []string{"prometheus", "failed after 3 attempts", "feature "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "panic") {
		t.Errorf("stderr shows a panic:\n%s", stderr)
	}
	t.Logf("failed in %s with: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr))
	assertNoVersion(t, filepath.Join(out, "demo-cluster"))
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func assertNoVersion(t *testing.T, dsDir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dsDir, "latest")); err == nil {
		t.Errorf("%s/latest exists after a failed export", dsDir)
	}
	if m, _ := filepath.Glob(filepath.Join(dsDir, "*", "manifest.json")); len(m) > 0 {
		t.Errorf("a manifest was published after a failed export: %v", m)
	}
	if _, err := os.Stat(filepath.Join(dsDir, "catalog.json")); err == nil {
		t.Errorf("%s/catalog.json exists after a failed export", dsDir)
	}
}
