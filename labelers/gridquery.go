package labelers

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/opsdata/opsdata/spec"
	"github.com/opsdata/opsdata/pipeline"
)

// gridSetup is what the labelers that query metrics over the grid (rule,
// alerts_series) start from: it checks there is a metric source and returns
// the evaluation step (cfg.Interval, default the grid step) and the entity
// label (cfg.EntityLabel, default the input's). kind prefixes the error.
func gridSetup(kind string, cfg spec.Labeler, in pipeline.LabelInput) (time.Duration, string, error) {
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

// newGridEngine builds the PromQL engine for a labeler: opts with the
// sample and time bounds every labeler uses. The caller closes it.
func newGridEngine(opts promql.EngineOpts) *promql.Engine {
	opts.MaxSamples, opts.Timeout = 50_000_000, time.Hour
	return promql.NewEngine(opts)
}

// rangeMatrix runs expr as a range query over the grid at step.
func rangeMatrix(ctx context.Context, engine *promql.Engine, q storage.Queryable, expr string, grid pipeline.Grid, step time.Duration) (promql.Matrix, error) {
	qry, err := engine.NewRangeQuery(ctx, q, nil, expr, grid.Start, grid.End, step)
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
