package rule

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"

	"github.com/opsdata/opsdata/internal/ordered"
	"github.com/opsdata/opsdata/labelers/internal/gridquery"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// RuleLabeler evaluates Prometheus alerting rules over history with
// Prometheus's own rules package and PromQL engine: every interval in which
// a rule would have fired (its `for:` honoured) becomes an incident of the
// entity its alert labels name.
type RuleLabeler struct {
	cfg      Config
	rules    []ruleDef
	problems *pipeline.Problems
	// Lookback is the engine's lookback delta (default 5m).
	Lookback time.Duration
}

type ruleDef struct {
	group string
	file  string
	rule  rulefmt.Rule
	expr  parser.Expr
}

// NewRuleLabeler loads cfg.Rules (globs of standard Prometheus rule files).
// Recording rules are ignored; a file that does not parse is an error.
func NewRuleLabeler(cfg Config, problems *pipeline.Problems) (*RuleLabeler, error) {
	l := &RuleLabeler{cfg: cfg, problems: problems, Lookback: spec.DefaultLookback}
	p := parser.NewParser(parser.Options{})
	for _, pat := range cfg.Rules {
		files, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("rule labeler: rules %q: %w", pat, err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("rule labeler: rules %q matches no file (paths are relative to where opsdata runs)", pat)
		}
		sort.Strings(files)
		for _, f := range files {
			groups, errs := rulefmt.ParseFile(f, false, model.UTF8Validation, p, promslog.NewNopLogger())
			if len(errs) > 0 {
				return nil, fmt.Errorf("rule labeler: %w", errors.Join(errs...))
			}
			for _, g := range groups.Groups {
				for _, r := range g.Rules {
					if r.Alert == "" {
						continue
					}
					e, err := p.ParseExpr(r.Expr)
					if err != nil {
						return nil, fmt.Errorf("rule labeler: %s: group %s: alert %s: %w", f, g.Name, r.Alert, err)
					}
					l.rules = append(l.rules, ruleDef{group: g.Name, file: f, rule: r, expr: e})
				}
			}
		}
	}
	if len(l.rules) == 0 {
		return nil, fmt.Errorf("rule labeler: no alerting rules in %v", cfg.Rules)
	}
	return l, nil
}

// Name is the labeler's kind.
func (l *RuleLabeler) Name() string { return "rule" }

// Incidents steps every rule through the grid (at cfg.Interval, default the
// window step) from grid start to grid end. An alert contributes an incident
// only if it reached firing; the incident's cause interval is [ActiveAt,
// ResolvedAt): from the first evaluation at which the condition held to the
// first at which it no longer did. An alert still firing at the grid end
// has an unknown end.
func (l *RuleLabeler) Incidents(ctx context.Context, in pipeline.LabelInput) ([]pipeline.Incident, error) {
	var out []pipeline.Incident
	err := l.evalRules(ctx, in, nil, func(incs []pipeline.Incident) { out = append(out, incs...) })
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(a, b int) bool { return pipeline.IncidentLess(&out[a], &out[b]) })
	return out, nil
}

// evalRules steps every rule through its grid (in.Grid, or what from
// makes of it for the rule) and hands each rule's incidents to each.
func (l *RuleLabeler) evalRules(ctx context.Context, in pipeline.LabelInput, from func(rd ruleDef, g pipeline.Grid, step time.Duration) pipeline.Grid, each func([]pipeline.Incident)) error {
	step, entityLabel, err := gridquery.Setup("rule", l.cfg.Config, in) // gridquery.go
	if err != nil {
		return err
	}
	engine := gridquery.NewEngine(promql.EngineOpts{LookbackDelta: l.Lookback, EnableAtModifier: true, EnableNegativeOffset: true})
	defer engine.Close()
	// Rules are evaluated two at a time (each its range query's slices on
	// several goroutines, then its alert states step by step, which is
	// sequential) and their incidents handed over in rule order. Two, not
	// one per core: each holds its query's slices in flight.
	return ordered.Do(ctx, len(l.rules), min(2, ordered.WorkersFor(in.Queryable)), func(ctx context.Context, i int) ([]pipeline.Incident, error) {
		rd := l.rules[i]
		g := in.Grid
		if from != nil {
			g = from(rd, g, step)
		}
		query, err := rangeQueryFunc(ctx, engine, in, rd.expr.String(), g, step)
		if err != nil {
			return nil, fmt.Errorf("rule labeler: %s: alert %s: %w", rd.file, rd.rule.Alert, err)
		}
		return l.evalRule(ctx, rd, query, g, step, entityLabel)
	}, func(_ int, incs []pipeline.Incident) error {
		each(incs)
		return nil
	})
}

// warmUp is how far before the resume point a resumed evaluation starts,
// beyond a rule's for and keep_firing_for: every alert's state at the
// resume point is then the one the whole history gives, but for the
// activation time of an alert active since before the warm-up, which the
// previous run's open incident supplies.
const warmUp = time.Hour

var _ pipeline.IncidentResumer = (*RuleLabeler)(nil)

// ResumeIncidents continues a run over the grid up to at (prev its
// incidents): each rule is evaluated from a warm-up before at, the
// previous run's incidents that ended by at are kept, and an alert still
// firing at at keeps the start and id the previous run gave it. The result
// equals Incidents over the whole grid (TestResumeIncidents).
func (l *RuleLabeler) ResumeIncidents(ctx context.Context, in pipeline.LabelInput, at time.Time, prev []pipeline.Incident) ([]pipeline.Incident, error) {
	var out []pipeline.Incident
	open := map[string]pipeline.Incident{}
	for _, p := range prev {
		if p.End == nil {
			open[alertKey(p)] = p
		} else {
			out = append(out, p)
		}
	}
	warmStart := func(rd ruleDef, g pipeline.Grid, step time.Duration) pipeline.Grid {
		warm := time.Duration(rd.rule.For) + time.Duration(rd.rule.KeepFiringFor) + warmUp
		if k := at.Add(-warm).Sub(g.Start) / step; k > 0 {
			g.Start = g.Start.Add(k * step) // on the same steps as the whole grid's
		}
		return g
	}
	err := l.evalRules(ctx, in, warmStart, func(incs []pipeline.Incident) {
		for _, inc := range incs {
			if inc.End != nil && !inc.End.After(at) {
				continue // ended by at: the previous run's, which saw its start
			}
			if p, ok := open[alertKey(inc)]; ok && !inc.Start.After(at) {
				inc.Start, inc.ID = p.Start, p.ID
				delete(open, alertKey(inc))
			}
			out = append(out, inc)
		}
	})
	if err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(open)) {
		out = append(out, open[k]) // firing at at and not seen since: as it was
	}
	sort.SliceStable(out, func(a, b int) bool { return pipeline.IncidentLess(&out[a], &out[b]) })
	return out, nil
}

// alertKey names one alert of one rule: the rule and its labels' hash
// (the id's last part) and the entity.
func alertKey(inc pipeline.Incident) string {
	h := inc.ID[strings.LastIndexByte(inc.ID, ':')+1:]
	return inc.SourceID + "\x00" + h + "\x00" + inc.Entity
}

func (l *RuleLabeler) evalRule(ctx context.Context, rd ruleDef, query rules.QueryFunc, grid pipeline.Grid, step time.Duration, entityLabel string) ([]pipeline.Incident, error) {
	r := rd.rule
	rule := rules.NewAlertingRule(r.Alert, rd.expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
		labels.FromMap(r.Labels), labels.FromMap(r.Annotations), labels.EmptyLabels(), "", false, promslog.NewNopLogger())
	type open struct {
		alert  rules.Alert
		firing bool
	}
	live := map[uint64]*open{} // by alert labels hash
	var out []pipeline.Incident
	emit := func(o *open, end *time.Time) {
		if !o.firing {
			return
		}
		inc, ok := l.incident(rd, o.alert, end, entityLabel)
		if ok {
			out = append(out, inc)
		}
	}
	for ts := grid.Start; !ts.After(grid.End); ts = ts.Add(step) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := rule.Eval(ctx, 0, ts, query, nil, 0); err != nil {
			return nil, fmt.Errorf("rule labeler: %s: alert %s at %s: %w", rd.file, r.Alert, ts.UTC().Format(time.RFC3339), err)
		}
		seen := map[uint64]bool{}
		rule.ForEachActiveAlert(func(a *rules.Alert) {
			h := a.Labels.Hash()
			o := live[h]
			if a.State == rules.StateInactive || !a.ResolvedAt.IsZero() {
				// resolved at this evaluation (or earlier, kept for resend)
				if o != nil && o.alert.ActiveAt.Equal(a.ActiveAt) {
					end := a.ResolvedAt
					emit(o, &end)
					delete(live, h)
				}
				return
			}
			seen[h] = true
			if o != nil && !o.alert.ActiveAt.Equal(a.ActiveAt) {
				delete(live, h) // a new activation replaced a pending one
				o = nil
			}
			if o == nil {
				o = &open{}
				live[h] = o
			}
			o.alert = *a
			o.firing = o.firing || a.State == rules.StateFiring
		})
		for h, o := range live {
			if !seen[h] { // dropped without a resolve record (pending that stopped)
				end := ts
				emit(o, &end)
				delete(live, h)
			}
		}
	}
	hs := make([]uint64, 0, len(live))
	for h := range live {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(a, b int) bool { return hs[a] < hs[b] })
	for _, h := range hs {
		emit(live[h], nil) // still firing at the grid end: end unknown
	}
	return out, nil
}

func (l *RuleLabeler) incident(rd ruleDef, a rules.Alert, end *time.Time, entityLabel string) (pipeline.Incident, bool) {
	start := a.ActiveAt.UTC()
	ent := a.Labels.Get(entityLabel)
	if ent == "" {
		if l.problems != nil {
			l.problems.Add("labeler:rule", fmt.Sprintf("%s: alert %s at %s", filepath.Base(rd.file), rd.rule.Alert, start.Format(time.RFC3339)),
				"no_entity_label", fmt.Sprintf("alert labels carry no %q label; aggregate `by (%s)` in the rule", entityLabel, entityLabel))
		}
		return pipeline.Incident{}, false
	}
	if end != nil {
		e := end.UTC()
		end = &e
	}
	typ := a.Labels.Get("type")
	if typ == "" {
		typ = rd.rule.Alert
	}
	title := a.Annotations.Get("summary")
	if title == "" {
		title = rd.rule.Alert
	}
	return pipeline.Incident{
		// no raw label values in ids: they are published unpseudonymized
		ID:         fmt.Sprintf("rule:%s:%s:%08x", rd.rule.Alert, start.Format("20060102T150405Z"), uint32(a.Labels.Hash())),
		Entity:     ent,
		Start:      start,
		End:        end,
		Severity:   pipeline.NormalizeSeverity(a.Labels.Get("severity")),
		Type:       typ,
		Source:     pipeline.SourceRule,
		SourceID:   filepath.Base(rd.file) + ":" + rd.group + ":" + rd.rule.Alert,
		Confidence: pipeline.ConfidenceRule,
		Title:      title,
	}, true
}

// ensure the queryable type is the storage one (documentation for callers)
var _ storage.Queryable = storage.QueryableFunc(nil)

// rangeQueryFunc evaluates a rule's expression once, as a range query over
// the grid, and serves the alerting rule's per-step instant queries from
// that result. A range query's step t equals the instant query at t, so
// Prometheus's rules code sees exactly what it would see live, while the
// engine selects series once instead of once per step (~20x faster over
// days of history).
func rangeQueryFunc(ctx context.Context, engine *promql.Engine, in pipeline.LabelInput, expr string, grid pipeline.Grid, step time.Duration) (rules.QueryFunc, error) {
	matrix, err := gridquery.RangeMatrix(ctx, engine, in.Queryable, in.Slices, expr, grid, step)
	if err != nil {
		return nil, err
	}
	n := int((grid.End.Sub(grid.Start))/step) + 1
	steps := make([]promql.Vector, n)
	start, stepMs := grid.Start.UnixMilli(), step.Milliseconds()
	for _, series := range matrix {
		for _, p := range series.Floats {
			i := (p.T - start) / stepMs
			if i >= 0 && i < int64(n) {
				steps[i] = append(steps[i], promql.Sample{T: p.T, F: p.F, Metric: series.Metric})
			}
		}
	}
	return func(_ context.Context, _ string, ts time.Time) (promql.Vector, error) {
		i := (ts.UnixMilli() - start) / stepMs
		if i < 0 || i >= int64(n) {
			return nil, nil
		}
		return steps[i], nil
	}, nil
}
