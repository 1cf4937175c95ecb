package schemas_test

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden schema files")

// TestGoldenSchemas pins every published table's Parquet schema. A diff here
// is a change to the contract with researchers: bump schemas.Versions and
// regenerate with `go test ./schemas -update`.
// tableSchemas are the published tables' schemas.
func tableSchemas() []struct {
	table  string
	schema *parquet.Schema
} {
	return []struct {
		table  string
		schema *parquet.Schema
	}{
		{schemas.TableMetrics, parquet.SchemaOf(new(schemas.Metric))},
		{schemas.TableSeries, parquet.SchemaOf(new(schemas.Series))},
		{schemas.TableLogs, parquet.SchemaOf(new(schemas.Log))},
		{schemas.TableTickets, parquet.SchemaOf(new(schemas.Ticket))},
		{schemas.TableIncidents, parquet.SchemaOf(new(schemas.Incident))},
		// windows with two example features and two template count columns
		// (log_features.top_templates): the fixed columns around them are the contract.
		{schemas.TableWindows, parquet.SchemaOf(align.NewWindowTableTemplates([]string{"requests_per_second", "cpu_utilization"}, []string{"tpl_0123456789ab", "tpl_ba9876543210"}).NewRow())},
		{schemas.TableLogTemplates, parquet.SchemaOf(new(schemas.LogTemplate))},
		{schemas.TableLogCounts, parquet.SchemaOf(new(schemas.LogCount))},
	}
}

func TestGoldenSchemas(t *testing.T) {
	cases := tableSchemas()
	for _, tc := range cases {
		t.Run(tc.table, func(t *testing.T) {
			if _, ok := schemas.Versions[tc.table]; !ok {
				t.Fatalf("table %s has no schema version", tc.table)
			}
			got := tc.schema.String() + "\n"
			path := filepath.Join("testdata", tc.table+".schema.golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run `go test ./schemas -update` to create it)", err)
			}
			if got != string(want) {
				t.Errorf("schema of %s changed; bump schemas.Versions[%q] and run `go test ./schemas -update`.\n--- want\n%s\n--- got\n%s", tc.table, tc.table, want, got)
			}
		})
	}
}

// TestNoColumnNamesItsOwnCodec: a codec in a column's tag (",zstd")
// overrides the writer's, whose zstd window is bounded (write.pageCodec);
// parquet-go's own keeps a 16 MiB history per encoder. Every column takes
// the writer's.
func TestNoColumnNamesItsOwnCodec(t *testing.T) {
	for _, tc := range tableSchemas() {
		for _, path := range tc.schema.Columns() {
			leaf, _ := tc.schema.Lookup(path...)
			if c := leaf.Node.Compression(); c != nil {
				t.Errorf("%s.%s names its own codec (%s) in its tag; drop it so the writer's applies", tc.table, strings.Join(path, "."), c)
			}
		}
	}
}

// TestTimestampsAreUTCAdjusted: pandas must get tz-aware UTC timestamps.
func TestTimestampsAreUTCAdjusted(t *testing.T) {
	checked := 0
	for _, v := range []any{new(schemas.Metric), new(schemas.Log), new(schemas.Ticket), new(schemas.Incident), new(schemas.WindowKey), new(schemas.LogTemplate), new(schemas.LogCount)} {
		s := parquet.SchemaOf(v)
		for _, path := range s.Columns() {
			leaf, _ := s.Lookup(path...)
			lt := leaf.Node.Type().LogicalType()
			if lt == nil {
				continue
			}
			if ts, ok := lt.Value.(*format.TimestampType); ok {
				checked++
				if !ts.IsAdjustedToUTC {
					t.Errorf("%s.%v: timestamp not UTC-adjusted", s.Name(), path)
				}
			}
		}
	}
	if checked < 11 {
		t.Fatalf("found only %d timestamp columns", checked)
	}
}

// Every column of every published table is documented (card, Croissant):
// the fixed ones in ColumnDocs, the windows features from the spec's help
// and unit, tpl_<id> by their template.
func TestEveryColumnDocumented(t *testing.T) {
	m := &schemas.Manifest{Features: []schemas.FeatureInfo{
		{Name: "requests_per_second", Expr: "sum(rate(x[5m]))", Unit: "1/s", Help: "Requests per second"},
		{Name: "cpu_utilization", Expr: "avg(y)"},
	}}
	cases := []struct {
		table string
		row   any
	}{
		{schemas.TableMetrics, new(schemas.Metric)},
		{schemas.TableSeries, new(schemas.Series)},
		{schemas.TableLogs, new(schemas.Log)},
		{schemas.TableTickets, new(schemas.Ticket)},
		{schemas.TableIncidents, new(schemas.Incident)},
		{schemas.TableWindows, align.NewWindowTableTemplates([]string{"requests_per_second", "cpu_utilization"}, []string{"tpl_0123456789ab"}).NewRow()},
		{schemas.TableLogTemplates, new(schemas.LogTemplate)},
		{schemas.TableLogCounts, new(schemas.LogCount)},
		{schemas.TableSamples, new(schemas.Sample)},
		{schemas.TableRawSeries, new(schemas.RawSeries)},
	}
	for _, tc := range cases {
		t.Run(tc.table, func(t *testing.T) {
			if schemas.TableDescriptions[tc.table] == "" {
				t.Errorf("table %s has no description", tc.table)
			}
			for _, f := range parquet.SchemaOf(tc.row).Fields() {
				d, ok := schemas.DescribeColumn(m, tc.table, f.Name())
				if !ok || d.Description == "" {
					t.Errorf("%s.%s is undocumented", tc.table, f.Name())
				}
			}
		})
	}
	if d, _ := schemas.DescribeColumn(m, schemas.TableWindows, "requests_per_second"); d.Unit != "1/s" || !strings.HasPrefix(d.Description, "Requests per second.") {
		t.Errorf("feature doc %+v", d)
	}
}

func TestSplitOf(t *testing.T) {
	day := func(d, h, m int) time.Time { return time.Date(2026, 1, d, h, m, 0, 0, time.UTC) }
	v, te := day(6, 0, 0), day(7, 0, 0)
	both := &schemas.SplitPolicy{Validation: &v, Test: &te, EmbargoSeconds: 1800}
	testOnly := &schemas.SplitPolicy{Test: &te, EmbargoSeconds: 0}
	cases := []struct {
		name  string
		p     *schemas.SplitPolicy
		start time.Time
		want  string
	}{
		{"train", both, day(5, 12, 0), schemas.SplitTrain},
		{"last train window outside the embargo", both, day(5, 23, 29), schemas.SplitTrain},
		{"embargo before validation", both, day(5, 23, 30), schemas.SplitGap},
		{"last window before validation", both, day(5, 23, 59), schemas.SplitGap},
		{"validation starts at the boundary", both, day(6, 0, 0), schemas.SplitValidation},
		{"embargo before test", both, day(6, 23, 45), schemas.SplitGap},
		{"test", both, day(7, 0, 0), schemas.SplitTest},
		{"no embargo: only the window itself", testOnly, day(6, 23, 59), schemas.SplitTrain},
		{"test only", testOnly, day(7, 1, 0), schemas.SplitTest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := schemas.SplitOf(tc.p, tc.start, time.Minute); got != tc.want {
				t.Errorf("SplitOf(%s) = %s, want %s", tc.start.Format(time.RFC3339), got, tc.want)
			}
		})
	}
}

// Held-out entity groups: the share drawn is close to the one asked for,
// the draw is the documented one (recomputable from the published name),
// and a window takes the later of its time split and its entity's group.
func TestEntityGroups(t *testing.T) {
	g := &schemas.EntityGroups{Validation: 0.1, Test: 0.2}
	counts := map[string]int{}
	for i := range 20000 {
		counts[schemas.EntityGroupOf(g, fmt.Sprintf("svc-%05d", i))]++
	}
	for split, want := range map[string]float64{schemas.SplitTest: 0.2, schemas.SplitValidation: 0.1, schemas.SplitTrain: 0.7} {
		if got := float64(counts[split]) / 20000; got < want-0.02 || got > want+0.02 {
			t.Errorf("%s: %.3f of the entities, want about %.2f", split, got, want)
		}
	}
	// The method as the manifest states it.
	sum := sha256.Sum256([]byte("opsdata-split\x00checkout"))
	u := float64(binary.BigEndian.Uint64(sum[:8])) / (1 << 64)
	want := schemas.SplitTrain
	if u < g.Test {
		want = schemas.SplitTest
	} else if u < g.Test+g.Validation {
		want = schemas.SplitValidation
	}
	if got := schemas.EntityGroupOf(g, "checkout"); got != want {
		t.Errorf("EntityGroupOf(checkout) = %s, the documented draw gives %s", got, want)
	}

	day := func(d, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }
	v := day(6, 0)
	all := &schemas.EntityGroups{Test: 0.999999}     // every entity held out as test
	none := &schemas.EntityGroups{Validation: 1e-12} // no entity held out
	for _, tc := range []struct {
		name  string
		p     *schemas.SplitPolicy
		start time.Time
		want  string
	}{
		{"held-out test entity in train time", &schemas.SplitPolicy{Validation: &v, EntityGroups: all}, day(5, 12), schemas.SplitTest},
		{"held-out test entity in validation time", &schemas.SplitPolicy{Validation: &v, EntityGroups: all}, day(6, 12), schemas.SplitTest},
		{"train entity follows time", &schemas.SplitPolicy{Validation: &v, EntityGroups: none}, day(6, 12), schemas.SplitValidation},
		{"train entity in train time", &schemas.SplitPolicy{Validation: &v, EntityGroups: none}, day(5, 12), schemas.SplitTrain},
		{"entity groups without time", &schemas.SplitPolicy{EntityGroups: all}, day(5, 12), schemas.SplitTest},
	} {
		if got := schemas.SplitOfEntity(tc.p, tc.start, time.Minute, "checkout"); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}

	// Day files hold several splits: one file split, full.
	files := []schemas.File{{Path: "windows/date=2026-01-05/part-00000.parquet", Table: "windows", Partition: "date=2026-01-05"},
		{Path: "windows/date=2026-01-06/part-00000.parquet", Table: "windows", Partition: "date=2026-01-06"}}
	per := schemas.SplitFiles(&schemas.SplitPolicy{Validation: &v, EntityGroups: g}, files)
	if len(per) != 1 || len(per[schemas.SplitFull]) != 2 {
		t.Errorf("with held-out entities every windows file is in %q: %v", schemas.SplitFull, per)
	}
}
