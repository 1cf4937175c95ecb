//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// identifierNeedles is every raw identifier the demo generator planted
// (ground_truth/identifiers.json) plus the anonymization key itself.
func identifierNeedles(t *testing.T, demo string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(demo, "ground_truth", "identifiers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ids map[string][]string
	if err := json.Unmarshal(b, &ids); err != nil {
		t.Fatal(err)
	}
	var needles []string
	for kind, vs := range ids {
		if len(vs) == 0 && kind != "tokens" {
			t.Errorf("identifiers.json lists no %s", kind)
		}
		needles = append(needles, vs...)
	}
	if len(needles) < 20 {
		t.Fatalf("expected a substantial identifier inventory, got %d", len(needles))
	}
	key, err := os.ReadFile(filepath.Join(demo, "anonymization.key"))
	if err != nil {
		t.Fatal(err)
	}
	return append(needles, strings.TrimSpace(string(key)))
}

type tsdbSeries struct {
	lset labels.Labels
	ts   []int64
	vals []float64
}

// tsdbSamples reads the demo TSDB directly (not through pipeline/raw):
// every float sample in [from, to) of the series matching ms, in label order.
func tsdbSamples(t *testing.T, dir string, from, to time.Time, ms ...*labels.Matcher) []tsdbSeries {
	t.Helper()
	db, err := tsdb.OpenDBReadOnly(dir, t.TempDir(), promslog.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(from.UnixMilli(), to.UnixMilli()-1)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), true, nil, ms...)
	var out []tsdbSeries
	var it chunkenc.Iterator
	for set.Next() {
		s := tsdbSeries{lset: set.At().Labels()}
		it = set.At().Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			if ts >= from.UnixMilli() && ts < to.UnixMilli() {
				s.ts, s.vals = append(s.ts, ts), append(s.vals, v)
			}
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRawExportEqualsTSDB runs `opsdata raw` on the demo TSDB for one
// metric over 6 hours and checks the published version against the block:
// the same number of samples, every series sample for sample (matched by
// its kept labels and samples: ids follow the keyed target order and the
// published labels, decision 0036, so no raw order), labels anonymized,
// checksums valid, and no raw identifier anywhere.
func TestRawExportEqualsTSDB(t *testing.T) {
	e := setup(t)
	b, err := os.ReadFile(e.spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse(e.spec, b)
	if err != nil {
		t.Fatal(err)
	}
	from := s.Range.From.Add(21 * time.Hour) // 21:00-03:00 crosses midnight: two date partitions
	to := from.Add(6 * time.Hour)
	out := t.TempDir()
	stdout, stderr, err := run(t, e, "raw", "--buckets", "1", "--spec", e.spec, "--match", "http_requests_total",
		"--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--version", "subset", "--output", "file://"+out)
	if err != nil {
		t.Fatalf("opsdata raw: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	vdir := filepath.Join(out, s.Dataset+"-raw", "subset")
	if latest, err := os.ReadFile(filepath.Join(out, s.Dataset+"-raw", "latest")); err != nil || strings.TrimSpace(string(latest)) != "subset" {
		t.Fatalf("latest of %s-raw = %q, %v; want subset", s.Dataset, latest, err)
	}

	want := tsdbSamples(t, filepath.Join(e.demo, "tsdb"), from, to, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "http_requests_total"))
	var wantN int
	for _, s := range want {
		wantN += len(s.ts)
	}
	if len(want) < 10 || wantN < 10000 {
		t.Fatalf("demo TSDB holds only %d series / %d samples of http_requests_total in the range", len(want), wantN)
	}

	files, _ := filepath.Glob(filepath.Join(vdir, schemas.TableSamples, "date=*", "*.parquet"))
	if len(files) != 2 {
		t.Fatalf("want 2 date partitions of samples, got %v", files)
	}
	sort.Strings(files)
	got := map[int64][]schemas.Sample{}
	var gotN int
	for _, f := range files {
		rows, err := parquet.ReadFile[schemas.Sample](f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		for _, r := range rows {
			got[r.SeriesID] = append(got[r.SeriesID], r)
		}
		gotN += len(rows)
	}
	if gotN != wantN {
		t.Fatalf("published %d samples, the TSDB holds %d", gotN, wantN)
	}
	series, err := parquet.ReadFile[schemas.RawSeries](filepath.Join(vdir, schemas.TableRawSeries, "part-00000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != len(want) {
		t.Fatalf("raw_series has %d rows, the TSDB %d series", len(series), len(want))
	}
	// Every published series: ids 0..n-1 in row order, and a key of its
	// kept labels and samples; each TSDB series must find its own.
	published := map[string]int64{}
	for i, rs := range series {
		id := int64(i)
		if rs.SeriesID != id || rs.Metric != "http_requests_total" {
			t.Fatalf("raw_series row %d = %+v", i, rs)
		}
		var lab map[string]string
		if err := json.Unmarshal([]byte(rs.Labels), &lab); err != nil {
			t.Fatalf("raw_series %d labels %q: %v", id, rs.Labels, err)
		}
		var ts []int64
		var vals []float64
		for _, g := range got[id] {
			ts, vals = append(ts, g.TS.UnixMilli()), append(vals, g.Value)
		}
		published[seriesKey(lab["service"], lab["code"], lab["job"], ts, vals)] = id
		// Pseudonymized labels are present.
		for _, name := range []string{"instance"} {
			if lab[name] == "" {
				t.Errorf("series %d has no %s label: %s", id, name, rs.Labels)
			}
		}
	}
	for _, w := range want {
		id, ok := published[seriesKey(w.lset.Get("service"), w.lset.Get("code"), w.lset.Get("job"), w.ts, w.vals)]
		if !ok {
			t.Fatalf("TSDB series %s (%d samples): no published series has its kept labels and samples", w.lset, len(w.ts))
		}
		delete(published, seriesKey(w.lset.Get("service"), w.lset.Get("code"), w.lset.Get("job"), w.ts, w.vals))
		var lab map[string]string
		if err := json.Unmarshal([]byte(series[id].Labels), &lab); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"instance", "pod", "node"} {
			if raw := w.lset.Get(name); raw != "" && (lab[name] == "" || lab[name] == raw) {
				t.Errorf("series %d label %s = %q, not anonymized (raw %q)", id, name, lab[name], raw)
			}
		}
	}

	cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
	cmd.Dir = vdir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c in %s: %v\n%s", vdir, err, b)
	}
	leaks, err := anonymize.ScanDir(context.Background(), out, identifierNeedles(t, e.demo), 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaks {
		t.Errorf("raw identifier in %s column %q row %d: %s", l.File, l.Column, l.Row, l.Needle)
	}
}

// TestRawExportRefusals: bad requests exit non-zero with a message saying
// what to fix, and publish nothing.
func TestRawExportRefusals(t *testing.T) {
	e := setup(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad selector", []string{"--match", "up{"}, `--match "up{"`},
		{"nothing matches", []string{"--match", "no_such_metric"}, "no sample matches"},
		{"unknown source", []string{"--source", "carrier-pigeon"}, "not a metric source that reads raw samples; use prometheus, tsdb"},
		{"empty range", []string{"--from", "2026-01-05T06:00:00Z", "--to", "2026-01-05T06:00:00Z"}, "empty range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{"raw", "--spec", e.spec, "--output", "file://" + out}, tc.args...)
			_, stderr, err := run(t, e, args...)
			if err == nil {
				t.Fatalf("opsdata %v succeeded", args)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not say %q", stderr, tc.want)
			}
			if m, _ := filepath.Glob(filepath.Join(out, "*", "*", "manifest.json")); len(m) > 0 {
				t.Errorf("published after a failure: %v", m)
			}
		})
	}
}

// seriesKey identifies a series by its kept labels and its samples (any
// NaN as one: staleness markers are published as NaN with stale = true).
func seriesKey(service, code, job string, ts []int64, vals []float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%s", service, code, job)
	for i := range ts {
		if math.IsNaN(vals[i]) {
			fmt.Fprintf(&b, "\x00%d:NaN", ts[i])
		} else {
			fmt.Fprintf(&b, "\x00%d:%x", ts[i], math.Float64bits(vals[i]))
		}
	}
	return b.String()
}
