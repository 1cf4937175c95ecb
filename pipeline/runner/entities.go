package runner

import (
	"fmt"
	"slices"
	"sort"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
)

// The one path for entities. The run's members are the entities the
// range knows (the metrics' entities; without a metric source, the set is
// open: the tickets' entities and those of the log lines): labels are
// kept for members only. An entity enters the
// windows table, and gets its published name under the anonymization
// policy, on the first day it appears (addEntities), so a day's files
// never depend on the days after it; every table, report and metadata
// file takes entity values from here. An entity named elsewhere (a
// ticket, a labeler, a log line) that is not known is counted and never
// published: it cannot be aligned to windows, and publishing it would
// teach the anonymizer an arbitrary string.

// setMembers fixes the range's entities; open admits every entity a log
// line names too (a spec without metrics).
func (e *export) setMembers(raw []string, open bool) {
	e.openMembers = open
	e.members = align.SortedSet(raw)
	e.memberSet = make(map[string]bool, len(e.members))
	for _, m := range e.members {
		e.memberSet[m] = true
	}
	e.names = map[string]string{}
}

// addEntities adds the entities seen on a day that are new to the run:
// each is named once, and the windows' entities stay ordered by published
// name. Entities that are not members are ignored.
func (e *export) addEntities(raw []string) {
	var added []string
	// A new slice, never the old one reordered: a day's frame holds it.
	ents := slices.Clone(e.entities)
	for _, r := range raw {
		if _, ok := e.names[r]; ok || r == "" || !(e.openMembers || e.memberSet[r]) {
			continue
		}
		e.names[r] = e.anon.EntityValue(e.s.Entity.Label, e.s.Entity.Kind, r)
		ents = append(ents, r)
		added = append(added, r)
	}
	if len(added) == 0 {
		return
	}
	sort.Slice(ents, func(i, j int) bool {
		a, b := ents[i], ents[j]
		if e.names[a] != e.names[b] {
			return e.names[a] < e.names[b]
		}
		return a < b
	})
	e.entities = ents
	if e.s.Entity.Kind == "service" {
		// Services are the workloads whose pods' generated names
		// (web-0, api-7d9f8b6c5-x2x9z) are pseudonymized in text.
		e.anon.AddWorkloads(added...)
	}
}

// entity is the published name of a raw entity, "" for one outside the
// run's entity set.
func (e *export) entity(raw string) string { return e.names[raw] }

// knownIncidents keeps the incidents of known entities; the others are
// counted per source for the label summary and the source's report.
func (e *export) knownIncidents(incs []pipeline.Incident) []pipeline.Incident {
	out := incs[:0]
	for _, in := range incs {
		if e.openMembers || e.memberSet[in.Entity] {
			out = append(out, in)
			continue
		}
		e.unknownIncidents[in.Source]++
		e.problems.Add("labels:"+in.Source, "incident "+in.SourceID, "unknown_entity",
			fmt.Sprintf("names an entity that is not among the %d %s entities of the range; not published", len(e.members), e.s.Entity.Kind))
	}
	return out
}

// publishedEntities maps raw entities to published ones, dropping unknown ones.
func (e *export) publishedEntities(raw []string) []string {
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		if p := e.entity(r); p != "" {
			out = append(out, p)
		}
	}
	return out
}
