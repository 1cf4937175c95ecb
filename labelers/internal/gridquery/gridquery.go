package gridquery

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/opsdata/opsdata/internal/ordered"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// ErrNoQueryable means a rule or alerts_series labeler ran without a metric
// source to query (Resolve refuses such a spec; direct callers may not).
var ErrNoQueryable = errors.New("no metric source with local storage to evaluate over")

// Setup is what the labelers that query metrics over the grid (rule,
// alerts_series) start from: it checks there is a metric source and returns
// the evaluation step (cfg.Interval, default the grid step) and the entity
// label (cfg.EntityLabel, default the input's). kind prefixes the error.
func Setup(kind string, cfg Config, in pipeline.LabelInput) (time.Duration, string, error) {
	if in.Queryable == nil {
		return 0, "", fmt.Errorf("%s labeler: %w", kind, ErrNoQueryable)
	}
	step := time.Duration(cfg.Interval)
	if step <= 0 {
		step = in.Grid.Step
	}
	entityLabel := cfg.EntityLabel
	if entityLabel == "" {
		entityLabel = in.EntityLabel
	}
	return step, entityLabel, nil
}

// NewEngine builds the PromQL engine for a labeler: opts with the
// sample and time bounds every labeler uses. The caller closes it.
func NewEngine(opts promql.EngineOpts) *promql.Engine {
	opts.MaxSamples, opts.Timeout = 50_000_000, time.Hour
	return promql.NewEngine(opts)
}

// RangeMatrix runs expr as a range query over the grid at step, in slices
// of sliceSteps steps: one range query holds the inner expressions' points
// of every selected series for its whole range (a rule over 10k series and
// a nightly dataset's months would not fit), and each step is evaluated on
// its own, so the slices give the points of one query. Series are merged
// by labels and returned sorted by them, as the engine returns a range
// query's matrix. via, when set, gets each slice (pipeline.SliceEvaluator);
// nil evaluates them on q.
func RangeMatrix(ctx context.Context, engine *promql.Engine, q storage.Queryable, via pipeline.SliceEvaluator, expr string, grid pipeline.Grid, step time.Duration) (promql.Matrix, error) {
	last := int(grid.End.Sub(grid.Start) / step) // points at Start + j*step, j in [0, last]
	byKey := map[string]int{}
	var out promql.Matrix
	// The slices run on every core and are appended in order.
	slice := func(ctx context.Context, k int) (promql.Matrix, error) {
		lo := k * sliceSteps
		hi := min(lo+sliceSteps-1, last)
		s := pipeline.RangeSlice{Expr: expr, Start: grid.Start.Add(time.Duration(lo) * step), End: grid.Start.Add(time.Duration(hi) * step), Step: step}
		eval := func(ctx context.Context, expr string) (promql.Matrix, error) {
			return rangeSlice(ctx, engine, q, expr, s.Start, s.End, s.Step)
		}
		if via == nil {
			return eval(ctx, s.Expr)
		}
		return via(ctx, s, eval)
	}
	err := ordered.Do(ctx, last/sliceSteps+1, ordered.WorkersFor(q), slice, func(_ int, m promql.Matrix) error {
		for _, s := range m {
			k := s.Metric.String()
			i, ok := byKey[k]
			if !ok {
				i = len(out)
				byKey[k] = i
				out = append(out, promql.Series{Metric: s.Metric, DropName: s.DropName})
			}
			out[i].Floats = append(out[i].Floats, s.Floats...)
			out[i].Histograms = append(out[i].Histograms, s.Histograms...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Metric, out[j].Metric) < 0 })
	return out, nil
}

// sliceSteps is how many steps one range query of RangeMatrix evaluates.
var sliceSteps = 360

func rangeSlice(ctx context.Context, engine *promql.Engine, q storage.Queryable, expr string, start, end time.Time, step time.Duration) (promql.Matrix, error) {
	qry, err := engine.NewRangeQuery(ctx, q, nil, expr, start, end, step)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	m, ok := res.Value.(promql.Matrix)
	if !ok {
		return nil, fmt.Errorf("expression returns %s, an alerting rule needs an instant vector", res.Value.Type())
	}
	// qry.Close hands the result's point slices back to the engine's pool,
	// where the next query overwrites them: copy what the caller keeps.
	out := make(promql.Matrix, len(m))
	for i, s := range m {
		out[i] = promql.Series{Metric: s.Metric, DropName: s.DropName,
			Floats: append([]promql.FPoint(nil), s.Floats...), Histograms: append([]promql.HPoint(nil), s.Histograms...)}
	}
	return out, nil
}

// Config is the section of the labelers that query the metric source
// over the grid (rule, alerts_series).
type Config struct {
	Interval    spec.Duration `yaml:"interval"`     // evaluation step (default: the window)
	EntityLabel string        `yaml:"entity_label"` // label naming the entity (default entity.label)
}

// Problems lists what is wrong with the section.
func (c Config) Problems() []error {
	if c.Interval < 0 {
		return []error{errors.New("interval: must not be negative")}
	}
	return nil
}

// Factory adapts a kind's typed constructor to pipeline.LabelerFactory.
func Factory[C any, P interface {
	*C
	pipeline.Config
}](needsQueryable bool, build func(*C, *pipeline.Problems) (pipeline.Labeler, error)) pipeline.LabelerFactory {
	return pipeline.LabelerFactory{
		NewConfig:      func() pipeline.Config { return P(new(C)) },
		NeedsQueryable: needsQueryable,
		New: func(cfg pipeline.Config, problems *pipeline.Problems) (pipeline.Labeler, error) {
			return build(cfg.(P), problems)
		},
	}
}
