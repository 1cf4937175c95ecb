package alertseries

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/opsdata/opsdata/labelers/internal/gridquery"
	"github.com/opsdata/opsdata/pipeline"
)

// AlertSeriesLabeler reads the ALERTS and ALERTS_FOR_STATE series a
// Prometheus server recorded while its rules ran: every run of
// ALERTS{alertstate="firing"} samples is one incident, starting at the
// ALERTS_FOR_STATE value (the alert's activeAt) when there is one.
type AlertSeriesLabeler struct {
	cfg      Config
	problems *pipeline.Problems
}

// NewAlertSeriesLabeler builds the labeler; series are read by Incidents.
func NewAlertSeriesLabeler(cfg Config, problems *pipeline.Problems) *AlertSeriesLabeler {
	return &AlertSeriesLabeler{cfg: cfg, problems: problems}
}

// Name is the labeler's kind.
func (l *AlertSeriesLabeler) Name() string { return "alerts_series" }

// Incidents range-queries the series over the grid at its step (or
// cfg.Interval). A run ends at the first step without a firing sample; a
// run reaching the grid end has an unknown end.
func (l *AlertSeriesLabeler) Incidents(ctx context.Context, in pipeline.LabelInput) ([]pipeline.Incident, error) {
	step, entityLabel, err := gridquery.Setup("alerts_series", l.cfg.Config, in) // gridquery.go
	if err != nil {
		return nil, err
	}
	// lookback of one step: a series that stops is gone at the next step
	engine := gridquery.NewEngine(promql.EngineOpts{LookbackDelta: step})
	defer engine.Close()
	run := func(expr string) (promql.Matrix, error) {
		m, err := gridquery.RangeMatrix(ctx, engine, in.Queryable, in.Slices, expr, in.Grid, step)
		if err != nil {
			return nil, err
		}
		sort.Sort(byMetric(m))
		return m, nil
	}
	firing, err := run(`ALERTS{alertstate="firing"}`)
	if err != nil {
		return nil, fmt.Errorf("alerts_series labeler: ALERTS: %w", err)
	}
	forState, err := run(`ALERTS_FOR_STATE`)
	if err != nil {
		return nil, fmt.Errorf("alerts_series labeler: ALERTS_FOR_STATE: %w", err)
	}
	// ALERTS_FOR_STATE has the alert's labels without alertstate.
	active := map[uint64]promql.Series{}
	for _, s := range forState {
		active[labels.NewBuilder(s.Metric).Del(labels.MetricName).Labels().Hash()] = s
	}
	stepMs := step.Milliseconds()
	var out []pipeline.Incident
	for _, s := range firing {
		key := labels.NewBuilder(s.Metric).Del(labels.MetricName, "alertstate").Labels()
		ent := key.Get(entityLabel)
		name := key.Get(labels.AlertName)
		if ent == "" {
			if l.problems != nil {
				l.problems.Add("labeler:alerts_series", "ALERTS "+key.String(), "no_entity_label", fmt.Sprintf("no %q label", entityLabel))
			}
			continue
		}
		fs := active[key.Hash()]
		for i := 0; i < len(s.Floats); {
			j := i + 1
			for j < len(s.Floats) && s.Floats[j].T-s.Floats[j-1].T == stepMs {
				j++
			}
			startMs := s.Floats[i].T
			for _, p := range fs.Floats { // activeAt, in seconds, as Prometheus records it
				if p.T == startMs && p.F > 0 && int64(p.F*1000) <= startMs {
					startMs = int64(p.F * 1000)
				}
			}
			start := time.UnixMilli(startMs).UTC()
			var end *time.Time
			if lastT := s.Floats[j-1].T; lastT+stepMs <= in.Grid.End.UnixMilli() {
				e := time.UnixMilli(lastT + stepMs).UTC()
				end = &e
			}
			typ := key.Get("type")
			if typ == "" {
				typ = name
			}
			out = append(out, pipeline.Incident{
				ID:     fmt.Sprintf("alert:%s:%s:%08x", name, start.Format("20060102T150405Z"), uint32(key.Hash())),
				Entity: ent, Start: start, End: end, Severity: pipeline.NormalizeSeverity(key.Get("severity")), Type: typ,
				Source: pipeline.SourceAlert, SourceID: "ALERTS:" + name, Confidence: pipeline.ConfidenceAlert, Title: name,
			})
			i = j
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return pipeline.IncidentLess(&out[a], &out[b]) })
	return out, nil
}

type byMetric promql.Matrix

func (m byMetric) Len() int           { return len(m) }
func (m byMetric) Less(i, j int) bool { return labels.Compare(m[i].Metric, m[j].Metric) < 0 }
func (m byMetric) Swap(i, j int)      { m[i], m[j] = m[j], m[i] }
