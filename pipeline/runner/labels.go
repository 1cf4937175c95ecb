package runner

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/label"
	"github.com/opsdata/opsdata/schemas"
	"github.com/prometheus/common/model"
)

func (e *export) readTickets(ctx context.Context) error {
	for _, tp := range e.plan.Tickets {
		src, err := tp.Factory.New(tp.Spec.Name, tp.Config, e.problems)
		if err != nil {
			return fmt.Errorf("tickets %s: %w", tp.Spec.Name, err)
		}
		ts, err := src.Tickets(ctx)
		if err != nil {
			return fmt.Errorf("tickets %s: %w", tp.Spec.Name, err)
		}
		e.tickets = append(e.tickets, ts...)
	}
	return nil
}

func (e *export) label(ctx context.Context) error {
	e.rawIncidents = map[int][]pipeline.Incident{}
	in := pipeline.LabelInput{Grid: e.grid, Entities: e.members, Tickets: e.tickets, EntityLabel: e.s.Entity.Label, Queryable: e.queryable}
	if e.sliceSrc != nil {
		in.Slices = e.sliceSrc.evaluate // a commit of shards (labelslices.go)
	}
	for i, lp := range e.plan.Labelers {
		l, err := lp.Factory.New(lp.Config, e.problems)
		if err != nil {
			return fmt.Errorf("labelers[%d] (%s): %w", i, lp.Spec.Kind, err)
		}
		var inc []pipeline.Incident
		prev, resumable := e.resumedIncidents(i)
		if r, ok := l.(pipeline.IncidentResumer); ok && resumable {
			// Only the days since the checkpoint are evaluated (checkpoint.go).
			inc, err = r.ResumeIncidents(ctx, in, e.resumeAt, prev)
		} else {
			inc, err = l.Incidents(ctx, in)
		}
		if err != nil {
			return fmt.Errorf("labeler %s: %w", l.Name(), err)
		}
		e.rawIncidents[i] = inc // e.incidents below holds copies
		e.incidents = append(e.incidents, inc...)
		if i == 0 {
			e.labelCfg = label.Config{Horizon: time.Duration(lp.Spec.Horizon), Recovery: time.Duration(lp.Spec.Recovery)}
		}
	}
	for i := range e.incidents {
		e.incidents[i].ID = e.publishedID(e.incidents[i].ID)
		e.incidents[i].SourceID = e.publishedID(e.incidents[i].SourceID)
	}
	e.incidents = e.knownIncidents(e.incidents) // entities.go
	e.vocabulary(e.incidents)
	e.mergeLabels() // labelreport.go
	sort.SliceStable(e.incidents, func(i, j int) bool {
		a, b := e.incidents[i], e.incidents[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.Entity != b.Entity {
			return a.Entity < b.Entity
		}
		return a.ID < b.ID
	})
	e.byEntity = map[string][]pipeline.Incident{}
	for _, inc := range e.incidents {
		e.byEntity[inc.Entity] = append(e.byEntity[inc.Entity], inc)
	}
	return nil
}

// labelSummary is the label part of the manifest and dataset card,
// including the gaps a researcher must know about.
func (e *export) labelSummary() schemas.LabelSummary {
	ls := schemas.LabelSummary{
		IncidentsBySource: map[string]int64{},
		WindowsByPhase:    e.phases,
		Windows:           e.rows[schemas.TableWindows],
		LabelledWindows:   e.phases[schemas.PhaseIncident],
		Incidents:         int64(len(e.incidents)),
	}
	for _, l := range e.s.Labelers {
		ls.Labelers = append(ls.Labelers, l.Kind)
	}
	ls.Method = fmt.Sprintf("Incidents come from %s; a window [s, s+%s) of an entity is labelled incident when it overlaps an incident's [impact start, resolved) of that entity. pre_incident marks the %s before an incident, recovery the %s after one.",
		strings.Join(ls.Labelers, ", "), model.Duration(e.grid.Step), model.Duration(e.labelCfg.Horizon), model.Duration(e.labelCfg.Recovery))
	var open int
	for _, in := range e.incidents {
		ls.IncidentsBySource[in.Source]++
		if in.End == nil {
			open++
		}
	}
	if open > 0 {
		ls.Gaps = append(ls.Gaps, fmt.Sprintf("%d incident interval(s) have no known end (ticket still open): labelled until the end of the export", open))
	}
	for _, src := range slices.Sorted(maps.Keys(e.unknownIncidents)) {
		ls.Gaps = append(ls.Gaps, fmt.Sprintf("%d %s incident interval(s) name entities that are not %s entities of the range: not published (see bad_input)", e.unknownIncidents[src], src, e.s.Entity.Kind))
	}
	ls.Gaps = append(ls.Gaps, e.reportGaps()...) // labelreport.go
	ls.Gaps = append(ls.Gaps, splitGaps(e.split)...)
	if len(e.s.Labelers) == 1 && e.s.Labelers[0].Kind == "ticket" {
		ls.Gaps = append(ls.Gaps, "only ticketed incidents are labelled: incidents nobody filed a ticket for are missing (alert and rule labelers close this gap)")
	}
	for _, src := range slices.Sorted(maps.Keys(e.unknownEn)) {
		ls.Gaps = append(ls.Gaps, fmt.Sprintf("log source %s: %d lines name entities with no metrics; they are in the logs table but not counted in windows", src, e.unknownEn[src]))
	}
	if n := e.logStats["outside_range"]; n > 0 {
		ls.Gaps = append(ls.Gaps, fmt.Sprintf("%d log lines fell outside the export range and were not exported", n))
	}
	return ls
}

// vocabulary puts every incident's severity into the published vocabulary
// (pipeline.Severities): a value outside it is published as "unknown" and
// counted, per label source, with its shape (never its text).
func (e *export) vocabulary(incs []pipeline.Incident) {
	for i := range incs {
		if pipeline.SeverityKnown(incs[i].Severity) {
			continue
		}
		e.problems.Add("labels:"+incs[i].Source, "incident "+incs[i].SourceID, "unknown_severity",
			fmt.Sprintf("a severity of %d characters outside the vocabulary (%s) is published as unknown", len(incs[i].Severity), strings.Join(pipeline.Severities, ", ")))
		incs[i].Severity = "unknown"
	}
}

// ticketStatus is a ticket's published status; an unknown one is counted.
func (e *export) ticketStatus(t pipeline.Ticket) string {
	st, ok := pipeline.NormalizeStatus(t.Status)
	if !ok && t.Status != "" {
		e.problems.Add("tickets:"+t.Source, "ticket "+e.publishedID(t.ID), "unknown_status",
			fmt.Sprintf("a status of %d characters outside the vocabulary (open, resolved, closed) is published as other", len(t.Status)))
	}
	return st
}

// ticketSeverity is a ticket's published severity (the vocabulary).
func ticketSeverity(t pipeline.Ticket) string {
	if s := pipeline.NormalizeSeverity(t.Severity); pipeline.SeverityKnown(s) {
		return s
	}
	return "unknown"
}

// publishedID is an id from a source system (a ticket key, an alert name)
// as published: through the anonymizer, once per id, so the same id is the
// same string in tickets, incidents, windows and the label report.
func (e *export) publishedID(raw string) string {
	if raw == "" {
		return raw
	}
	if e.ids == nil {
		e.ids = map[string]string{}
	}
	if p, ok := e.ids[raw]; ok {
		return p
	}
	p := e.anon.Column("incidents.source_id", raw)
	e.ids[raw] = p
	return p
}
