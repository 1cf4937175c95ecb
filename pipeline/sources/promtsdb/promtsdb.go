// Package promtsdb is the embedded metric source: it opens a Prometheus
// TSDB directory (a snapshot, or a stopped server's data dir) read-only and
// evaluates the spec's features with Prometheus's own PromQL engine. No
// server runs; the results are what a server over the same blocks returns.
package promtsdb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/opsdata/opsdata/internal/ordered"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// Source evaluates features over a read-only TSDB.
type Source struct {
	desc      string // what the storage is, for messages ("tsdb DIR")
	queryable storage.Queryable
	release   func() error
	engine    *promql.Engine
	lookback  time.Duration
	leftOut   map[string]int // blocks of the storage left out, by reason

	closeOnce sync.Once
	closeErr  error
}

// Open opens dir read-only for feature evaluation (Factory's New; tests
// and benchmarks call it directly). The directory is never written.
func Open(_ context.Context, dir string, lookback time.Duration) (*Source, error) {
	q, head, leftOut, release, err := openAllTime(dir)
	if err != nil {
		return nil, err
	}
	// One shared querier; Close is a no-op so the engine's per-query Close
	// does not close it.
	var shared storage.Queryable = storage.QueryableFunc(func(_, _ int64) (storage.Querier, error) { return keepOpen{q}, nil })
	if !head {
		// Block queriers keep no state between Selects; a WAL's head
		// querier does (its chunk cache), so with a head the queries run
		// one at a time.
		shared = ConcurrentQueryable{shared}
	}
	return NewSource("tsdb "+dir, shared, release, lookback).WithLeftOut(leftOut), nil
}

// WithLeftOut records the blocks of the storage left out, by reason
// (SkipDownsampled, SkipDeleted, SkipPartial), and returns s.
func (s *Source) WithLeftOut(counts map[string]int) *Source {
	for reason, n := range counts {
		if n > 0 {
			if s.leftOut == nil {
				s.leftOut = map[string]int{}
			}
			s.leftOut[reason] = n
		}
	}
	return s
}

// LeftOut counts the blocks of the storage left out, by reason
// (pipeline.BlocksLeftOut); nil when none was.
func (s *Source) LeftOut() map[string]int { return maps.Clone(s.leftOut) }

var _ pipeline.BlocksLeftOut = (*Source)(nil)

// ConcurrentQueryable is a storage that serves concurrent queries
// (ordered.Concurrent): features and rules then evaluate their slices in
// parallel. A storage without it is queried one query at a time.
type ConcurrentQueryable struct{ storage.Queryable }

// QueryConcurrency implements ordered.Concurrent.
func (ConcurrentQueryable) QueryConcurrency() int { return math.MaxInt }

// NewSource evaluates features with Prometheus's engine over any storage
// (promblocks builds one over blocks in object storage). desc names the
// storage in messages; release is called once, by the first Close.
func NewSource(desc string, queryable storage.Queryable, release func() error, lookback time.Duration) *Source {
	if lookback <= 0 {
		lookback = spec.DefaultLookback
	}
	engine := promql.NewEngine(promql.EngineOpts{
		MaxSamples:           200_000_000,
		Timeout:              time.Hour,
		LookbackDelta:        lookback,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
	})
	return &Source{desc: desc, queryable: queryable, release: release, engine: engine, lookback: lookback}
}

// Queryable is the storage the engine evaluates over.
func (s *Source) Queryable() storage.Queryable { return s.queryable }

type keepOpen struct{ storage.Querier }

func (keepOpen) Close() error { return nil }

// Engine is the PromQL engine the source evaluates with.
func (s *Source) Engine() *promql.Engine { return s.engine }

// Evaluate runs feature as a range query whose steps are the window ends:
// window i = [s, s+step) gets the expression's value at s+step, i.e. the
// value computed from data up to the end of the window (no look-ahead).
func (s *Source) Evaluate(ctx context.Context, grid pipeline.Grid, feature spec.Feature, emit func(pipeline.FeatureSeries) error) error {
	n := grid.Len()
	if n == 0 {
		return nil
	}
	// A range query holds the inner expressions' points of every selected
	// series for its whole range (rate over 10k series for a day: 10k x
	// 1,440 points, before sum by aggregates them), so the day is evaluated
	// in slices of evalSliceSteps steps. Each step is evaluated on its own
	// (selectors and lookback are relative to the step), so the values are
	// those of one query over the day; only the peak memory shrinks.
	// The slices run on every core (the engine and the storage serve
	// concurrent queries). Each merges its points while its query is open
	// (Close hands the points back to the engine's pool); the slices'
	// steps are disjoint, so the merged values do not depend on the order.
	stepMs := grid.Step.Milliseconds()
	firstMs := grid.Start.Add(grid.Step).UnixMilli()
	var mu sync.Mutex
	byKey := map[string]*pipeline.FeatureSeries{}
	merge := func(lo, hi int, matrix promql.Matrix) error {
		mu.Lock()
		defer mu.Unlock()
		for _, series := range matrix {
			if len(series.Histograms) > 0 {
				return fmt.Errorf("feature %s: returns native histograms for %s; features must be floats (use histogram_quantile or histogram_count)", feature.Name, series.Metric)
			}
			key := series.Metric.String()
			fs := byKey[key]
			if fs == nil {
				fs = pipeline.NewFeatureSeries(feature.Name, series.Metric, n)
				byKey[key] = fs
			}
			for _, p := range series.Floats {
				if idx := (p.T - firstMs) / stepMs; idx >= int64(lo) && idx < int64(hi) {
					fs.Values[idx] = p.F
				}
			}
		}
		return nil
	}
	eval := func(ctx context.Context, k int) (struct{}, error) {
		lo, hi := k*evalSliceSteps, min((k+1)*evalSliceSteps, n) // steps [lo, hi)
		first := grid.Start.Add(time.Duration(lo+1) * grid.Step)
		last := grid.Start.Add(time.Duration(hi) * grid.Step)
		return struct{}{}, s.evalRange(ctx, feature, first, last, grid.Step, func(m promql.Matrix) error { return merge(lo, hi, m) })
	}
	parts := (n + evalSliceSteps - 1) / evalSliceSteps
	if err := ordered.Do(ctx, parts, ordered.WorkersFor(s.queryable), eval, func(int, struct{}) error { return nil }); err != nil {
		return err
	}
	return pipeline.EmitSorted(byKey, emit)
}

// evalSliceSteps is how many steps one range query evaluates (4 h at 1 m);
// tests shrink it.
var evalSliceSteps = pipeline.FeatureSliceSteps

// evalRange runs one range query of feature over [first, last] and hands
// its result to use before closing the query.
func (s *Source) evalRange(ctx context.Context, feature spec.Feature, first, last time.Time, step time.Duration, use func(promql.Matrix) error) error {
	qry, err := s.engine.NewRangeQuery(ctx, s.Queryable(), promql.NewPrometheusQueryOpts(false, s.lookback), feature.Expr, first, last, step)
	if err != nil {
		return fmt.Errorf("feature %s: %w", feature.Name, err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return fmt.Errorf("feature %s (%s): %w", feature.Name, feature.Expr, res.Err)
	}
	if err := warningsAsError(feature, res.Warnings); err != nil {
		return err
	}
	switch v := res.Value.(type) {
	case promql.Matrix:
		return use(v)
	case promql.Scalar:
		return use(promql.Matrix{{Floats: []promql.FPoint{{T: v.T, F: v.V}}}})
	}
	return fmt.Errorf("feature %s: unexpected result type %s", feature.Name, res.Value.Type())
}

// warningsAsError keeps the engine's warnings from passing unseen; only
// real errors fail the export, informational notes are ignored.
func warningsAsError(f spec.Feature, w annotations.Annotations) error {
	for _, err := range w {
		if errors.Is(err, annotations.PromQLWarning) {
			return fmt.Errorf("feature %s (%s): %w", f.Name, f.Expr, err)
		}
	}
	return nil
}

// LabelValues lists the values of label name among the series that have
// samples in the grid's range (plus the lookback before it). For a TSDB
// directory it selects on the shared querier: opening a second querier on
// a DBReadOnly reloads and closes blocks the first one still reads.
func (s *Source) LabelValues(ctx context.Context, grid pipeline.Grid, name string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: values of label %s: %w", s.desc, name, err)
	}
	hints := &storage.SelectHints{
		Start: grid.Start.Add(-s.lookback).UnixMilli(),
		End:   grid.End.UnixMilli(),
		Func:  "series", // metadata only: no need to decode samples
	}
	q, err := s.queryable.Querier(hints.Start, hints.End)
	if err != nil {
		return nil, fmt.Errorf("%s: values of label %s: %w", s.desc, name, err)
	}
	defer q.Close()
	set := q.Select(ctx, false, hints, labels.MustNewMatcher(labels.MatchRegexp, name, ".+"))
	seen := map[string]struct{}{}
	for set.Next() {
		seen[set.At().Labels().Get(name)] = struct{}{}
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("%s: values of label %s: %w", s.desc, name, err)
	}
	vals := make([]string, 0, len(seen))
	for v := range seen {
		vals = append(vals, v)
	}
	sort.Strings(vals)
	return vals, nil
}

// Close releases the storage (the TSDB and its scratch directory); closing
// twice does nothing more.
func (s *Source) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.release() })
	return s.closeErr
}
