package nightly

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

const day = 24 * time.Hour

// ticketChange is one ticket created, changed or deleted since the last
// snapshot, with the days whose labels it can move.
type ticketChange struct {
	id     string
	reason string
	days   []string // YYYY-MM-DD
}

// ticketChanges compares the tickets now against the last snapshot's. A
// ticket touches the days of [impact start − horizon, resolved + recovery)
// (resolved unknown: until now), before and after the change.
func ticketChanges(prev, cur map[string]TicketState, horizon, recovery time.Duration, now time.Time) []ticketChange {
	var out []ticketChange
	span := func(t TicketState) (time.Time, time.Time) {
		from := t.Created
		if t.ImpactStart != nil {
			from = *t.ImpactStart
		}
		to := now
		if t.Resolved != nil {
			to = *t.Resolved
		}
		return from.Add(-horizon), to.Add(recovery)
	}
	ids := map[string]bool{}
	for id := range prev {
		ids[id] = true
	}
	for id := range cur {
		ids[id] = true
	}
	for _, id := range sortedSet(ids) {
		p, hadP := prev[id]
		c, hasC := cur[id]
		name := id[strings.IndexByte(id, '/')+1:]
		var reason string
		days := map[string]bool{}
		switch {
		case hadP && hasC && p.Digest == c.Digest:
			continue
		case !hadP:
			reason = fmt.Sprintf("ticket %s created %s after impact", name, lateness(c))
		case !hasC:
			reason = fmt.Sprintf("ticket %s deleted", name)
		case p.Resolved == nil && c.Resolved != nil:
			reason = fmt.Sprintf("ticket %s resolved", name)
		default:
			reason = fmt.Sprintf("ticket %s edited", name)
		}
		for _, t := range []struct {
			s  TicketState
			ok bool
		}{{p, hadP}, {c, hasC}} {
			if !t.ok {
				continue
			}
			from, to := span(t.s)
			for d := from.UTC().Truncate(day); d.Before(to); d = d.Add(day) {
				days[d.Format(time.DateOnly)] = true
			}
		}
		out = append(out, ticketChange{id: id, reason: reason, days: sortedSet(days)})
	}
	return out
}

// lateness words how long after impact a ticket was created.
func lateness(t TicketState) string {
	if t.ImpactStart == nil {
		return "an unknown time"
	}
	d := t.Created.Sub(*t.ImpactStart)
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/day))
	case d >= day:
		return "1 day"
	case d >= time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	}
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
