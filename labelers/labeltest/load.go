package labeltest

// Series and rules for the scenario language (testdata/README.md): `load`
// blocks in promqltest notation, parsed by Prometheus's own series parser
// and appended to a teststorage relative to the grid start; `rules` blocks
// of the standard rules YAML written to a temp file for the rule labeler.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/label"
	"github.com/opsdata/opsdata/spec"
)

// scenarioExt is the state the series directives add to a scenario.
type scenarioExt struct {
	tb         testing.TB
	store      *teststorage.TestStorage
	rules      []string // rule files written from rules blocks
	entityLbl  string
	tolerance  time.Duration
	mergeCount int
	am         *scenarioAlerts // alert lines, manual files: scenario_alert_test.go
}

// block reports whether raw starts a load/rules block and, if so, consumes
// it: the block is the following lines indented by blanks, up to the first
// line that is not. It returns the number of lines used after the header.
func (s *scenario) block(line int, header []string, rest []string) (int, error) {
	n := 0
	var body []string
	for _, l := range rest {
		if l == "" || (l[0] != ' ' && l[0] != '\t') {
			break
		}
		body = append(body, l)
		n++
	}
	if s.ext == nil || s.ext.tb == nil {
		return n, s.errf(line, "%s needs a test to hold its storage (run via TestScenarios)", header[0])
	}
	switch header[0] {
	case "load":
		return n, s.load(line, header, body)
	case "rules":
		if len(header) != 1 {
			return n, s.errf(line, "want: rules, then the rules YAML indented below it")
		}
		path := filepath.Join(s.ext.tb.TempDir(), fmt.Sprintf("rules_%d.yaml", line))
		if err := os.WriteFile(path, []byte(dedent(body)), 0o600); err != nil {
			return n, s.errf(line, "%v", err)
		}
		s.ext.rules = append(s.ext.rules, path)
	case "manual":
		return n, s.manualBlock(line, header, body) // scenario_alert_test.go
	}
	return n, nil
}

func (s *scenario) load(line int, header, body []string) error {
	if len(header) != 2 || s.grid == nil {
		return s.errf(line, "want: load STEP (after a grid line), then series in promqltest notation indented below it")
	}
	step, err := spec.ParseDuration(header[1])
	if err != nil {
		return s.errf(line, "load STEP: %v", err)
	}
	if s.ext.store == nil {
		s.ext.store = teststorage.New(s.ext.tb)
	}
	p := parser.NewParser(parser.Options{})
	app := s.ext.store.Appender(context.Background())
	for i, l := range body {
		lbls, vals, err := p.ParseSeriesDesc(strings.TrimSpace(l))
		if err != nil {
			return s.errf(line+1+i, "series: %v", err)
		}
		for j, v := range vals {
			if v.Omitted {
				continue
			}
			ts := s.grid.Start.Add(time.Duration(j) * step).UnixMilli()
			if _, err := app.Append(0, lbls, ts, v.Value); err != nil {
				return s.errf(line+1+i, "append: %v", err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		return s.errf(line, "commit: %v", err)
	}
	return nil
}

func dedent(lines []string) string {
	ind := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n := len(l) - len(strings.TrimLeft(l, " \t")); ind < 0 || n < ind {
			ind = n
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if len(l) >= ind && ind > 0 {
			l = l[ind:]
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

// runSeriesLabeler runs rule or alerts_series over the loaded storage.
func (s *scenario) runSeriesLabeler(line int, name string) ([]pipeline.Incident, error) {
	if s.ext == nil || s.ext.store == nil {
		return nil, s.errf(line, "eval %s: no series loaded (add a load block)", name)
	}
	in := pipeline.LabelInput{Grid: *s.grid, Entities: s.entities, Tickets: s.tickets, EntityLabel: s.ext.entityLbl, Queryable: s.ext.store}
	if in.EntityLabel == "" {
		in.EntityLabel = "service"
	}
	var l pipeline.Labeler
	var err error
	switch name {
	case "rule":
		if len(s.ext.rules) == 0 {
			return nil, s.errf(line, "eval rule: no rules block")
		}
		l, err = s.labeler(line, "rule", map[string]any{"rules": s.ext.rules}, nil)
	case "alerts_series":
		l, err = s.labeler(line, "alerts_series", nil, nil)
	}
	if err != nil {
		return nil, err
	}
	got, err := l.Incidents(context.Background(), in)
	if err != nil {
		return nil, s.errf(line, "%s labeler: %v", name, err)
	}
	return got, nil
}

// merge applies the default precedence with the scenario's tolerance.
func (s *scenario) merge(incs []pipeline.Incident) []pipeline.Incident {
	ents := s.entities
	if ents == nil {
		for _, in := range incs {
			if !contains(ents, in.Entity) {
				ents = append(ents, in.Entity)
			}
		}
	}
	pol := spec.Merge{Precedence: append([]string(nil), spec.DefaultPrecedence...), Tolerance: spec.Duration(spec.DefaultMergeTolerance)}
	if s.ext != nil && s.ext.tolerance > 0 {
		pol.Tolerance = spec.Duration(s.ext.tolerance)
	}
	out, _ := label.Merge(incs, label.MergeInput{Grid: *s.grid, Entities: ents, Policy: pol})
	return out
}
