package runner

import (
	"context"
	"fmt"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/anonymize"
)

// CheckInputs opens what a resolved spec references, as `opsdata check`
// does: the anonymization key, the metric source (a TSDB is opened, metric
// files loaded), the log and ticket files and the labelers' files (rules
// parsed, manual labels read). Every failure is reported, not only the
// first; records a run would count as malformed are in problems.
func CheckInputs(ctx context.Context, p *Plan, problems *pipeline.Problems) []error {
	s := p.Spec
	var errs []error
	fail := func(what string, err error) { errs = append(errs, fmt.Errorf("%s: %s: %w", s.Path, what, err)) }
	if _, err := anonymize.LoadKey(s.Anonymize.Key); err != nil {
		fail("anonymize.key", err)
	}
	if mp := p.Metrics; mp != nil {
		if src, err := mp.Factory.New(ctx, s.Metrics, mp.Config, problems); err != nil {
			fail("metrics."+mp.Factory.Section, err)
		} else if err := src.Close(); err != nil {
			fail("metrics."+mp.Factory.Section, err)
		}
	}
	check := func(what string, c any) {
		if ch, ok := c.(pipeline.Checker); ok {
			if err := ch.Check(ctx, s.Entity.Label); err != nil {
				fail(what, err)
			}
		}
	}
	for i, lp := range p.Logs {
		what := fmt.Sprintf("logs[%d] (%s)", i, lp.Spec.Name)
		src, err := lp.Factory.New(lp.Spec.Name, lp.Config, problems)
		if err != nil {
			fail(what, err)
			continue
		}
		check(what, src)
	}
	for i, tp := range p.Tickets {
		what := fmt.Sprintf("tickets[%d] (%s)", i, tp.Spec.Name)
		src, err := tp.Factory.New(tp.Spec.Name, tp.Config, problems)
		if err != nil {
			fail(what, err)
			continue
		}
		check(what, src)
	}
	for i, lp := range p.Labelers {
		what := fmt.Sprintf("labelers[%d] (%s)", i, lp.Spec.Kind)
		l, err := lp.Factory.New(lp.Config, problems)
		if err != nil {
			fail(what, err)
			continue
		}
		check(what, l)
	}
	return errs
}
