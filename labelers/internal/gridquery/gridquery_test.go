package gridquery

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/opsdata/opsdata/pipeline"
)

// A matrix RangeMatrix returned must survive the next query: the engine
// recycles a closed query's point slices, which once made alerts_series
// read ALERTS_FOR_STATE's points as ALERTS's (an incident ending at +18m
// instead of +21m).
func TestRangeMatrixSurvivesNextQuery(t *testing.T) {
	st := teststorage.New(t)
	grid, err := pipeline.NewGrid(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 5, 0, 30, 0, 0, time.UTC), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	app := st.Appender(context.Background())
	for _, s := range []struct {
		name     string
		from, to int // minutes after the grid start, inclusive
		value    float64
	}{{"a", 12, 20, 1}, {"b", 9, 20, 7}} {
		for m := s.from; m <= s.to; m++ {
			if _, err := app.Append(0, labels.FromStrings(labels.MetricName, s.name), grid.Start.Add(time.Duration(m)*time.Minute).UnixMilli(), s.value); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	engine := NewEngine(promql.EngineOpts{LookbackDelta: time.Minute})
	defer engine.Close()
	ctx := context.Background()
	first, err := RangeMatrix(ctx, engine, st, nil, "a", grid, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RangeMatrix(ctx, engine, st, nil, "b", grid, time.Minute); err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || len(first[0].Floats) != 9 {
		t.Fatalf("first matrix = %v, want one series of 9 points", first)
	}
	for i, p := range first[0].Floats {
		wantT := grid.Start.Add(time.Duration(12+i) * time.Minute).UnixMilli()
		if p.T != wantT || p.F != 1 {
			t.Errorf("point %d = (%s, %g) after a second query, want (%s, 1)", i,
				time.UnixMilli(p.T).UTC().Format("15:04"), p.F, time.UnixMilli(wantT).UTC().Format("15:04"))
		}
	}
}

// Slices give the matrix of one query: the same series, in label order,
// the same points — for expressions whose range selectors and lookback
// reach across a slice boundary, and series that exist in some slices only.
func TestRangeMatrixSlicesEqualOneQuery(t *testing.T) {
	st := teststorage.New(t)
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	grid, err := pipeline.NewGrid(start, start.Add(3*time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	app := st.Appender(context.Background())
	for i := 0; i < 3*60*4; i++ { // every 15 s
		at := start.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		for _, inst := range []string{"a", "b", "c"} {
			if inst == "c" && (i < 200 || i > 420) {
				continue // a series of some slices only
			}
			v := float64(i) * float64(len(inst)+1)
			if inst == "b" && i%97 == 0 {
				v = 0 // a counter reset
			}
			if _, err := app.Append(0, labels.FromStrings(labels.MetricName, "reqs_total", "instance", inst), at, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	engine := NewEngine(promql.EngineOpts{LookbackDelta: 5 * time.Minute})
	defer engine.Close()
	ctx := context.Background()
	for _, expr := range []string{"reqs_total", "rate(reqs_total[5m]) > 3", "sum(rate(reqs_total[10m]))", "max_over_time(reqs_total[30m:1m])"} {
		old := sliceSteps
		sliceSteps = 1 << 30
		whole, err := RangeMatrix(ctx, engine, st, nil, expr, grid, time.Minute)
		sliceSteps = old
		if err != nil || len(whole) == 0 {
			t.Fatalf("%s: %v (%d series)", expr, err, len(whole))
		}
		for _, steps := range []int{1, 7, 360} {
			sliceSteps = steps
			// A TSDB opens new queriers per query: it serves concurrent
			// ones, so the slices run in parallel here.
			got, err := RangeMatrix(ctx, engine, concurrentStorage{st}, nil, expr, grid, time.Minute)
			sliceSteps = old
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(whole) {
				t.Fatalf("%s in slices of %d: %d series, one query %d", expr, steps, len(got), len(whole))
			}
			for i := range whole {
				w, g := whole[i], got[i]
				if labels.Compare(w.Metric, g.Metric) != 0 || len(w.Floats) != len(g.Floats) {
					t.Fatalf("%s in slices of %d: series %d = %s with %d points, one query %s with %d", expr, steps, i, g.Metric, len(g.Floats), w.Metric, len(w.Floats))
				}
				for j := range w.Floats {
					if w.Floats[j] != g.Floats[j] {
						t.Fatalf("%s in slices of %d: %s point %d = %v, one query %v", expr, steps, w.Metric, j, g.Floats[j], w.Floats[j])
					}
				}
			}
		}
	}
}

// concurrentStorage says its storage serves concurrent queries
// (ordered.Concurrent).
type concurrentStorage struct{ storage.Queryable }

func (concurrentStorage) QueryConcurrency() int { return math.MaxInt }
