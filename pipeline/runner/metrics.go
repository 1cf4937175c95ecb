package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
	"github.com/prometheus/prometheus/model/labels"
)

// metricsDay evaluates every feature over one day, fills the frame's
// feature values and writes the day's metrics partition; it returns the
// partition's rows. It runs beside the day's log passes (exportDay).
func (e *export) metricsDay(ctx context.Context, msrc pipeline.MetricSource, day pipeline.Grid, frame *align.Frame) (int64, error) {
	var rows []schemas.Metric
	seen := map[string]bool{}
	for k, f := range e.s.Metrics.Features {
		err := msrc.Evaluate(ctx, day, f, func(fs pipeline.FeatureSeries) error {
			if _, err := frame.AddFeature(k, fs, seen); err != nil {
				return err
			}
			id := e.seriesIDOf(fs)
			for i, v := range fs.Values {
				if !math.IsNaN(v) {
					rows = append(rows, schemas.Metric{WindowStart: day.At(i), SeriesID: id, Value: v})
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("metrics: %w", err)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].WindowStart.Equal(rows[j].WindowStart) {
			return rows[i].WindowStart.Before(rows[j].WindowStart)
		}
		return rows[i].SeriesID < rows[j].SeriesID
	})
	if len(rows) == 0 {
		return 0, nil
	}
	return write.Table(e.staging, write.PartPath(schemas.TableMetrics, pipeline.Date(day.Start), 0), rows, "window_start", "series_id")
}

// seriesIDOf numbers feature series in order of first appearance, which is
// deterministic: days in order, features in spec order, series sorted.
func (e *export) seriesIDOf(fs pipeline.FeatureSeries) int64 {
	key := fs.Feature + "\x00" + fs.Labels.String()
	if id, ok := e.seriesID[key]; ok {
		return id
	}
	id := int64(len(e.seriesID))
	e.seriesID[key] = id
	pub := e.anon.Labels(fs.Labels)
	m := map[string]string{}
	pub.Range(func(l labels.Label) { m[l.Name] = l.Value })
	ent := fs.Labels.Get(e.s.Entity.Label)
	// A series reached only by a feature's lookback into the previous day
	// is named here, on its first appearance (entities.go).
	e.addEntities([]string{ent})
	if ent != "" {
		m[e.s.Entity.Label] = e.entity(ent)
	}
	b, _ := json.Marshal(m) // map keys are sorted by encoding/json
	e.series = append(e.series, schemas.Series{SeriesID: id, Feature: fs.Feature, Entity: e.entity(ent), Labels: string(b)})
	return id
}
