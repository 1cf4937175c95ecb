// Package labelrepro proves the generic reproduction promise: given metric
// series and a manual labels file of known windows, the published windows
// table reproduces those windows exactly. Series and windows are generated
// by the test (seeded); the series are written to a real TSDB and, per case,
// to a CSV or OpenMetrics metric file read by the promfile source; the
// windows to a CSV labels file. The real runner exports them, and the
// windows table must carry exactly the generated windows and, as features,
// exactly what Prometheus's engine returns over the reference TSDB.
package labelrepro

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/labelers/manual"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/pipeline/sources/promfile"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/opsdata/opsdata/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type windowRow struct {
	WindowStart    time.Time `parquet:"window_start,timestamp(millisecond)"`
	Entity         string    `parquet:"entity"`
	IncidentActive bool      `parquet:"incident_active"`
	IncidentIDs    []string  `parquet:"incident_ids,list"`
	Load           *float64  `parquet:"load,optional"`
}

func TestManualWindowsReproducedExactly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seed  uint64
		step  time.Duration
		hours int
		zone  string // labels file written in this zone, naive timestamps
		// source is the metric source the export reads: tsdb, or a csv /
		// openmetrics file holding the same samples.
		source string
	}{
		{"utc-1m-tsdb", 1, time.Minute, 6, "", "tsdb"},
		{"berlin-5m-csv", 2, 5 * time.Minute, 30, "Europe/Berlin", "csv"},
		{"newyork-30s-openmetrics", 3, 30 * time.Second, 3, "America/New_York", "openmetrics"},
		{"utc-2m-openmetrics", 4, 2 * time.Minute, 8, "", "openmetrics"},
		{"tokyo-1m-csv", 5, time.Minute, 5, "Asia/Tokyo", "csv"},
	} {
		t.Run(tc.name, func(t *testing.T) { reproduce(t, tc.seed, tc.step, tc.hours, tc.zone, tc.source) })
	}
}

func reproduce(t *testing.T, seed uint64, step time.Duration, hours int, zone, source string) {
	ctx := context.Background()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(seed, 42))
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(time.Duration(hours) * time.Hour)
	entities := []string{"alpha", "beta", "gamma", "delta"}

	// Series: two instances per entity, a sample every 15 s, written to the
	// reference TSDB and to the case's metric file.
	var series strings.Builder
	seriesPath := filepath.Join(dir, "series."+map[string]string{"csv": "csv", "openmetrics": "om"}[source])
	switch source {
	case "csv":
		series.WriteString("timestamp,__name__,service,instance,value\n")
	case "openmetrics":
		series.WriteString("# HELP load Generated load.\n# TYPE load gauge\n")
	}
	db, err := tsdb.Open(filepath.Join(dir, "tsdb"), promslog.NewNopLogger(), nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	app := db.Appender(ctx)
	for _, e := range entities {
		for inst := 0; inst < 2; inst++ {
			ls := labels.FromStrings("__name__", "load", "service", e, "instance", fmt.Sprintf("%s-%d:80", e, inst))
			for ts := from; ts.Before(to); ts = ts.Add(15 * time.Second) {
				v := r.Float64()
				if _, err := app.Append(0, ls, ts.UnixMilli(), v); err != nil {
					t.Fatal(err)
				}
				switch source { // %g of a float64 with precision -1 round-trips exactly
				case "csv":
					fmt.Fprintf(&series, "%s,load,%s,%s,%s\n", ts.UTC().Format(time.RFC3339), e, ls.Get("instance"), strconv.FormatFloat(v, 'g', -1, 64))
				case "openmetrics":
					fmt.Fprintf(&series, "load{service=%q,instance=%q} %s %d\n", e, ls.Get("instance"), strconv.FormatFloat(v, 'g', -1, 64), ts.Unix())
				}
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	metricsSpec := fmt.Sprintf("tsdb: {path: %s/tsdb}", dir)
	if source != "tsdb" {
		if source == "openmetrics" {
			series.WriteString("# EOF\n")
		}
		if err := os.WriteFile(seriesPath, []byte(series.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		metricsSpec = fmt.Sprintf("source: %s\n  file: {path: %s}", source, seriesPath)
	}

	// Known windows: random runs of whole windows per entity.
	loc := time.UTC
	if zone != "" {
		loc, _ = time.LoadLocation(zone)
	}
	n := int(to.Sub(from) / step)
	want := map[string]map[int][]string{} // entity -> window -> ids
	var csv strings.Builder
	csv.WriteString("id,entity,start,end,severity\n")
	format := func(t time.Time) string {
		if zone == "" {
			return t.UTC().Format(time.RFC3339)
		}
		return t.In(loc).Format("2006-01-02 15:04:05")
	}
	id := 0
	for _, e := range entities {
		want[e] = map[int][]string{}
		for k := 0; k < 4; k++ {
			lo := r.IntN(n - 1)
			length := 1 + r.IntN(min(20, n-lo))
			id++
			name := fmt.Sprintf("m-%03d", id)
			for i := lo; i < lo+length; i++ {
				want[e][i] = append(want[e][i], name)
			}
			start, end := from.Add(time.Duration(lo)*step), from.Add(time.Duration(lo+length)*step)
			fmt.Fprintf(&csv, "%s,%s,%s,%s,major\n", name, e, format(start), format(end))
		}
	}
	labelsPath := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(labelsPath, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "key")
	os.WriteFile(keyPath, []byte(strings.Repeat("ab", 32)), 0o600)
	specText := fmt.Sprintf(`dataset: repro
licence: CC-BY-4.0
output: file://%s/out
range: {from: %s, to: %s}
window: %s
entity: {kind: service, label: service}
metrics:
  %s
  features:
    - {name: load, expr: "avg by (service) (load)"}
labelers:
  - kind: manual
    path: %s
    timezone: %q
anonymize:
  key: {file: %s}
  keep: [instance]
`, dir, from.Format(time.RFC3339), to.Format(time.RFC3339), step, metricsSpec, labelsPath, zone, keyPath)
	if zone == "" {
		specText = strings.Replace(specText, "    timezone: \"\"\n", "", 1)
	}
	s, err := spec.Parse(filepath.Join(dir, "spec.yaml"), []byte(specText))
	if err != nil {
		t.Fatal(err)
	}
	res, err := runner.Export(ctx, runner.Options{Spec: s, SpecBytes: []byte(specText), TempDir: dir,
		Components: pipeline.Components{
			Metrics: map[string]pipeline.MetricSourceFactory{"tsdb": promtsdb.Factory(),
				"csv": promfile.Factory(promfile.CSV), "openmetrics": promfile.Factory(promfile.OpenMetrics)},
			Labelers: map[string]pipeline.LabelerFactory{"manual": manual.Factory()},
		}})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "out", "repro", res.Version, "windows", "date=*", "*.parquet"))
	sort.Strings(files)
	var rows []windowRow
	for _, f := range files {
		rs, err := parquet.ReadFile[windowRow](f)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rs...)
	}
	if len(rows) != n*len(entities) {
		t.Fatalf("%d window rows, want %d", len(rows), n*len(entities))
	}
	var bad []string
	active := 0
	for _, row := range rows {
		i := int(row.WindowStart.Sub(from) / step)
		ids := append([]string(nil), want[row.Entity][i]...)
		sort.Strings(ids)
		if row.IncidentActive != (len(ids) > 0) || strings.Join(row.IncidentIDs, ",") != strings.Join(ids, ",") {
			bad = append(bad, fmt.Sprintf("%s %s: active=%v ids=%v, want %v", row.WindowStart.Format(time.RFC3339), row.Entity, row.IncidentActive, row.IncidentIDs, ids))
		}
		if row.IncidentActive {
			active++
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d windows differ from the labels file, first: %s", len(bad), strings.Join(bad[:min(5, len(bad))], "; "))
	}
	if active == 0 {
		t.Fatal("no labelled windows generated")
	}

	// Features: exactly what Prometheus's engine returns over the
	// reference TSDB, whatever source the export read.
	ref, err := promtsdb.Open(ctx, filepath.Join(dir, "tsdb"), spec.DefaultLookback)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	engine := map[string][]float64{}
	err = ref.Evaluate(ctx, pipeline.Grid{Start: from, End: to, Step: step}, s.Metrics.Features[0], func(fs pipeline.FeatureSeries) error {
		engine[fs.Labels.Get("service")] = fs.Values
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bad = bad[:0]
	for _, row := range rows {
		want := engine[row.Entity][int(row.WindowStart.Sub(from)/step)]
		switch {
		case math.IsNaN(want) && row.Load != nil && !math.IsNaN(*row.Load):
			bad = append(bad, fmt.Sprintf("%s %s: load=%v, want none", row.WindowStart.Format(time.RFC3339), row.Entity, *row.Load))
		case !math.IsNaN(want) && (row.Load == nil || *row.Load != want):
			bad = append(bad, fmt.Sprintf("%s %s: load=%v, want %v", row.WindowStart.Format(time.RFC3339), row.Entity, row.Load, want))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d feature values differ from the engine's, first: %s", len(bad), strings.Join(bad[:min(5, len(bad))], "; "))
	}
	if len(engine) != len(entities) {
		t.Fatalf("engine returned %d series, want %d", len(engine), len(entities))
	}
}
