package labeltest

// Package labeltest runs the labelers' scenario language (testdata/*.test),
// in the spirit of Prometheus's promqltest: a scenario loads series, rules,
// tickets, alerts and manual labels, evaluates labelers through their
// factories, and states the incidents and window labels it expects.
// testdata/README.md is its reference; keep the two in step.

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/label"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
	"gopkg.in/yaml.v2"
)

// scenario is the state of one scenario file while it is being run.
type scenario struct {
	file string

	grid     *pipeline.Grid
	cfg      label.Config
	kinds    Kinds
	entities []string // from the entities directive; nil = derive from inputs
	tickets  []pipeline.Ticket
	manual   []pipeline.Incident

	// result of the last eval
	evalLine  int
	evaluated bool
	incidents []pipeline.Incident
	labels    map[string][]schemas.WindowLabels // entity -> windows

	// expectations since the last eval, checked at the next eval, clear or EOF
	incExpects []incExpect
	winExpects []winExpect

	mismatches []string

	ext *scenarioExt // load/rules/eval rule (scenario_load_test.go)
}

type incExpect struct {
	line   int
	id     string
	entity string
	fields map[string]string // raw expected values, compared as strings after normalising
}

type winExpect struct {
	line   int
	entity string
	lo, hi int // window index range [lo, hi)
	desc   string
	checks []winCheck
}

type winCheck struct {
	key  string
	want string
}

// Kinds are the labeler kinds a scenario can evaluate, by kind name (the
// factories cmd/opsdata/components.go registers).
type Kinds map[string]pipeline.LabelerFactory

// RunFile runs the scenario in path; see Run.
func RunFile(tb testing.TB, path string, kinds Kinds) (mismatches []string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	return Run(tb, filepath.ToSlash(path), string(b), kinds)
}

// Run parses and runs the scenario src of file. err is a malformed
// scenario (file:line: what is wrong); mismatches are failed expectations,
// each "file:line: ... expected X, got Y". tb holds loaded series.
func Run(tb testing.TB, file, src string, kinds Kinds) (mismatches []string, err error) {
	s := &scenario{file: file, kinds: kinds, ext: &scenarioExt{tb: tb}}
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		raw := lines[i]
		line := i + 1
		if toks, _ := tokenize(raw); len(toks) > 0 && (toks[0] == "load" || toks[0] == "rules" || toks[0] == "manual") {
			n, err := s.block(line, toks, lines[i+1:])
			if err != nil {
				return nil, err
			}
			i += n
			continue
		}
		toks, err := tokenize(raw)
		if err != nil {
			return nil, s.errf(line, "%v", err)
		}
		if len(toks) == 0 {
			continue
		}
		if err := s.directive(line, toks); err != nil {
			return nil, err
		}
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.mismatches, nil
}

func (s *scenario) errf(line int, format string, a ...any) error {
	return fmt.Errorf("%s:%d: %s", s.file, line, fmt.Sprintf(format, a...))
}

func (s *scenario) mismatch(line int, format string, a ...any) {
	s.mismatches = append(s.mismatches, fmt.Sprintf("%s:%d: %s", s.file, line, fmt.Sprintf(format, a...)))
}

func (s *scenario) directive(line int, toks []string) error {
	switch toks[0] {
	case "grid":
		if len(toks) != 4 {
			return s.errf(line, "want: grid FROM TO STEP")
		}
		from, err := time.Parse(time.RFC3339Nano, toks[1])
		if err != nil {
			return s.errf(line, "grid FROM: %v", err)
		}
		to, err := time.Parse(time.RFC3339Nano, toks[2])
		if err != nil {
			return s.errf(line, "grid TO: %v", err)
		}
		step, err := spec.ParseDuration(toks[3])
		if err != nil {
			return s.errf(line, "grid STEP: %v", err)
		}
		g, err := pipeline.NewGrid(from.UTC(), to.UTC(), step)
		if err != nil {
			return s.errf(line, "grid: %v", err)
		}
		s.grid = &g
	case "config":
		kv, err := s.keyValues(line, toks[1:], "horizon", "recovery", "tolerance", "entity_label")
		if err != nil {
			return err
		}
		if v, ok := kv["entity_label"]; ok {
			s.ext.entityLbl = v
			delete(kv, "entity_label")
		}
		for k, v := range kv {
			d, err := spec.ParseDuration(v)
			if err != nil {
				return s.errf(line, "config %s: %v", k, err)
			}
			if k == "tolerance" {
				s.ext.tolerance = d
			} else if k == "horizon" {
				s.cfg.Horizon = d
			} else {
				s.cfg.Recovery = d
			}
		}
	case "entities":
		if len(toks) != 2 {
			return s.errf(line, "want: entities a,b,c")
		}
		s.entities = splitList(toks[1])
	case "ticket":
		return s.ticket(line, toks)
	case "incident":
		return s.incident(line, toks)
	case "alert":
		return s.alert(line, toks) // scenario_alert_test.go
	case "eval":
		if err := s.check(); err != nil {
			return err
		}
		return s.eval(line, toks[1:])
	case "expect":
		if !s.evaluated {
			return s.errf(line, "expect before any eval")
		}
		return s.expect(line, toks)
	case "clear":
		if err := s.check(); err != nil {
			return err
		}
		s.tickets, s.manual, s.entities, s.evaluated = nil, nil, nil, false
		s.ext.am = nil // alert lines and manual files are evidence too
	default:
		return s.errf(line, "unknown directive %q (grid, config, entities, ticket, incident, alert, load, rules, manual, eval, expect, clear)", toks[0])
	}
	return nil
}

func (s *scenario) ticket(line int, toks []string) error {
	if len(toks) < 2 || strings.Contains(toks[1], "=") {
		return s.errf(line, "want: ticket ID entities=a,b [created=T] [impact_start=T] [resolved=T] [severity=S] [title=S] [source=S]")
	}
	kv, err := s.keyValues(line, toks[2:], "entities", "created", "impact_start", "resolved", "severity", "title", "source")
	if err != nil {
		return err
	}
	t := pipeline.Ticket{ID: toks[1], Source: kv["source"], Title: kv["title"], Severity: kv["severity"],
		Entities: splitList(kv["entities"]), Where: fmt.Sprintf("%s:%d", s.file, line)}
	for key, dst := range map[string]**time.Time{"impact_start": &t.ImpactStart, "resolved": &t.Resolved} {
		if v, ok := kv[key]; ok {
			tm, err := s.parseTime(line, key, v)
			if err != nil {
				return err
			}
			*dst = &tm
		}
	}
	if v, ok := kv["created"]; ok {
		if t.Created, err = s.parseTime(line, "created", v); err != nil {
			return err
		}
	}
	s.tickets = append(s.tickets, t)
	return nil
}

func (s *scenario) incident(line int, toks []string) error {
	if len(toks) < 2 || strings.Contains(toks[1], "=") {
		return s.errf(line, "want: incident ID entity=E start=T [end=T] [effect_end=T] [source=S] [severity=S] [type=S] [confidence=F] [title=S]")
	}
	kv, err := s.keyValues(line, toks[2:], "entity", "start", "end", "effect_end", "source", "severity", "type", "confidence", "title")
	if err != nil {
		return err
	}
	if kv["entity"] == "" || kv["start"] == "" {
		return s.errf(line, "incident %s: entity= and start= are required", toks[1])
	}
	in := pipeline.Incident{ID: toks[1], Entity: kv["entity"], Source: pipeline.SourceManual, SourceID: toks[1],
		Severity: kv["severity"], Type: kv["type"], Title: kv["title"], Confidence: 1}
	if v, ok := kv["source"]; ok {
		in.Source = v
	}
	if in.Start, err = s.parseTime(line, "start", kv["start"]); err != nil {
		return err
	}
	for key, dst := range map[string]**time.Time{"end": &in.End, "effect_end": &in.EffectEnd} {
		if v, ok := kv[key]; ok {
			tm, err := s.parseTime(line, key, v)
			if err != nil {
				return err
			}
			*dst = &tm
		}
	}
	if v, ok := kv["confidence"]; ok {
		if in.Confidence, err = strconv.ParseFloat(v, 64); err != nil {
			return s.errf(line, "confidence: %v", err)
		}
	}
	s.manual = append(s.manual, in)
	return nil
}

func (s *scenario) eval(line int, labelers []string) error {
	if s.grid == nil {
		return s.errf(line, "eval before grid")
	}
	incs := append([]pipeline.Incident(nil), s.manual...)
	for _, name := range labelers {
		switch name {
		case "ticket":
			l, err := s.labeler(line, "ticket", nil, nil)
			if err != nil {
				return err
			}
			got, err := l.Incidents(context.Background(), pipeline.LabelInput{Grid: *s.grid, Entities: s.entities, Tickets: s.tickets})
			if err != nil {
				return s.errf(line, "ticket labeler: %v", err)
			}
			incs = append(incs, got...)
		case "rule", "alerts_series":
			got, err := s.runSeriesLabeler(line, name)
			if err != nil {
				return err
			}
			incs = append(incs, got...)
		case "alertmanager", "manual":
			run := s.runAlertmanager
			if name == "manual" {
				run = s.runManual
			}
			got, err := run(line)
			if err != nil {
				return err
			}
			incs = append(incs, got...)
		case "merge":
		default:
			return s.errf(line, "eval: unknown labeler %q (ticket, rule, alerts_series, alertmanager, manual; merge to merge them)", name)
		}
	}
	if contains(labelers, "merge") {
		incs = s.merge(incs)
	}
	byEntity := map[string][]pipeline.Incident{}
	for _, e := range s.entities {
		byEntity[e] = nil
	}
	for _, in := range incs {
		if s.entities == nil || contains(s.entities, in.Entity) {
			byEntity[in.Entity] = append(byEntity[in.Entity], in)
		}
	}
	s.labels = map[string][]schemas.WindowLabels{}
	for e, list := range byEntity {
		s.labels[e] = label.Apply(*s.grid, list, s.cfg)
	}
	s.incidents, s.evalLine, s.evaluated = incs, line, true
	return nil
}

var incidentKeys = []string{"start", "end", "effect_end", "severity", "type", "source", "source_id", "confidence", "title"}

var windowKeys = []string{"active", "phase", "ids", "severity", "sources", "minutes"}

func (s *scenario) expect(line int, toks []string) error {
	if len(toks) < 2 {
		return s.errf(line, "want: expect incident|window|windows ...")
	}
	switch toks[1] {
	case "incident":
		if len(toks) < 3 || strings.Contains(toks[2], "=") {
			return s.errf(line, "want: expect incident ID entity=E [key=value...]")
		}
		kv, err := s.keyValues(line, toks[3:], append([]string{"entity"}, incidentKeys...)...)
		if err != nil {
			return err
		}
		if kv["entity"] == "" {
			return s.errf(line, "expect incident %s: entity= is required", toks[2])
		}
		e := incExpect{line: line, id: toks[2], entity: kv["entity"], fields: map[string]string{}}
		for k, v := range kv {
			if k == "entity" {
				continue
			}
			if k == "start" || k == "end" || k == "effect_end" {
				if v != "none" {
					tm, err := s.parseTime(line, k, v)
					if err != nil {
						return err
					}
					v = fmtTime(tm)
				}
			}
			e.fields[k] = v
		}
		s.incExpects = append(s.incExpects, e)
	case "window", "windows":
		if len(toks) < 4 {
			return s.errf(line, "want: expect window E T key=value... | expect windows E A..B|* key=value...")
		}
		ent, rng := toks[2], toks[3]
		if _, ok := s.labels[ent]; !ok {
			return s.errf(line, "entity %q has no windows (known: %s)", ent, strings.Join(slices.Sorted(maps.Keys(s.labels)), ", "))
		}
		e := winExpect{line: line, entity: ent, desc: rng}
		var err error
		if toks[1] == "window" {
			t, err := s.parseTime(line, "window", rng)
			if err != nil {
				return err
			}
			i, ok := s.grid.Index(t)
			if !ok || !s.grid.At(i).Equal(t) {
				return s.errf(line, "%s is not the start of a window of the grid", fmtTime(t))
			}
			e.lo, e.hi = i, i+1
		} else if e.lo, e.hi, err = s.parseRange(line, rng); err != nil {
			return err
		}
		if len(toks) == 4 {
			return s.errf(line, "expect %s: give at least one of %s", toks[1], strings.Join(windowKeys, ", "))
		}
		kv, err := s.keyValues(line, toks[4:], windowKeys...)
		if err != nil {
			return err
		}
		for _, k := range windowKeys {
			if v, ok := kv[k]; ok {
				if err := validateWindowValue(k, v); err != nil {
					return s.errf(line, "%v", err)
				}
				e.checks = append(e.checks, winCheck{key: k, want: v})
			}
		}
		s.winExpects = append(s.winExpects, e)
	default:
		return s.errf(line, "expect %q: want incident, window or windows", toks[1])
	}
	return nil
}

func validateWindowValue(k, v string) error {
	switch k {
	case "active":
		if v != "true" && v != "false" {
			return fmt.Errorf("active=%q: want true or false", v)
		}
	case "phase":
		switch v {
		case schemas.PhaseNormal, schemas.PhasePreIncident, schemas.PhaseIncident, schemas.PhaseRecovery:
		default:
			return fmt.Errorf("phase=%q: want normal, pre_incident, incident or recovery", v)
		}
	case "minutes":
		if v != "none" {
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return fmt.Errorf("minutes=%q: want a number or none", v)
			}
		}
	}
	return nil
}

// check verifies the expectations collected since the last eval.
func (s *scenario) check() error {
	if !s.evaluated {
		if len(s.incExpects)+len(s.winExpects) > 0 {
			return s.errf(s.evalLine, "expectations without eval")
		}
		return nil
	}
	// incidents: each expected one must exist and match; when any is
	// expected, every produced one must be expected (nothing extra sneaks in).
	if len(s.incExpects) > 0 {
		expected := map[[2]string]bool{}
		for _, e := range s.incExpects {
			expected[[2]string{e.id, e.entity}] = true
			var got *pipeline.Incident
			for i := range s.incidents {
				if s.incidents[i].ID == e.id && s.incidents[i].Entity == e.entity {
					got = &s.incidents[i]
					break
				}
			}
			if got == nil {
				s.mismatch(e.line, "incident %s entity=%s: expected, got none (have: %s)", e.id, e.entity, incidentList(s.incidents))
				continue
			}
			actual := incidentFields(got)
			for _, k := range incidentKeys {
				want, ok := e.fields[k]
				if !ok {
					continue
				}
				if k == "confidence" {
					w, err := strconv.ParseFloat(want, 64)
					if err != nil {
						return s.errf(e.line, "confidence=%q: %v", want, err)
					}
					if math.Abs(w-got.Confidence) > 1e-9 {
						s.mismatch(e.line, "incident %s entity=%s: confidence: expected %s, got %s", e.id, e.entity, want, actual[k])
					}
					continue
				}
				if actual[k] != want {
					s.mismatch(e.line, "incident %s entity=%s: %s: expected %s, got %s", e.id, e.entity, k, want, actual[k])
				}
			}
		}
		for _, in := range s.incidents {
			if !expected[[2]string{in.ID, in.Entity}] {
				s.mismatch(s.evalLine, "eval: unexpected incident %s entity=%s (add an expect incident line)", in.ID, in.Entity)
			}
		}
	}
	// windows: each expectation on each window of its range; then every
	// window of an entity with expectations that no expectation covers must
	// be plain normal, so labels cannot leak outside what the scenario says.
	covered := map[string][]bool{}
	for _, e := range s.winExpects {
		labels := s.labels[e.entity]
		cov := covered[e.entity]
		if cov == nil {
			cov = make([]bool, len(labels))
			covered[e.entity] = cov
		}
		var first string
		bad := 0
		for i := e.lo; i < e.hi; i++ {
			cov[i] = true
			for _, c := range e.checks {
				if got := windowValue(labels[i], c.key); !windowEqual(c.key, c.want, got) {
					if bad == 0 {
						first = fmt.Sprintf("window %s %s: %s: expected %s, got %s", e.entity, fmtTime(s.grid.At(i)), c.key, c.want, got)
					}
					bad++
					break
				}
			}
		}
		if bad > 0 {
			more := ""
			if bad > 1 {
				more = fmt.Sprintf(" (and %d more of the %d windows in %s)", bad-1, e.hi-e.lo, e.desc)
			}
			s.mismatch(e.line, "%s%s", first, more)
		}
	}
	for _, ent := range slices.Sorted(maps.Keys(covered)) {
		cov, labels := covered[ent], s.labels[ent]
		for i, c := range cov {
			if c {
				continue
			}
			w := labels[i]
			if w.IncidentActive || w.Phase != schemas.PhaseNormal {
				s.mismatch(s.evalLine, "eval: window %s %s is covered by no expect, so expected active=false phase=normal, got active=%t phase=%s ids=%s",
					ent, fmtTime(s.grid.At(i)), w.IncidentActive, w.Phase, windowValue(w, "ids"))
				break // one report per entity is enough to find it
			}
		}
	}
	s.incExpects, s.winExpects = nil, nil
	return nil
}

func incidentFields(in *pipeline.Incident) map[string]string {
	opt := func(t *time.Time) string {
		if t == nil {
			return "none"
		}
		return fmtTime(*t)
	}
	return map[string]string{
		"start": fmtTime(in.Start), "end": opt(in.End), "effect_end": opt(in.EffectEnd),
		"severity": in.Severity, "type": in.Type, "source": in.Source, "source_id": in.SourceID,
		"confidence": strconv.FormatFloat(in.Confidence, 'g', -1, 64), "title": in.Title,
	}
}

func incidentList(incs []pipeline.Incident) string {
	if len(incs) == 0 {
		return "no incidents"
	}
	parts := make([]string, len(incs))
	for i, in := range incs {
		parts[i] = in.ID + "/" + in.Entity
	}
	return strings.Join(parts, " ")
}

func windowValue(w schemas.WindowLabels, key string) string {
	list := func(v []string) string {
		if len(v) == 0 {
			return "none"
		}
		return strings.Join(v, ",")
	}
	switch key {
	case "active":
		return strconv.FormatBool(w.IncidentActive)
	case "phase":
		return w.Phase
	case "ids":
		return list(w.IncidentIDs)
	case "sources":
		return list(w.LabelSources)
	case "severity":
		if w.Severity == nil {
			return "none"
		}
		return *w.Severity
	case "minutes":
		if w.MinutesToNextIncident == nil {
			return "none"
		}
		return strconv.FormatFloat(*w.MinutesToNextIncident, 'g', -1, 64)
	}
	return "?" + key
}

func windowEqual(key, want, got string) bool {
	if key == "minutes" && want != "none" && got != "none" {
		w, _ := strconv.ParseFloat(want, 64)
		g, _ := strconv.ParseFloat(got, 64)
		return math.Abs(w-g) < 1e-9
	}
	return want == got
}

// parseTime reads RFC 3339, or +DUR / -DUR relative to the grid's start.
func (s *scenario) parseTime(line int, key, v string) (time.Time, error) {
	if strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-") {
		if s.grid == nil {
			return time.Time{}, s.errf(line, "%s=%s: a relative time needs a grid line first", key, v)
		}
		d, err := spec.ParseDuration(v[1:])
		if err != nil {
			return time.Time{}, s.errf(line, "%s=%s: %v", key, v, err)
		}
		if v[0] == '-' {
			d = -d
		}
		return s.grid.Start.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, s.errf(line, "%s=%s: want RFC 3339 (2026-01-05T00:10:00Z) or +DURATION from the grid start", key, v)
	}
	return t.UTC(), nil
}

// parseRange reads "A..B" (windows whose start is in [A, B)) or "*" (all).
func (s *scenario) parseRange(line int, v string) (lo, hi int, err error) {
	if v == "*" {
		return 0, s.grid.Len(), nil
	}
	a, b, ok := strings.Cut(v, "..")
	if !ok {
		return 0, 0, s.errf(line, "range %q: want A..B or *", v)
	}
	ta, err := s.parseTime(line, "range start", a)
	if err != nil {
		return 0, 0, err
	}
	tb, err := s.parseTime(line, "range end", b)
	if err != nil {
		return 0, 0, err
	}
	if !tb.After(ta) {
		return 0, 0, s.errf(line, "range %q is empty", v)
	}
	if ta.Before(s.grid.Start) || tb.After(s.grid.End) {
		return 0, 0, s.errf(line, "range %q reaches outside the grid [%s, %s)", v, fmtTime(s.grid.Start), fmtTime(s.grid.End))
	}
	lo = s.grid.FirstStartingAtOrAfter(ta)
	hi = s.grid.FirstStartingAtOrAfter(tb)
	if lo >= hi {
		return 0, 0, s.errf(line, "range %q holds no window start", v)
	}
	return lo, hi, nil
}

// keyValues parses key=value tokens, rejecting unknown and repeated keys.
func (s *scenario) keyValues(line int, toks []string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, t := range toks {
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return nil, s.errf(line, "%q: want key=value", t)
		}
		if !contains(allowed, k) {
			return nil, s.errf(line, "unknown key %q (known: %s)", k, strings.Join(allowed, ", "))
		}
		if _, dup := out[k]; dup {
			return nil, s.errf(line, "key %q given twice", k)
		}
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				return nil, s.errf(line, "%s=%s: bad quoted string: %v", k, v, err)
			}
			v = u
		}
		out[k] = v
	}
	return out, nil
}

// tokenize splits a line on blanks; a double-quoted part may hold blanks,
// and # outside quotes starts a comment.
func tokenize(line string) ([]string, error) {
	var (
		toks  []string
		cur   strings.Builder
		quote bool
		esc   bool
	)
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, cur.String())
			cur.Reset()
		}
	}
	for _, r := range line {
		switch {
		case quote:
			cur.WriteRune(r)
			switch {
			case esc:
				esc = false
			case r == '\\':
				esc = true
			case r == '"':
				quote = false
			}
		case r == '"':
			quote = true
			cur.WriteRune(r)
		case r == '#' && cur.Len() == 0:
			flush()
			return toks, nil
		case r == ' ' || r == '\t' || r == '\r':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	if quote {
		return nil, fmt.Errorf("unterminated quoted string")
	}
	flush()
	return toks, nil
}

func splitList(v string) []string {
	if v == "" || v == "none" {
		return nil
	}
	return strings.Split(v, ",")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// labeler builds kind through its factory from keys, as a spec section
// would configure it.
func (s *scenario) labeler(line int, kind string, keys map[string]any, problems *pipeline.Problems) (pipeline.Labeler, error) {
	f, ok := s.kinds[kind]
	if !ok {
		return nil, s.errf(line, "eval: labeler kind %q is not among the kinds given to the scenario", kind)
	}
	cfg := f.NewConfig()
	if len(keys) > 0 {
		b, err := yaml.Marshal(keys)
		if err != nil {
			return nil, s.errf(line, "%s: %v", kind, err)
		}
		sec, err := spec.NewSection(s.file, b)
		if err == nil {
			err = sec.Decode(cfg)
		}
		if err != nil {
			return nil, s.errf(line, "%s: %v", kind, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, s.errf(line, "%s: %v", kind, err)
	}
	if problems == nil {
		problems = &pipeline.Problems{}
	}
	l, err := f.New(cfg, problems)
	if err != nil {
		return nil, s.errf(line, "%s: %v", kind, err)
	}
	return l, nil
}
