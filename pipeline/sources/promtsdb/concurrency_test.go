package promtsdb

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/opsdata/opsdata/internal/ordered"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// TestHeadIsQueriedOneAtATime: a directory with a WAL has a head, whose
// querier keeps state between Selects (its chunk cache), so its queries
// run one at a time; evaluating its slices gives the values of one query
// (and the race detector sees no concurrent use).
func TestHeadIsQueriedOneAtATime(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tsdb")
	db, err := tsdb.Open(dir, promslog.NewNopLogger(), nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	app := db.Appender(ctx)
	for i := 0; i < 4*60*6; i++ { // 6 h at 15 s, two series
		ts := from.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		for _, svc := range []string{"a", "b"} {
			if _, err := app.Append(0, labels.FromStrings("__name__", "reqs_total", "service", svc), ts, float64(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := Open(ctx, dir, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if n := ordered.WorkersFor(src.Queryable()); n != 1 {
		t.Fatalf("a head-backed TSDB gets %d concurrent queries, want 1", n)
	}
	grid, err := pipeline.NewGrid(from, from.Add(6*time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	f := spec.Feature{Name: "rps", Expr: "sum by (service) (rate(reqs_total[5m]))"}
	eval := func(steps int) map[string][]float64 {
		old := evalSliceSteps
		evalSliceSteps = steps
		defer func() { evalSliceSteps = old }()
		out := map[string][]float64{}
		if err := src.Evaluate(ctx, grid, f, func(fs pipeline.FeatureSeries) error { out[fs.Labels.String()] = fs.Values; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	whole, sliced := eval(1<<30), eval(7)
	if len(whole) != 2 {
		t.Fatalf("%d series, want 2", len(whole))
	}
	for k, w := range whole {
		for i := range w {
			if g := sliced[k][i]; g != w[i] && !(math.IsNaN(g) && math.IsNaN(w[i])) {
				t.Fatalf("%s step %d: sliced %v, one query %v", k, i, g, w[i])
			}
		}
	}
}
