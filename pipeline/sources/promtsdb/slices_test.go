package promtsdb

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// Evaluating a day in slices gives, bit for bit, the values of one query
// over the day, for every feature of the demo spec (rates, ratios,
// histogram quantiles, max/avg) and slice sizes that do and do not divide
// the day; a slice boundary is where a lost lookback would show.
func TestSlicedEvaluationEqualsOneQuery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	if _, err := demo.Generate(context.Background(), demo.Config{Dir: dir, Duration: 26 * time.Hour, Scrape: 30 * time.Second, Services: 2, Instances: 2}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../../datasets/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Metrics struct {
			Features []spec.Feature `yaml:"features"`
		} `yaml:"metrics"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Metrics.Features) < 5 {
		t.Fatalf("demo features: %v (%d)", err, len(doc.Metrics.Features))
	}
	src, err := Open(context.Background(), filepath.Join(dir, "tsdb"), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	grid, err := pipeline.NewGrid(day, day.Add(24*time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	eval := func(f spec.Feature, steps int) map[string][]float64 {
		t.Helper()
		old := evalSliceSteps
		evalSliceSteps = steps
		defer func() { evalSliceSteps = old }()
		out := map[string][]float64{}
		var order []string
		err := src.Evaluate(context.Background(), grid, f, func(fs pipeline.FeatureSeries) error {
			out[fs.Labels.String()] = fs.Values
			order = append(order, fs.Labels.String())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(order); i++ {
			if order[i-1] >= order[i] {
				t.Fatalf("%s: series not emitted in label order: %v", f.Name, order)
			}
		}
		return out
	}
	for _, f := range doc.Metrics.Features {
		whole := eval(f, 1<<30)
		if len(whole) == 0 {
			t.Fatalf("%s: no series", f.Name)
		}
		for _, steps := range []int{1, 7, 240, 1439} {
			sliced := eval(f, steps)
			if len(sliced) != len(whole) {
				t.Fatalf("%s in slices of %d: %d series, one query %d", f.Name, steps, len(sliced), len(whole))
			}
			for k, w := range whole {
				s := sliced[k]
				for i := range w {
					if math.Float64bits(w[i]) != math.Float64bits(s[i]) && !(math.IsNaN(w[i]) && math.IsNaN(s[i])) {
						t.Fatalf("%s %s step %d in slices of %d: %v, one query %v", f.Name, strings.TrimSpace(k), i, steps, s[i], w[i])
					}
				}
			}
		}
	}
}
