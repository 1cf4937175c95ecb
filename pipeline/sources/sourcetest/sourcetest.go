// Package sourcetest is the conformance suite every metric source kind
// runs (as objstore's AcceptanceTest is for buckets): given a factory and a
// config pointing at a known data set, it checks what pipeline.MetricSource
// and MetricSourceFactory promise against the same data read straight from
// its TSDB blocks with Prometheus' own block reader and PromQL engine.
package sourcetest

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// Data is the known data set the source under test serves.
type Data struct {
	// Blocks is a directory of TSDB blocks holding the same samples (the
	// reference; a wal/ beside them is ignored).
	Blocks string
	// From and To bound the data ([From, To)); To-From should span at
	// least two windows of Step.
	From, To time.Time
	// Series and Samples are the generator's own counts over [From, To)
	// (0: not checked).
	Series, Samples int
	// Label is a label the series carry, listed by LabelValues.
	Label string
	// Feature is evaluated by the source and by the reference engine.
	Feature spec.Feature
	// Step is the window grid's step (default 5m).
	Step time.Duration
}

// Case is the source under test.
type Case struct {
	Factory pipeline.MetricSourceFactory
	Config  pipeline.Config
	Metrics spec.Metrics // lookback_delta; Features unused
}

// Run runs the suite.
func Run(t *testing.T, c Case, d Data) {
	t.Helper()
	if d.Step == 0 {
		d.Step = 5 * time.Minute
	}
	if err := c.Config.Validate(); err != nil {
		t.Fatalf("the case's config does not validate: %v", err)
	}
	if c.Factory.NewConfig == nil || c.Factory.New == nil || c.Factory.Section == "" {
		t.Fatal("factory lacks Section, NewConfig or New")
	}
	ref := openReference(t, d.Blocks)
	grid, err := pipeline.NewGrid(d.From, d.To, d.Step)
	if err != nil {
		t.Fatal(err)
	}
	lookback := time.Duration(c.Metrics.LookbackDelta)
	if lookback <= 0 {
		lookback = spec.DefaultLookback
	}
	// A range well after the data (beyond any lookback) holds nothing.
	emptyFrom := d.To.Add(24*time.Hour + lookback).Truncate(d.Step)
	emptyGrid := pipeline.Grid{Start: emptyFrom, End: emptyFrom.Add(4 * d.Step), Step: d.Step}
	ctx := context.Background()

	open := func(t *testing.T) pipeline.MetricSource {
		t.Helper()
		src, err := c.Factory.New(ctx, c.Metrics, c.Config, &pipeline.Problems{})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(func() { src.Close() })
		return src
	}

	t.Run("LabelValues", func(t *testing.T) {
		src := open(t)
		got, err := src.LabelValues(ctx, grid, d.Label)
		if err != nil {
			t.Fatal(err)
		}
		want := ref.labelValues(t, grid.Start.Add(-lookback), grid.End, d.Label)
		if len(want) == 0 {
			t.Fatalf("the data set has no values of %s; pick a label it has", d.Label)
		}
		if !slices.Equal(got, want) {
			t.Errorf("LabelValues(%s) = %q, want %q", d.Label, got, want)
		}
		if !sort.StringsAreSorted(got) {
			t.Errorf("LabelValues not sorted: %q", got)
		}
		empty, err := src.LabelValues(ctx, emptyGrid, d.Label)
		if err != nil || len(empty) != 0 {
			t.Errorf("LabelValues over a range without data = %q, %v; want none", empty, err)
		}
	})

	t.Run("Evaluate", func(t *testing.T) {
		src := open(t)
		got := evaluate(t, src, grid, d.Feature)
		want := evaluate(t, ref.source(lookback), grid, d.Feature)
		if len(want) == 0 {
			t.Fatalf("feature %s gives no series on the reference", d.Feature.Expr)
		}
		compareSeries(t, got, want)
		if empty := evaluate(t, src, emptyGrid, d.Feature); len(empty) != 0 {
			t.Errorf("Evaluate over a range without data emitted %d series, want 0", len(empty))
		}
	})

	t.Run("Queryable", func(t *testing.T) {
		src := open(t)
		qa := src.Queryable()
		if (qa != nil) != c.Factory.Queryable {
			t.Fatalf("Queryable() != nil is %v, the factory says Queryable %v", qa != nil, c.Factory.Queryable)
		}
		if qa == nil {
			return
		}
		mid := d.From.Add(d.To.Sub(d.From) / 2)
		for _, r := range []struct {
			name     string
			from, to time.Time
		}{{"all", d.From, d.To}, {"second half", mid, d.To}, {"empty", emptyGrid.Start, emptyGrid.End}} {
			got := countQueryable(t, ctx, qa, r.from, r.to)
			want := countQueryable(t, ctx, ref, r.from, r.to)
			if got != want {
				t.Errorf("%s: Queryable selects %+v, the blocks hold %+v", r.name, got, want)
			}
			if r.name == "empty" && got.samples != 0 {
				t.Errorf("empty range: %d samples", got.samples)
			}
			if r.name == "all" && d.Samples > 0 && got.samples != d.Samples {
				t.Errorf("all: %d samples, the generator wrote %d", got.samples, d.Samples)
			}
		}
	})

	t.Run("OpenRaw", func(t *testing.T) {
		if c.Factory.OpenRaw == nil {
			t.Skip("the kind reads no raw samples")
		}
		mid := d.From.Add(d.To.Sub(d.From) / 2).Truncate(time.Minute)
		total := counts{}
		for _, r := range []struct{ from, to time.Time }{{d.From, mid}, {mid, d.To}} {
			got := countRaw(t, ctx, c, r.from, r.to)
			want := countQueryable(t, ctx, ref, r.from, r.to)
			if got != want {
				t.Errorf("OpenRaw [%s, %s) = %+v, the blocks hold %+v", r.from, r.to, got, want)
			}
			total.samples += got.samples
		}
		if d.Samples > 0 && total.samples != d.Samples {
			t.Errorf("OpenRaw: the two halves hold %d samples, the generator wrote %d", total.samples, d.Samples)
		}
		if all := countRaw(t, ctx, c, d.From, d.To); d.Series > 0 && all.series != d.Series {
			t.Errorf("OpenRaw: %d series, the generator wrote %d", all.series, d.Series)
		}
		if empty := countRaw(t, ctx, c, emptyGrid.Start, emptyGrid.End); empty.samples != 0 {
			t.Errorf("OpenRaw over a range without data: %+v", empty)
		}
	})

	t.Run("Cancelled", func(t *testing.T) {
		src := open(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		emitted := 0
		err := src.Evaluate(cctx, grid, d.Feature, func(pipeline.FeatureSeries) error { emitted++; return nil })
		if err == nil || emitted != 0 {
			t.Errorf("Evaluate with a cancelled context: err %v after %d series; want an error and nothing", err, emitted)
		}
		if _, err := src.LabelValues(cctx, grid, d.Label); !errors.Is(err, context.Canceled) {
			t.Errorf("LabelValues with a cancelled context: %v, want context.Canceled", err)
		}
		if c.Factory.OpenRaw != nil {
			q, closeQ, err := c.Factory.OpenRaw(ctx, c.Config, d.From, d.To)
			if err != nil {
				t.Fatal(err)
			}
			defer closeQ()
			set := q.Select(cctx, true, &storage.SelectHints{Start: d.From.UnixMilli(), End: d.To.UnixMilli() - 1}, allSeries())
			for set.Next() {
			}
			if !errors.Is(set.Err(), context.Canceled) {
				t.Errorf("OpenRaw's Select with a cancelled context: %v, want context.Canceled", set.Err())
			}
		}
	})

	t.Run("CloseTwice", func(t *testing.T) {
		src, err := c.Factory.New(ctx, c.Metrics, c.Config, &pipeline.Problems{})
		if err != nil {
			t.Fatal(err)
		}
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := src.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// reference is the data set's blocks read directly.
type reference struct{ blocks []*tsdb.Block }

func openReference(t *testing.T, dir string) *reference {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reference blocks: %v", err)
	}
	r := &reference{}
	for _, e := range entries {
		if _, err := ulid.ParseStrict(e.Name()); err != nil || !e.IsDir() {
			continue
		}
		b, err := tsdb.OpenBlock(promslog.NewNopLogger(), filepath.Join(dir, e.Name()), nil, tsdb.DefaultPostingsDecoderFactory)
		if err != nil {
			t.Fatalf("reference block %s: %v", e.Name(), err)
		}
		r.blocks = append(r.blocks, b)
	}
	if len(r.blocks) == 0 {
		t.Fatalf("reference: no blocks in %s", dir)
	}
	t.Cleanup(func() {
		for _, b := range r.blocks {
			b.Close()
		}
	})
	return r
}

// Querier merges the blocks overlapping [mint, maxt].
func (r *reference) Querier(mint, maxt int64) (storage.Querier, error) {
	var qs []storage.Querier
	for _, b := range r.blocks {
		if b.MaxTime() <= mint || b.MinTime() > maxt {
			continue
		}
		q, err := tsdb.NewBlockQuerier(b, mint, maxt)
		if err != nil {
			return nil, err
		}
		qs = append(qs, q)
	}
	return storage.NewMergeQuerier(qs, nil, storage.ChainedSeriesMerge), nil
}

func (r *reference) labelValues(t *testing.T, from, to time.Time, name string) []string {
	t.Helper()
	q, err := r.Querier(from.UnixMilli(), to.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	vals, _, err := q.LabelValues(context.Background(), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// source is the reference evaluator: Prometheus' engine on the blocks.
func (r *reference) source(lookback time.Duration) pipeline.MetricSource {
	return &refSource{r: r, engine: promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Hour, LookbackDelta: lookback}), lookback: lookback}
}

type refSource struct {
	r        *reference
	engine   *promql.Engine
	lookback time.Duration
}

func (s *refSource) Evaluate(ctx context.Context, grid pipeline.Grid, f spec.Feature, emit func(pipeline.FeatureSeries) error) error {
	first := grid.Start.Add(grid.Step)
	qry, err := s.engine.NewRangeQuery(ctx, s.r, promql.NewPrometheusQueryOpts(false, s.lookback), f.Expr, first, grid.End, grid.Step)
	if err != nil {
		return err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return res.Err
	}
	m, _ := res.Value.(promql.Matrix)
	sort.Slice(m, func(i, j int) bool { return labels.Compare(m[i].Metric, m[j].Metric) < 0 })
	for _, series := range m {
		vals := make([]float64, grid.Len())
		for i := range vals {
			vals[i] = math.NaN()
		}
		for _, p := range series.Floats {
			if i := int((p.T - first.UnixMilli()) / grid.Step.Milliseconds()); i >= 0 && i < len(vals) {
				vals[i] = p.F
			}
		}
		if err := emit(pipeline.FeatureSeries{Feature: f.Name, Labels: series.Metric, Values: vals}); err != nil {
			return err
		}
	}
	return nil
}

func (s *refSource) LabelValues(context.Context, pipeline.Grid, string) ([]string, error) {
	return nil, errors.New("unused")
}
func (s *refSource) Queryable() storage.Queryable { return s.r }
func (s *refSource) Close() error                 { return nil }

func evaluate(t *testing.T, src pipeline.MetricSource, grid pipeline.Grid, f spec.Feature) []pipeline.FeatureSeries {
	t.Helper()
	var out []pipeline.FeatureSeries
	err := src.Evaluate(context.Background(), grid, f, func(s pipeline.FeatureSeries) error {
		if len(s.Values) != grid.Len() {
			t.Errorf("series %s: %d values for %d windows", s.Labels, len(s.Values), grid.Len())
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		t.Fatalf("Evaluate %s: %v", f.Expr, err)
	}
	return out
}

func compareSeries(t *testing.T, got, want []pipeline.FeatureSeries) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Evaluate: %d series, the reference %d", len(got), len(want))
	}
	for i := range got {
		if i > 0 && labels.Compare(got[i-1].Labels, got[i].Labels) >= 0 {
			t.Errorf("Evaluate: series %d (%s) not after %s: emit must be sorted by labels", i, got[i].Labels, got[i-1].Labels)
		}
		if !labels.Equal(got[i].Labels, want[i].Labels) {
			t.Fatalf("Evaluate: series %d is %s, the reference's %s", i, got[i].Labels, want[i].Labels)
		}
		for k := range got[i].Values {
			g, w := got[i].Values[k], want[i].Values[k]
			if !(g == w || math.IsNaN(g) && math.IsNaN(w) || math.Abs(g-w) <= 1e-9*math.Abs(w)) {
				t.Errorf("Evaluate: %s window %d = %v, the reference %v", got[i].Labels, k, g, w)
				break
			}
		}
	}
}

// counts is what a select over a range returned: series with a sample in
// the range, and those samples.
type counts struct{ series, samples int }

func allSeries() *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")
}

func countQueryable(t *testing.T, ctx context.Context, qa storage.Queryable, from, to time.Time) counts {
	t.Helper()
	q, err := qa.Querier(from.UnixMilli(), to.UnixMilli()-1)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	return countSet(t, q.Select(ctx, true, &storage.SelectHints{Start: from.UnixMilli(), End: to.UnixMilli() - 1}, allSeries()), from, to)
}

func countRaw(t *testing.T, ctx context.Context, c Case, from, to time.Time) counts {
	t.Helper()
	q, closeQ, err := c.Factory.OpenRaw(ctx, c.Config, from, to)
	if err != nil {
		t.Fatalf("OpenRaw: %v", err)
	}
	defer closeQ()
	return countSet(t, q.Select(ctx, true, &storage.SelectHints{Start: from.UnixMilli(), End: to.UnixMilli() - 1}, allSeries()), from, to)
}

func countSet(t *testing.T, set storage.SeriesSet, from, to time.Time) counts {
	t.Helper()
	var c counts
	var it chunkenc.Iterator
	var prev labels.Labels
	lo, hi := from.UnixMilli(), to.UnixMilli()
	for set.Next() {
		s := set.At()
		if !prev.IsEmpty() && labels.Compare(prev, s.Labels()) >= 0 {
			t.Errorf("sorted select: %s after %s", s.Labels(), prev)
		}
		prev = s.Labels()
		n := 0
		lastT := int64(math.MinInt64)
		it = s.Iterator(it)
		for it.Next() != chunkenc.ValNone {
			ts := it.AtT()
			if ts <= lastT {
				t.Errorf("series %s: timestamp %d after %d", s.Labels(), ts, lastT)
			}
			lastT = ts
			if ts >= lo && ts < hi {
				n++
			}
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			c.series++
			c.samples += n
		}
	}
	if err := set.Err(); err != nil {
		t.Fatalf("select: %v", err)
	}
	return c
}
