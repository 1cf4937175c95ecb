package runner

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
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
			pieces := planPieces(grid, features, time.Time{}, 1, []bool{false, false})
			seen := map[string]bool{}
			for _, p := range pieces {
				if seen[p.path] {
					t.Fatalf("two pieces at %s", p.path)
				}
				seen[p.path] = true
				d, _, err := evalPiece(context.Background(), stepSource{}, p, features[p.feature], nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := writePiece(anon, dir, p, d); err != nil {
					t.Fatal(err)
				}
			}
			// A piece no shard staged is evaluated by the reader itself.
			missing := pieces[len(pieces)/2]
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(missing.path))); err != nil {
				t.Fatal(err)
			}
			src := newPieceSource(stepSource{}, &StagedPieces{dir: dir, shards: 1, b: &shardBasics{byEntity: []bool{false, false}}}, anon, features)
			for _, day := range grid.Days() {
				for _, f := range features {
					want, got := collect(t, stepSource{}, day, f), collect(t, src, day, f)
					if !slices.Equal(want, got) {
						t.Fatalf("%s %s: pieces give\n%v\none evaluation\n%v", pipeline.Date(day.Start), f.Name, got[:min(len(got), 3)], want[:min(len(want), 3)])
					}
				}
			}
			if src.evaluated != 1 || src.read != len(pieces)-1 {
				t.Fatalf("read %d pieces and evaluated %d; want %d and the 1 missing", src.read, src.evaluated, len(pieces)-1)
			}
			// A resumed export's shards plan the days from its first day only.
			from := grid.Days()[len(grid.Days())-1].Start
			for _, p := range planPieces(grid, features, from, 1, []bool{false, false}) {
				if p.grid.Start.Before(from) {
					t.Fatalf("piece %s before the resume point %s", p.path, from)
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
	pieces := planPieces(grid, features, time.Time{}, 1, []bool{false, false})
	write := func(a *anonymize.Anonymizer, dir string, at, from piece, f spec.Feature) {
		d, _, err := evalPiece(context.Background(), stepSource{}, from, f, nil)
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
			err := newPieceSource(stepSource{}, &StagedPieces{dir: dir, shards: 1, b: &shardBasics{byEntity: []bool{false, false}}}, anon, features).Evaluate(context.Background(), grid.Days()[0], features[0], func(pipeline.FeatureSeries) error { return nil })
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

// TestLabelSlicesRoundTrip: across 3 shards every slice of a labeler's
// range queries is staged by exactly one shard, and the commit's reader
// gives back the very matrix evaluated (labels, floats, histograms), evaluates
// only what no shard staged, and refuses a file that answers another slice.
func TestLabelSlicesRoundTrip(t *testing.T) {
	anon, err := anonymize.New([]byte(strings.Repeat("k", 32)), spec.Anonymize{}, "service")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var all []pipeline.RangeSlice
	for i := range 60 {
		all = append(all, pipeline.RangeSlice{Expr: fmt.Sprintf("rate(x%d[5m]) > 0", i%7), Start: t0.Add(time.Duration(i) * time.Hour), End: t0.Add(time.Duration(i+6) * time.Hour), Step: time.Minute})
	}
	matrixOf := func(s pipeline.RangeSlice) promql.Matrix {
		h := &histogram.FloatHistogram{Schema: 1, Count: 3, Sum: 1.5, PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []float64{1, 2}}
		return promql.Matrix{
			{Metric: labels.FromStrings("__name__", "x", "service", s.Expr), Floats: []promql.FPoint{{T: s.Start.UnixMilli(), F: 1}, {T: s.End.UnixMilli(), F: oddNaN}}},
			{Metric: labels.FromStrings("service", "h"), DropName: true, Histograms: []promql.HPoint{{T: s.Start.UnixMilli(), H: h}}},
		}
	}
	evals := func(s pipeline.RangeSlice) func(context.Context, string) (promql.Matrix, error) {
		return func(context.Context, string) (promql.Matrix, error) { return matrixOf(s), nil }
	}
	dir := t.TempDir()
	owners := map[string]int{}
	for shard := range 3 {
		rec := &sliceRecorder{shard: shard, shards: 3, dir: dir, anon: anon, files: map[string]ShardFile{}}
		for _, s := range all {
			m, err := rec.evaluate(ctx, s, evals(s))
			if err != nil {
				t.Fatal(err)
			}
			if _, mine := rec.files[slicePath(s, 3)]; mine != (m != nil) {
				t.Fatalf("shard %d: staged %v but returned %d series", shard, mine, len(m))
			}
		}
		for p := range rec.files {
			if o, ok := owners[p]; ok {
				t.Fatalf("%s staged by shards %d and %d", p, o, shard)
			}
			if o, ok := sliceOwner(p, 3); !ok || o != shard {
				t.Fatalf("%s staged by shard %d, owned by %d (%v)", p, shard, o, ok)
			}
			owners[p] = shard
		}
	}
	if len(owners) != len(all) {
		t.Fatalf("%d slices staged, want %d", len(owners), len(all))
	}
	r := &sliceReader{shards: 3, dir: dir, anon: anon}
	for _, s := range all {
		m, err := r.evaluate(ctx, s, func(context.Context, string) (promql.Matrix, error) { return nil, fmt.Errorf("evaluated %s", s.Expr) })
		if err != nil {
			t.Fatal(err)
		}
		if got, want := renderMatrix(m), renderMatrix(matrixOf(s)); got != want {
			t.Fatalf("read back\n%s\nevaluated\n%s", got, want)
		}
	}
	if r.read.Load() != int64(len(all)) || r.evaluated.Load() != 0 {
		t.Fatalf("read %d, evaluated %d", r.read.Load(), r.evaluated.Load())
	}
	other := pipeline.RangeSlice{Expr: "up", Start: t0, End: t0.Add(time.Hour), Step: time.Minute}
	if _, err := r.evaluate(ctx, other, evals(other)); err != nil || r.evaluated.Load() != 1 {
		t.Fatalf("a slice no shard staged must be evaluated: %v, %d", err, r.evaluated.Load())
	}
	// A file at one slice's path that answers another is refused.
	if _, err := writeSealed(anon, slicePurpose, dir, slicePath(other, 3), &sliceData{Expr: all[0].Expr, Start: all[0].Start.UnixMilli(), End: all[0].End.UnixMilli(), StepMs: 60000}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.evaluate(ctx, other, evals(other)); err == nil || !strings.Contains(err.Error(), "re-run the shards") {
		t.Fatalf("want a refusal, got %v", err)
	}
}

// renderMatrix writes a matrix out exactly: labels, the bits of every
// float, every histogram's fields.
func renderMatrix(m promql.Matrix) string {
	var b strings.Builder
	for _, s := range m {
		fmt.Fprintf(&b, "%s drop=%v", s.Metric, s.DropName)
		for _, p := range s.Floats {
			fmt.Fprintf(&b, " %d:%x", p.T, math.Float64bits(p.F))
		}
		for _, p := range s.Histograms {
			fmt.Fprintf(&b, " %d:%+v", p.T, *p.H)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestSliceOwnersRoundRobin: the consecutive slices of one expression go
// to consecutive shards, so a heavy rule is spread over all of them, and
// the owner is read back from the path.
func TestSliceOwnersRoundRobin(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 3, 0, 0, 0, time.UTC)
	for _, shards := range []int{1, 3, 7} {
		for _, expr := range []string{"up == 0", "rate(x[5m]) > 1"} {
			prev := -1
			for k := range 20 {
				s := pipeline.RangeSlice{Expr: expr, Start: t0.Add(time.Duration(k*360) * time.Minute), End: t0.Add(time.Duration(k*360+359) * time.Minute), Step: time.Minute}
				o := sliceOwnerOf(s, shards)
				if prev >= 0 && o != (prev+1)%shards {
					t.Fatalf("%d shards, %s: slice %d to shard %d after %d", shards, expr, k, o, prev)
				}
				prev = o
				if got, ok := sliceOwner(slicePath(s, shards), shards); !ok || got != o {
					t.Fatalf("path %s names shard %d (%v), not %d", slicePath(s, shards), got, ok, o)
				}
			}
		}
	}
	for _, bad := range []string{"slices/00-1.sealed", "slices/" + strings.Repeat("ab", 16) + "-7.sealed", "slices/" + strings.Repeat("ab", 16) + "-01.sealed", "pieces/x.sealed"} {
		if _, ok := sliceOwner(bad, 7); ok {
			t.Errorf("%s taken for a slice of 7 shards", bad)
		}
	}
}
