package label

import (
	"fmt"
	"sort"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// MergeInput is what Merge needs besides the incidents.
type MergeInput struct {
	Grid     pipeline.Grid
	Entities []string // known entities (metrics and tickets); others are dropped
	Policy   spec.Merge
	// Labelers names the labeler kinds that ran, for the report.
	Labelers []string
}

// Ref names one incident in the label report.
type Ref struct {
	Source   string     `json:"source"`
	ID       string     `json:"id"`
	Entity   string     `json:"entity"`
	Start    time.Time  `json:"start"`
	End      *time.Time `json:"end"`
	SourceID string     `json:"source_id,omitempty"`
}

// Report says where every label came from and what merging did; it is
// published as label_report.json in every version.
type Report struct {
	Policy   string   `json:"policy"`
	Labelers []string `json:"labelers"`
	// BySource counts incident intervals per source as the labelers produced them.
	BySource map[string]int `json:"by_source"`
	// Merged counts the published incidents, MergedBySource by the source that supplied them.
	Merged         int            `json:"merged"`
	MergedBySource map[string]int `json:"merged_by_source"`
	// Overlaps counts groups (one entity, intervals within the tolerance)
	// holding more than one source; Absorbed the intervals of weaker sources
	// such groups swallowed.
	Overlaps int `json:"overlaps"`
	Absorbed int `json:"absorbed"`
	// Confirmed counts published incidents that another source also saw.
	Confirmed int `json:"confirmed"`
	// Conflicts: evidence one kind of source has and the other lacks. Only
	// computed when both kinds ran (tickets/manual vs. rule/alert).
	Conflicts Conflicts `json:"conflicts"`
	// Snapping: labels are per window; cause intervals are not moved, but
	// the windows table rounds starts down and ends up to the grid.
	Snapping Snapping `json:"snapping"`
	// OpenEnded counts published incidents with an unknown end.
	OpenEnded int `json:"open_ended"`
	// Warnings counts dropped or adjusted intervals by reason (see
	// docs/decisions/0011-label-merge-and-validation.md).
	Warnings map[string]int `json:"warnings"`
	// WarningExamples names the first few.
	WarningExamples []string `json:"warning_examples"`
	// SplitStraddling lists the incidents ("id (entity)") whose cause
	// interval crosses a boundary of the spec's split; absent when none does
	// (or without a split). The manifest's split.straddling lists them too.
	SplitStraddling []string `json:"split_straddling,omitempty"`
}

// Conflicts lists unconfirmed evidence.
type Conflicts struct {
	// TicketWithoutAlert: a ticket (or manual label) no rule or alert confirms.
	TicketWithoutAlert []Ref `json:"ticket_without_alert"`
	// AlertWithoutTicket: a rule or alert firing no ticket or manual label covers.
	AlertWithoutTicket []Ref `json:"alert_without_ticket"`
}

// Snapping says how far the window grid moved the labelled edges.
type Snapping struct {
	Starts      int     `json:"starts_snapped"`
	Ends        int     `json:"ends_snapped"`
	MaxSeconds  float64 `json:"max_shift_seconds"`
	MeanSeconds float64 `json:"mean_shift_seconds"`
}

// Warning reasons.
const (
	WarnEndBeforeStart = "end_before_start"
	WarnOutsideRange   = "outside_range"
	WarnClipped        = "clipped_to_range"
	WarnUnknownEntity  = "unknown_entity"
)

func isHuman(src string) bool  { return src == pipeline.SourceTicket || src == pipeline.SourceManual }
func isMetric(src string) bool { return src == pipeline.SourceRule || src == pipeline.SourceAlert }

// Merge validates and merges the labelers' incidents per entity under the
// policy, and reports what it did. Rules (docs/decisions/0011-label-merge-and-validation.md):
//
//   - Validation: an interval whose end is not after its start is kept as
//     an instant at its start and counted (end_before_start); one wholly
//     outside the grid is dropped and counted (outside_range); one partly
//     outside is kept and counted (clipped_to_range; the windows table has
//     no rows outside the grid); one naming an entity not in in.Entities is
//     dropped and counted (unknown_entity).
//   - Grouping: per entity, intervals sorted by start join a group while
//     they start within Tolerance of the group's end (an unknown end reaches
//     to the grid end).
//   - Precedence: in each group the strongest source present (policy order)
//     supplies the published incidents, unchanged; the weaker ones are
//     absorbed and counted. When a rule or alert of the group outlasts the
//     published incident, its end becomes the incident's effect end (the
//     metrics had not recovered yet).
//
// The output is sorted by (Start, Entity, ID) and deterministic.
func Merge(incs []pipeline.Incident, in MergeInput) ([]pipeline.Incident, Report) {
	pol := in.Policy
	if len(pol.Precedence) == 0 {
		pol.Precedence = spec.DefaultPrecedence
	}
	if pol.Tolerance == 0 {
		pol.Tolerance = spec.Duration(spec.DefaultMergeTolerance)
	}
	rep := Report{Policy: pol.String(), Labelers: append([]string{}, in.Labelers...), BySource: map[string]int{},
		MergedBySource: map[string]int{}, Warnings: map[string]int{}, WarningExamples: []string{}}
	rep.Conflicts.TicketWithoutAlert = []Ref{}
	rep.Conflicts.AlertWithoutTicket = []Ref{}
	warn := func(reason string, x *pipeline.Incident) {
		rep.Warnings[reason]++
		if len(rep.WarningExamples) < 10 {
			rep.WarningExamples = append(rep.WarningExamples, fmt.Sprintf("%s %s (%s, entity %s)", reason, x.ID, x.Source, x.Entity))
		}
	}
	known := make(map[string]bool, len(in.Entities))
	for _, e := range in.Entities {
		known[e] = true
	}
	g := in.Grid
	byEntity := map[string][]pipeline.Incident{}
	var humanRan, metricRan bool
	for _, k := range in.Labelers {
		switch k {
		case "ticket", "manual":
			humanRan = true
		case "rule", "alertmanager", "alerts_series":
			metricRan = true
		}
	}
	for i := range incs {
		x := incs[i]
		rep.BySource[x.Source]++
		if len(in.Entities) > 0 && !known[x.Entity] {
			warn(WarnUnknownEntity, &x)
			continue
		}
		if x.End != nil && !x.End.After(x.Start) {
			warn(WarnEndBeforeStart, &x)
		}
		end := g.End
		if x.End != nil && x.End.After(x.Start) {
			end = *x.End
		} else if x.End != nil {
			end = x.Start.Add(time.Nanosecond)
		}
		if g.Len() > 0 && (!x.Start.Before(g.End) || !end.After(g.Start)) {
			warn(WarnOutsideRange, &x)
			continue
		}
		if g.Len() > 0 && (x.Start.Before(g.Start) || (x.End != nil && x.End.After(g.End))) {
			warn(WarnClipped, &x)
		}
		byEntity[x.Entity] = append(byEntity[x.Entity], x)
	}
	ents := make([]string, 0, len(byEntity))
	for e := range byEntity {
		ents = append(ents, e)
	}
	sort.Strings(ents)
	tol := time.Duration(pol.Tolerance)
	var out []pipeline.Incident
	for _, ent := range ents {
		list := byEntity[ent]
		sort.SliceStable(list, func(a, b int) bool { return pipeline.IncidentLess(&list[a], &list[b]) })
		for lo := 0; lo < len(list); {
			groupEnd := effEnd(&list[lo], g)
			hi := lo + 1
			for ; hi < len(list) && !list[hi].Start.After(groupEnd.Add(tol)); hi++ {
				if e := effEnd(&list[hi], g); e.After(groupEnd) {
					groupEnd = e
				}
			}
			group := list[lo:hi]
			lo = hi
			best := len(pol.Precedence) + 1
			srcs := map[string]bool{}
			for i := range group {
				srcs[group[i].Source] = true
				if r := pol.Rank(group[i].Source); r < best {
					best = r
				}
			}
			if len(srcs) > 1 {
				rep.Overlaps++
			}
			var hasHuman, hasMetric bool
			var metricEnd *time.Time
			metricOpen := false
			for i := range group {
				s := group[i].Source
				hasHuman = hasHuman || isHuman(s)
				hasMetric = hasMetric || isMetric(s)
				if isMetric(s) {
					if group[i].End == nil {
						metricOpen = true
					} else if metricEnd == nil || group[i].End.After(*metricEnd) {
						e := *group[i].End
						metricEnd = &e
					}
				}
			}
			for i := range group {
				x := group[i]
				if pol.Rank(x.Source) != best {
					rep.Absorbed++
					continue
				}
				if !isMetric(x.Source) && !metricOpen && metricEnd != nil && x.End != nil && metricEnd.After(*x.End) &&
					(x.EffectEnd == nil || metricEnd.After(*x.EffectEnd)) {
					e := *metricEnd
					x.EffectEnd = &e
				}
				if len(srcs) > 1 {
					rep.Confirmed++
				}
				if humanRan && metricRan {
					switch {
					case isHuman(x.Source) && !hasMetric:
						rep.Conflicts.TicketWithoutAlert = append(rep.Conflicts.TicketWithoutAlert, refOf(&x))
					case isMetric(x.Source) && !hasHuman:
						rep.Conflicts.AlertWithoutTicket = append(rep.Conflicts.AlertWithoutTicket, refOf(&x))
					}
				}
				out = append(out, x)
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return pipeline.IncidentLess(&out[a], &out[b]) })
	var total float64
	var shifts int
	for i := range out {
		x := &out[i]
		rep.MergedBySource[x.Source]++
		if x.End == nil {
			rep.OpenEnded++
		}
		if g.Step <= 0 {
			continue
		}
		if d := x.Start.Sub(floorTo(g.Step, x.Start)); d > 0 {
			rep.Snapping.Starts++
			total += d.Seconds()
			shifts++
			rep.Snapping.MaxSeconds = max(rep.Snapping.MaxSeconds, d.Seconds())
		}
		if x.End != nil {
			if f := floorTo(g.Step, *x.End); f.Before(*x.End) {
				d := f.Add(g.Step).Sub(*x.End)
				rep.Snapping.Ends++
				total += d.Seconds()
				shifts++
				rep.Snapping.MaxSeconds = max(rep.Snapping.MaxSeconds, d.Seconds())
			}
		}
	}
	if shifts > 0 {
		rep.Snapping.MeanSeconds = total / float64(shifts)
	}
	rep.Merged = len(out)
	sortRefs(rep.Conflicts.TicketWithoutAlert)
	sortRefs(rep.Conflicts.AlertWithoutTicket)
	return out, rep
}

func effEnd(x *pipeline.Incident, g pipeline.Grid) time.Time {
	switch {
	case x.End == nil:
		if x.Start.After(g.End) {
			return x.Start
		}
		return g.End
	case x.End.Before(x.Start):
		return x.Start
	}
	return *x.End
}

func refOf(x *pipeline.Incident) Ref {
	return Ref{Source: x.Source, ID: x.ID, Entity: x.Entity, Start: x.Start.UTC(), End: utcPtr(x.End), SourceID: x.SourceID}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func sortRefs(r []Ref) {
	sort.SliceStable(r, func(a, b int) bool {
		if !r[a].Start.Equal(r[b].Start) {
			return r[a].Start.Before(r[b].Start)
		}
		if r[a].Entity != r[b].Entity {
			return r[a].Entity < r[b].Entity
		}
		return r[a].ID < r[b].ID
	})
}

// floorTo is the start of the epoch-aligned window of length step holding t.
func floorTo(step time.Duration, t time.Time) time.Time {
	n := t.UnixNano()
	m := n % int64(step)
	if m < 0 {
		m += int64(step)
	}
	return time.Unix(0, n-m).UTC()
}
