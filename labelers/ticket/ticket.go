// Package labelers turns evidence (tickets, and later alerts, rules and
// manual files) into per-entity incidents with provenance, and turns merged
// incidents into the label columns of the windows table (Apply).
//
// Scenario tests in testdata/*.test pin the semantics; see testdata/README.md.
package ticket

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// TicketLabeler makes one incident per (ticket, entity).
type TicketLabeler struct {
	problems *pipeline.Problems
}

// NewTicketLabeler builds the ticket labeler with a Problems to count
// malformed tickets in (no entity, no start time, resolved before start,
// duplicate id). A nil problems is allowed.
func NewTicketLabeler(problems *pipeline.Problems) *TicketLabeler {
	return &TicketLabeler{problems: problems}
}

// Name is the labeler's kind.
func (l *TicketLabeler) Name() string { return "ticket" }

// Incidents returns one incident per (ticket, entity), sorted by (Start,
// Entity, ID). Entities outside in.Entities are kept: the runner reports
// them. A ticket without entities or without any start time yields no
// incident and is counted in Problems.
func (l *TicketLabeler) Incidents(ctx context.Context, in pipeline.LabelInput) ([]pipeline.Incident, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ticket labeler: %w", err)
	}
	var out []pipeline.Incident
	seen := make(map[string]string, len(in.Tickets)) // ticket id -> where first seen
	for i := range in.Tickets {
		t := &in.Tickets[i]
		where := t.Where
		if where == "" {
			where = fmt.Sprintf("ticket %q", t.ID)
		}
		if first, dup := seen[t.ID]; dup {
			l.problem(t, where, "duplicate ticket id", "first at "+first)
		} else {
			seen[t.ID] = where
		}
		start, conf := t.Created, pipeline.ConfidenceCreated
		if t.ImpactStart != nil {
			start, conf = *t.ImpactStart, pipeline.ConfidenceImpactStart
		}
		if start.IsZero() {
			l.problem(t, where, "no impact start or created time", "")
			continue
		}
		start = start.UTC()
		var end *time.Time
		if t.Resolved != nil {
			e := t.Resolved.UTC()
			end = &e
			if !e.After(start) {
				// kept: Apply labels it as an instant at start
				l.problem(t, where, "resolved not after impact start", "")
			}
		}
		sev := pipeline.NormalizeSeverity(t.Severity)
		ents := pipeline.CleanEntities(t.Entities)
		if len(ents) == 0 {
			l.problem(t, where, "no entity", "")
			continue
		}
		for _, e := range ents {
			out = append(out, pipeline.Incident{
				ID:         t.ID,
				Entity:     e,
				Start:      start,
				End:        end,
				Severity:   sev,
				Type:       pipeline.NormalizeType(t.Type),
				Source:     pipeline.SourceTicket,
				SourceID:   t.ID,
				Confidence: conf,
				Title:      t.Title,
			})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return pipeline.IncidentLess(&out[a], &out[b]) })
	return out, nil
}

func (l *TicketLabeler) problem(t *pipeline.Ticket, where, reason, detail string) {
	if l.problems == nil {
		return
	}
	input := t.Source
	if input == "" {
		input = "tickets"
	}
	l.problems.Add(input, where, reason, detail)
}
