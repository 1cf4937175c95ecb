// Package labelrepro proves the generic reproduction promise: given metric
// series and a manual labels file of known windows, the published windows
// table reproduces those windows exactly. Series and windows are generated
// by the test (seeded), written to a real TSDB and a CSV labels file, and
// exported by the real runner.
package labelrepro

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/datasets/spec"
	"github.com/opsdata/opsdata/labelers"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type windowRow struct {
	WindowStart    time.Time `parquet:"window_start,timestamp(millisecond)"`
	Entity         string    `parquet:"entity"`
	IncidentActive bool      `parquet:"incident_active"`
	IncidentIDs    []string  `parquet:"incident_ids,list"`
}

func TestManualWindowsReproducedExactly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seed  uint64
		step  time.Duration
		hours int
		zone  string // labels file written in this zone, naive timestamps
	}{
		{"utc-1m", 1, time.Minute, 6, ""},
		{"berlin-5m", 2, 5 * time.Minute, 30, "Europe/Berlin"},
		{"newyork-30s", 3, 30 * time.Second, 3, "America/New_York"},
	} {
		t.Run(tc.name, func(t *testing.T) { reproduce(t, tc.seed, tc.step, tc.hours, tc.zone) })
	}
}

func reproduce(t *testing.T, seed uint64, step time.Duration, hours int, zone string) {
	ctx := context.Background()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(seed, 42))
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(time.Duration(hours) * time.Hour)
	entities := []string{"alpha", "beta", "gamma", "delta"}

	// Series: two instances per entity, a sample every 15 s.
	db, err := tsdb.Open(filepath.Join(dir, "tsdb"), promslog.NewNopLogger(), nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	app := db.Appender(ctx)
	for _, e := range entities {
		for inst := 0; inst < 2; inst++ {
			ls := labels.FromStrings("__name__", "load", "service", e, "instance", fmt.Sprintf("%s-%d:80", e, inst))
			for ts := from; ts.Before(to); ts = ts.Add(15 * time.Second) {
				if _, err := app.Append(0, ls, ts.UnixMilli(), r.Float64()); err != nil {
					t.Fatal(err)
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
  tsdb: {path: %s/tsdb}
  features:
    - {name: load, expr: "avg by (service) (load)"}
labelers:
  - kind: manual
    path: %s
    timezone: %q
anonymize:
  key: {file: %s}
  keep: [instance]
`, dir, from.Format(time.RFC3339), to.Format(time.RFC3339), step, dir, labelsPath, zone, keyPath)
	if zone == "" {
		specText = strings.Replace(specText, "    timezone: \"\"\n", "", 1)
	}
	s, err := spec.Parse(filepath.Join(dir, "spec.yaml"), []byte(specText))
	if err != nil {
		t.Fatal(err)
	}
	res, err := runner.Export(ctx, runner.Options{Spec: s, SpecBytes: []byte(specText), TempDir: dir,
		Components: pipeline.Components{
			Metrics:  map[string]pipeline.MetricSourceFactory{"tsdb": promtsdb.New},
			Labelers: map[string]pipeline.LabelerFactory{"manual": labelers.NewManual},
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
}
