// Package labelers turns evidence (tickets, and later alerts, rules and
// manual files) into per-entity incidents with provenance, and turns merged
// incidents into the label columns of the windows table (Apply).
//
// Scenario tests in testdata/*.test pin the semantics; see testdata/README.md.
package labelers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opsdata/opsdata/spec"
	"github.com/opsdata/opsdata/pipeline"
)

// Confidence of a ticket incident: the ticket names when the impact began,
// or only when the ticket was created (impact began earlier, by an unknown amount).
const (
	ConfidenceImpactStart = 1.0
	ConfidenceCreated     = 0.8
)

// TicketLabeler makes one incident per (ticket, entity).
type TicketLabeler struct {
	cfg      LabelConfig
	problems *pipeline.Problems
}

// NewTicket builds the ticket labeler; it matches pipeline.LabelerFactory.
func NewTicket(cfg spec.Labeler, problems *pipeline.Problems) (pipeline.Labeler, error) {
	return NewTicketLabeler(cfg, problems)
}

// NewTicketLabeler is NewTicket with a Problems to count malformed tickets
// in (no entity, no start time, resolved before start, duplicate id). A nil
// problems is allowed.
func NewTicketLabeler(cfg spec.Labeler, problems *pipeline.Problems) (*TicketLabeler, error) {
	if cfg.Kind != "" && cfg.Kind != "ticket" {
		return nil, fmt.Errorf("ticket labeler: spec kind is %q, want \"ticket\"", cfg.Kind)
	}
	if cfg.Horizon < 0 || cfg.Recovery < 0 {
		return nil, fmt.Errorf("ticket labeler: horizon (%s) and recovery (%s) must not be negative",
			time.Duration(cfg.Horizon), time.Duration(cfg.Recovery))
	}
	return &TicketLabeler{cfg: ConfigFrom(cfg), problems: problems}, nil
}

// Name is the labeler's kind.
func (l *TicketLabeler) Name() string { return "ticket" }

// Config is the labeler's horizon and recovery, for Apply.
func (l *TicketLabeler) Config() LabelConfig { return l.cfg }

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
		start, conf := t.Created, ConfidenceCreated
		if t.ImpactStart != nil {
			start, conf = *t.ImpactStart, ConfidenceImpactStart
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
		sev := normSeverity(t.Severity)
		ents := entitiesOf(t.Entities)
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
				Type:       ticketType(t.Type),
				Source:     pipeline.SourceTicket,
				SourceID:   t.ID,
				Confidence: conf,
				Title:      t.Title,
			})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return incidentLess(&out[a], &out[b]) })
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

// entitiesOf trims, drops blanks and de-duplicates, keeping first-seen order.
func entitiesOf(in []string) []string {
	out := make([]string, 0, len(in))
	for _, e := range in {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		dup := false
		for _, o := range out {
			if o == e {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

// incidentLess orders by (Start, Entity, ID), then by the remaining fields
// so duplicate ids from different ticket sources still sort deterministically.
func incidentLess(a, b *pipeline.Incident) bool {
	if !a.Start.Equal(b.Start) {
		return a.Start.Before(b.Start)
	}
	if a.Entity != b.Entity {
		return a.Entity < b.Entity
	}
	if a.ID != b.ID {
		return a.ID < b.ID
	}
	ae, be := endKey(a.End), endKey(b.End)
	if ae != be {
		return ae < be
	}
	if a.Severity != b.Severity {
		return a.Severity < b.Severity
	}
	return a.Title < b.Title
}

func endKey(t *time.Time) int64 {
	if t == nil {
		return 1<<63 - 1
	}
	return t.UnixNano()
}

// ticketType is the incident type a ticket states, "unknown" when it has none.
func ticketType(t string) string {
	if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
		return t
	}
	return "unknown"
}
