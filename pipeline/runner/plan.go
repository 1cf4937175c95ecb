package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// Plan is a spec resolved against the registry: every component section
// decoded into its kind's own config and validated, and the rules that cross
// kinds checked through capabilities. Export, raw and check all start here,
// so `opsdata check` refuses exactly what a run would.
type Plan struct {
	Spec *spec.Spec
	// Metrics is the metric source serving the features and the labelers
	// that query history; nil when the spec needs none.
	Metrics  *MetricPlan
	Logs     []LogPlan
	Tickets  []TicketPlan
	Labelers []LabelerPlan
	// metricConfigs holds every metrics section the spec wrote, by kind,
	// for opsdata raw's --source.
	metricConfigs map[string]pipeline.Config
	components    pipeline.Components
}

// MetricPlan is the resolved metric source.
type MetricPlan struct {
	Kind    string
	Factory pipeline.MetricSourceFactory
	Config  pipeline.Config
}

// LogPlan is one resolved log source.
type LogPlan struct {
	Spec    spec.LogSource
	Factory pipeline.LogSourceFactory
	Config  pipeline.Config
}

// TicketPlan is one resolved ticket source.
type TicketPlan struct {
	Spec    spec.TicketSource
	Factory pipeline.TicketSourceFactory
	Config  pipeline.Config
}

// LabelerPlan is one resolved labeler.
type LabelerPlan struct {
	Spec    spec.Labeler
	Factory pipeline.LabelerFactory
	Config  pipeline.Config
}

// Resolve decodes and validates every component section of s. All problems
// are reported at once, each naming file:line and the key.
func Resolve(s *spec.Spec, c pipeline.Components) (*Plan, error) {
	p := &Plan{Spec: s, metricConfigs: map[string]pipeline.Config{}, components: c}
	var errs []string
	add := func(where, format string, a ...any) { errs = append(errs, where+": "+fmt.Sprintf(format, a...)) }
	// decode decodes sec into cfg and validates it; problems name prefix.
	decode := func(sec spec.Section, prefix string, cfg pipeline.Config) {
		if err := sec.Decode(cfg); err != nil {
			errs = append(errs, strings.TrimPrefix(err.Error(), spec.ErrInvalid.Error()+": "))
			return
		}
		if err := cfg.Validate(); err != nil {
			for _, e := range splitJoined(err) {
				add(sec.Where(), "%s%s", prefix, e)
			}
		}
	}

	for i, l := range s.Labelers {
		where := fmt.Sprintf("labelers[%d]", i)
		f, ok := c.Labelers[l.Kind]
		if !ok {
			add(l.Config.Where(), "%s.kind: %q is not a known labeler (%s)", where, l.Kind, strings.Join(slices.Sorted(maps.Keys(c.Labelers)), ", "))
			continue
		}
		cfg := f.NewConfig()
		decode(l.Config, fmt.Sprintf("%s (%s).", where, l.Kind), cfg)
		p.Labelers = append(p.Labelers, LabelerPlan{Spec: l, Factory: f, Config: cfg})
	}
	needsQueryable := ""
	for _, l := range p.Labelers {
		if l.Factory.NeedsQueryable && needsQueryable == "" {
			needsQueryable = l.Spec.Kind
		}
	}

	// The metrics mapping: the spec's keys, plus one section per kind.
	m := s.Metrics
	mf, known := c.Metrics[m.Source]
	if !known {
		add(m.Config.Where(), "metrics.source: %q is not a known metric source (%s)", m.Source, strings.Join(slices.Sorted(maps.Keys(c.Metrics)), ", "))
	}
	sections := map[string][]string{} // section key → kinds reading it
	for _, k := range slices.Sorted(maps.Keys(c.Metrics)) {
		sections[c.Metrics[k].Section] = append(sections[c.Metrics[k].Section], k)
	}
	for _, key := range m.Config.Keys() {
		switch key.Name {
		case "source", "lookback_delta", "features":
			continue
		}
		kinds, ok := sections[key.Name]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s:%d: metrics: unknown key %q (known here: source, lookback_delta, features, %s; see docs/spec.md)", s.Path, key.Line, key.Name, strings.Join(slices.Sorted(maps.Keys(sections)), ", ")))
			continue
		}
		kind := kinds[0]
		if known && mf.Section == key.Name {
			kind = m.Source
		}
		cfg := c.Metrics[kind].NewConfig()
		decode(m.Config.Child(key.Name), "metrics."+key.Name+": ", cfg)
		for _, k := range kinds {
			if k == kind {
				p.metricConfigs[k] = cfg
			} else if _, done := p.metricConfigs[k]; !done {
				other := c.Metrics[k].NewConfig()
				if m.Config.Child(key.Name).Decode(other) == nil {
					p.metricConfigs[k] = other
				}
			}
		}
	}
	if known && (len(m.Features) > 0 || needsQueryable != "") {
		cfg, ok := p.metricConfigs[m.Source]
		if !ok { // section absent: the kind's defaults must do
			cfg = mf.NewConfig()
			if err := cfg.Validate(); err != nil {
				for _, e := range splitJoined(err) {
					add(m.Config.Where(), "metrics.%s: %s", mf.Section, e)
				}
			}
			p.metricConfigs[m.Source] = cfg
		}
		p.Metrics = &MetricPlan{Kind: m.Source, Factory: mf, Config: cfg}
		if needsQueryable != "" && !mf.Queryable {
			add(m.Config.Where(), "labeler %s evaluates PromQL over the metric source's storage, which metrics.source %s does not have; use a source with local storage (%s)",
				needsQueryable, m.Source, strings.Join(queryableKinds(c), ", "))
		}
	}
	for i, f := range m.Features {
		if err := pipeline.CheckFeature(f.Expr); err != nil && strings.TrimSpace(f.Expr) != "" {
			errs = append(errs, fmt.Sprintf("%s:%d: metrics.features[%d] (%s).expr: %v", s.Path, f.Line, i, f.Name, err))
		}
	}

	for i, l := range s.Logs {
		f, ok := c.Logs[l.Format]
		if !ok {
			add(l.Config.Where(), "logs[%d] (%s).format: %q is not a known format (%s)", i, l.Name, l.Format, strings.Join(slices.Sorted(maps.Keys(c.Logs)), ", "))
			continue
		}
		cfg := f.NewConfig()
		decode(l.Config, fmt.Sprintf("logs[%d] (%s).", i, l.Name), cfg)
		p.Logs = append(p.Logs, LogPlan{Spec: l, Factory: f, Config: cfg})
	}
	for i, t := range s.Tickets {
		f, ok := c.Tickets[t.Format]
		if !ok {
			add(t.Config.Where(), "tickets[%d] (%s).format: %q is not a known format (%s)", i, t.Name, t.Format, strings.Join(slices.Sorted(maps.Keys(c.Tickets)), ", "))
			continue
		}
		cfg := f.NewConfig()
		decode(t.Config, fmt.Sprintf("tickets[%d] (%s).", i, t.Name), cfg)
		p.Tickets = append(p.Tickets, TicketPlan{Spec: t, Factory: f, Config: cfg})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", spec.ErrInvalid, strings.Join(errs, "; "))
	}
	return p, nil
}

// RawSource is the metric source kind a raw export reads and its config:
// kind, when set, names a registered kind (remote-read is an alias of
// prometheus); empty follows metrics.source.
func (p *Plan) RawSource(kind string) (pipeline.MetricSourceFactory, pipeline.Config, string, error) {
	if kind == "" {
		kind = p.Spec.Metrics.Source
	}
	if kind == "remote-read" {
		kind = "prometheus"
	}
	f, ok := p.components.Metrics[kind]
	if !ok || f.OpenRaw == nil {
		var raw []string
		for _, k := range slices.Sorted(maps.Keys(p.components.Metrics)) {
			if p.components.Metrics[k].OpenRaw != nil {
				raw = append(raw, k)
			}
		}
		return f, nil, kind, fmt.Errorf("--source %s: not a metric source that reads raw samples; use %s (remote-read for prometheus)", kind, strings.Join(raw, ", "))
	}
	cfg, ok := p.metricConfigs[kind]
	if !ok {
		cfg = f.NewConfig()
	}
	if err := cfg.Validate(); err != nil {
		return f, nil, kind, fmt.Errorf("--source %s: metrics.%s in %s: %w", kind, f.Section, p.Spec.Path, err)
	}
	return f, cfg, kind, nil
}

func queryableKinds(c pipeline.Components) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(c.Metrics)) {
		if c.Metrics[k].Queryable {
			out = append(out, k)
		}
	}
	return out
}

// splitJoined lists the errors of an errors.Join (or the one error).
func splitJoined(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, splitJoined(e)...)
		}
		return out
	}
	var parts []string
	for _, s := range strings.Split(err.Error(), "; ") {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return parts
}

// Fingerprint combines the fingerprints of every input of the plan (the
// metric source, log and ticket sources, labelers); ok is false when one of
// them cannot be fingerprinted without reading it (a remote source).
func (p *Plan) Fingerprint(ctx context.Context) (fp string, ok bool, err error) {
	h := sha256.New()
	add := func(what string, cfg pipeline.Config) bool {
		f, isFP := cfg.(pipeline.Fingerprinter)
		if !isFP {
			return false
		}
		v, e := f.Fingerprint(ctx)
		if e != nil {
			err = fmt.Errorf("fingerprint %s: %w", what, e)
			return false
		}
		fmt.Fprintf(h, "%s %s\n", what, v)
		return true
	}
	if p.Metrics != nil && !add("metrics."+p.Metrics.Kind, p.Metrics.Config) {
		return "", false, err
	}
	for i, l := range p.Logs {
		if !add(fmt.Sprintf("logs[%d]", i), l.Config) {
			return "", false, err
		}
	}
	for i, t := range p.Tickets {
		if !add(fmt.Sprintf("tickets[%d]", i), t.Config) {
			return "", false, err
		}
	}
	for i, l := range p.Labelers {
		if !add(fmt.Sprintf("labelers[%d]", i), l.Config) {
			return "", false, err
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), true, nil
}
