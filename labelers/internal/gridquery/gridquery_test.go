package gridquery

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
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
	first, err := RangeMatrix(ctx, engine, st, "a", grid, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RangeMatrix(ctx, engine, st, "b", grid, time.Minute); err != nil {
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
