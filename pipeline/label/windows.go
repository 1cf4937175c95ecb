package label

import (
	"sort"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/schemas"
)

// Config holds the prediction-label settings (the first labeler's horizon
// and recovery in the spec).
type Config struct {
	// Horizon is how far before an incident windows are pre_incident.
	Horizon time.Duration
	// Recovery is how long after an incident's (effect) end windows are recovery.
	Recovery time.Duration
}

// Severities from highest to lowest. A severity not listed ranks below
// "unknown"; an empty one counts as "unknown".
var severityOrder = pipeline.Severities

func severityRank(s string) int {
	for i, v := range severityOrder {
		if v == s {
			return len(severityOrder) - i
		}
	}
	return 0
}

// Apply computes the label columns of one entity's windows from that
// entity's incidents; it returns one WindowLabels per window of grid, in
// grid order (len == grid.Len()). The semantics, with window i = [s, s+step)
// and s = grid.At(i) (see docs/decisions/0004-window-labels.md):
//
//   - An incident is active in a window when its cause interval [Start, End)
//     overlaps it: Start < s+step && (End == nil || End > s). An open incident
//     (End nil) is active to the end of the grid. An incident with End <= Start
//     is taken as an instant at Start: active in the window holding Start only,
//     so a bad record still leaves a mark instead of vanishing.
//   - incident_active, incident_ids (sorted, unique), severity (highest among
//     the active ones: critical > major > minor > warning > info > unknown >
//     anything else, ties broken by name; nil when none is active) and
//     label_sources (sorted, unique) describe the active incidents.
//   - minutes_to_next_incident is 0 while active, else the minutes from s to
//     the earliest Start >= s in incidents (which may lie after the grid), or
//     nil when no incident follows.
//   - phase, by precedence: incident (active); pre_incident when the window
//     overlaps [next.Start-Horizon, next.Start), i.e. next.Start-s <
//     Horizon+step; recovery when the window overlaps [End, max(End,
//     EffectEnd)+Recovery) of an incident that ended, i.e. s < that end;
//     normal otherwise. Horizon 0 means no pre_incident windows; Recovery 0
//     still marks the effect interval [End, EffectEnd) as recovery.
//
// Apply sweeps the windows once: O(windows + incidents·log incidents) plus
// the work to rebuild the id lists where the active set changes. Windows
// with the same active set share their IncidentIDs, LabelSources and
// Severity values: treat them as read-only.
func Apply(grid pipeline.Grid, incidents []pipeline.Incident, cfg Config) []schemas.WindowLabels {
	n := grid.Len()
	if n <= 0 {
		return nil
	}
	out := make([]schemas.WindowLabels, n)
	minutes := make([]float64, n) // backs MinutesToNextIncident: one allocation, not one per window
	step := grid.Step

	type span struct {
		inc    *pipeline.Incident
		lo, hi int       // active windows [lo, hi)
		recEnd time.Time // end of the recovery interval; zero when open
	}
	spans := make([]span, len(incidents))
	for k := range incidents {
		inc := &incidents[k]
		lo := grid.FirstEndingAfter(inc.Start)
		var hi int
		switch {
		case inc.End == nil:
			hi = n
		case !inc.End.After(inc.Start):
			// an instant: the window holding Start (none if Start is outside the grid)
			hi = lo
			if !inc.Start.Before(grid.Start) && inc.Start.Before(grid.End) {
				hi = lo + 1
			}
		default:
			hi = grid.FirstStartingAtOrAfter(*inc.End)
		}
		if hi < lo {
			hi = lo
		}
		sp := span{inc: inc, lo: lo, hi: hi}
		if inc.End != nil {
			end := *inc.End
			if end.Before(inc.Start) {
				end = inc.Start
			}
			if inc.EffectEnd != nil && inc.EffectEnd.After(end) {
				end = *inc.EffectEnd
			}
			sp.recEnd = end.Add(cfg.Recovery)
		}
		spans[k] = sp
	}

	// byLo: spans in the order they become active (and start counting for recovery).
	byLo := make([]int, len(spans))
	byHi := make([]int, len(spans))
	starts := make([]time.Time, len(spans))
	for k := range spans {
		byLo[k], byHi[k] = k, k
		starts[k] = incidents[k].Start
	}
	sort.SliceStable(byLo, func(a, b int) bool { return spans[byLo[a]].lo < spans[byLo[b]].lo })
	sort.SliceStable(byHi, func(a, b int) bool { return spans[byHi[a]].hi < spans[byHi[b]].hi })
	sort.Slice(starts, func(a, b int) bool { return starts[a].Before(starts[b]) })

	active := map[int]bool{} // indexes into spans
	var (
		cur        schemas.WindowLabels // labels of the current active set
		changed    = true
		pLo, pHi   int
		pNext      int
		maxRecEnd  time.Time
		haveRecEnd bool
	)
	for i := 0; i < n; i++ {
		s := grid.At(i)
		for ; pLo < len(byLo) && spans[byLo[pLo]].lo <= i; pLo++ {
			k := byLo[pLo]
			if spans[k].lo < spans[k].hi {
				active[k] = true
				changed = true
			}
			if r := spans[k].recEnd; !r.IsZero() && (!haveRecEnd || r.After(maxRecEnd)) {
				maxRecEnd, haveRecEnd = r, true
			}
		}
		for ; pHi < len(byHi) && spans[byHi[pHi]].hi <= i; pHi++ {
			k := byHi[pHi]
			if active[k] {
				delete(active, k)
				changed = true
			}
		}
		if changed {
			cur = activeLabels(active, func(k int) *pipeline.Incident { return spans[k].inc })
			changed = false
		}
		for pNext < len(starts) && starts[pNext].Before(s) {
			pNext++
		}
		w := cur
		switch {
		case w.IncidentActive:
			w.MinutesToNextIncident = &minutes[i] // 0
			w.Phase = schemas.PhaseIncident
		default:
			w.Phase = schemas.PhaseNormal
			if pNext < len(starts) {
				d := starts[pNext].Sub(s)
				minutes[i] = d.Minutes()
				w.MinutesToNextIncident = &minutes[i]
				if d < cfg.Horizon+step {
					w.Phase = schemas.PhasePreIncident
				}
			}
			if w.Phase == schemas.PhaseNormal && haveRecEnd && s.Before(maxRecEnd) {
				w.Phase = schemas.PhaseRecovery
			}
		}
		out[i] = w
	}
	return out
}

// activeLabels builds the id, severity and source columns of an active set.
func activeLabels(active map[int]bool, inc func(int) *pipeline.Incident) schemas.WindowLabels {
	if len(active) == 0 {
		return schemas.WindowLabels{}
	}
	ids := make([]string, 0, len(active))
	srcs := make([]string, 0, 2)
	sev := ""
	for k := range active {
		in := inc(k)
		ids = append(ids, in.ID)
		src := in.Source
		if src == "" {
			src = "unknown"
		}
		srcs = append(srcs, src)
		s := pipeline.NormalizeSeverity(in.Severity)
		if sev == "" || severityRank(s) > severityRank(sev) || (severityRank(s) == severityRank(sev) && s < sev) {
			sev = s
		}
	}
	return schemas.WindowLabels{
		IncidentActive: true,
		IncidentIDs:    sortedUnique(ids),
		Severity:       &sev,
		LabelSources:   sortedUnique(srcs),
	}
}

func sortedUnique(v []string) []string {
	sort.Strings(v)
	out := v[:0]
	for i, s := range v {
		if i == 0 || s != v[i-1] {
			out = append(out, s)
		}
	}
	return out
}
