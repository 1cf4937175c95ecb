package runner

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/spec"
)

// stepSource is a metric source whose value at each step depends on the
// step's time only, as PromQL's does: series that come and go within a
// day, NaNs with their own bits, values that are absent.
type stepSource struct{}

var oddNaN = math.Float64frombits(0x7ff8_0000_dead_beef)

func (stepSource) Evaluate(_ context.Context, g pipeline.Grid, f spec.Feature, emit func(pipeline.FeatureSeries) error) error {
	names := []string{"always", "early", "late", "sparse"}
	for _, name := range names {
		values := make([]float64, g.Len())
		any := false
		for i := range values {
			t := g.At(i + 1)
			min := t.Sub(t.Truncate(24 * time.Hour)).Minutes()
			v, ok := 0.0, false
			switch name {
			case "always":
				v, ok = min*1.5, true
			case "early":
				v, ok = math.Sqrt(min), min < 100
			case "late":
				v, ok = -min, min >= 300
			case "sparse":
				v, ok = oddNaN, int(min)%97 == 0
			}
			if !ok {
				v = math.NaN()
			}
			any = any || ok
			values[i] = v
		}
		if any {
			if err := emit(pipeline.FeatureSeries{Feature: f.Name, Labels: labels.FromStrings("service", name, "f", f.Name), Values: values}); err != nil {
				return err
			}
		}
	}
	return nil
}
func (stepSource) LabelValues(context.Context, pipeline.Grid, string) ([]string, error) {
	return nil, nil
}
func (stepSource) Queryable() storage.Queryable { return nil }
func (stepSource) Close() error                 { return nil }

// TestPiecesMergeToOneEvaluation: the pieces of a range, evaluated apart,
// sealed and read back, give every day's series exactly (labels, order,
// the bits of every value, NaNs included) as evaluating the day at once.
func TestPiecesMergeToOneEvaluation(t *testing.T) {
	anon, err := anonymize.New([]byte(strings.Repeat("k", 32)), spec.Anonymize{}, "service")
	if err != nil {
		t.Fatal(err)
	}
	features := []spec.Feature{{Name: "a", Expr: "up"}, {Name: "b", Expr: "up"}}
	day0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		from, to time.Time
		step     time.Duration
	}{
		{"one slice", day0, day0.Add(3 * time.Hour), time.Minute},
		{"slices not dividing the day", day0.Add(50 * time.Minute), day0.Add(7*time.Hour + 10*time.Minute), time.Minute},
		{"across midnight", day0.Add(20 * time.Hour), day0.Add(30 * time.Hour), time.Minute},
		{"fine step", day0, day0.Add(24 * time.Hour), 10 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			grid, err := pipeline.NewGrid(c.from, c.to, c.step)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			pieces := planPieces(grid, features)
			seen := map[string]bool{}
			for _, p := range pieces {
				if seen[p.path] {
					t.Fatalf("two pieces at %s", p.path)
				}
				seen[p.path] = true
				d, _, err := evalPiece(context.Background(), stepSource{}, p, features[p.feature])
				if err != nil {
					t.Fatal(err)
				}
				if _, err := writePiece(anon, dir, p, d); err != nil {
					t.Fatal(err)
				}
			}
			src := newPieceSource(stepSource{}, dir, anon, features)
			for _, day := range grid.Days() {
				for _, f := range features {
					want, got := collect(t, stepSource{}, day, f), collect(t, src, day, f)
					if !slices.Equal(want, got) {
						t.Fatalf("%s %s: pieces give\n%v\none evaluation\n%v", pipeline.Date(day.Start), f.Name, got[:min(len(got), 3)], want[:min(len(want), 3)])
					}
				}
			}
		})
	}
}

// collect renders a source's series of one day exactly: labels and the
// bits of every value.
func collect(t *testing.T, src pipeline.MetricSource, day pipeline.Grid, f spec.Feature) []string {
	t.Helper()
	var out []string
	err := src.Evaluate(context.Background(), day, f, func(fs pipeline.FeatureSeries) error {
		var b strings.Builder
		b.WriteString(fs.Feature + " " + fs.Labels.String())
		if len(fs.Values) != day.Len() {
			return fmt.Errorf("%d values for %d windows", len(fs.Values), day.Len())
		}
		for _, v := range fs.Values {
			fmt.Fprintf(&b, " %x", math.Float64bits(v))
		}
		out = append(out, b.String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no series", pipeline.Date(day.Start))
	}
	return out
}

// TestPieceRefusesAnotherSlice: a piece staged for another slice or
// feature, or sealed under another key, is refused, not merged.
func TestPieceRefusesAnotherSlice(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	anon, _ := anonymize.New(key, spec.Anonymize{}, "service")
	other, _ := anonymize.New([]byte(strings.Repeat("o", 32)), spec.Anonymize{}, "service")
	features := []spec.Feature{{Name: "a", Expr: "up"}, {Name: "b", Expr: "up"}}
	day0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	grid, _ := pipeline.NewGrid(day0, day0.Add(8*time.Hour), time.Minute)
	pieces := planPieces(grid, features)
	write := func(a *anonymize.Anonymizer, dir string, at, from piece, f spec.Feature) {
		d, _, err := evalPiece(context.Background(), stepSource{}, from, f)
		if err != nil {
			t.Fatal(err)
		}
		from.path = at.path
		if _, err := writePiece(a, dir, from, d); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		bad  func(dir string)
		want string
	}{
		{"another slice", func(dir string) { write(anon, dir, pieces[0], pieces[1], features[0]) }, "answers feature a at"},
		{"another feature", func(dir string) { write(anon, dir, pieces[0], pieces[0], features[1]) }, "answers feature b"},
		{"another key", func(dir string) { write(other, dir, pieces[0], pieces[0], features[0]) }, "another key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, p := range pieces {
				write(anon, dir, p, p, features[p.feature])
			}
			c.bad(dir)
			err := newPieceSource(stepSource{}, dir, anon, features).Evaluate(context.Background(), grid.Days()[0], features[0], func(pipeline.FeatureSeries) error { return nil })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error with %q, got %v", c.want, err)
			}
		})
	}
}

func TestCheckShardable(t *testing.T) {
	cases := []struct {
		expr string
		ok   bool
	}{
		{`sum by (service) (rate(http_requests_total[5m]))`, true},
		{`up @ 1700000000`, true},
		{`up @ end()`, false},
		{`max_over_time(up[1h] @ start())`, false},
		{`max_over_time(rate(x[5m])[1h:5m] @ end())`, false},
	}
	for _, c := range cases {
		err := checkShardable([]spec.Feature{{Name: "f", Expr: c.expr}})
		if (err == nil) != c.ok {
			t.Errorf("%s: shardable %v, got %v", c.expr, c.ok, err)
		}
	}
}
