package runner

import (
	"fmt"
	"sort"

	"github.com/opsdata/opsdata/pipeline"
)

// The one path for entities. The run's entity set is fixed once (the
// metrics' entities; without a metric source, those of the logs and
// tickets), each entity's published name is computed once under the
// anonymization policy, and every table, report and metadata file takes
// entity values from here. An entity named elsewhere (a ticket, a labeler,
// a log line) that is not in the set is counted and never published: it
// cannot be aligned to windows, and publishing it would teach the
// anonymizer an arbitrary string.

// nameEntities learns the published name of every entity and orders the
// entities by it, the windows table's sort order.
func (e *export) nameEntities() {
	e.names = make(map[string]string, len(e.entities))
	for _, raw := range e.entities {
		e.names[raw] = e.anon.EntityValue(e.s.Entity.Label, e.s.Entity.Kind, raw)
	}
	sort.SliceStable(e.entities, func(i, j int) bool { return e.names[e.entities[i]] < e.names[e.entities[j]] })
}

// entity is the published name of a raw entity, "" for one outside the
// run's entity set.
func (e *export) entity(raw string) string { return e.names[raw] }

// knownIncidents keeps the incidents of known entities; the others are
// counted per source for the label summary and the source's report.
func (e *export) knownIncidents(incs []pipeline.Incident) []pipeline.Incident {
	out := incs[:0]
	for _, in := range incs {
		if _, ok := e.names[in.Entity]; ok {
			out = append(out, in)
			continue
		}
		e.unknownIncidents[in.Source]++
		e.problems.Add("labels:"+in.Source, "incident "+in.SourceID, "unknown_entity",
			fmt.Sprintf("names an entity that is not among the %d %s entities of the range; not published", len(e.entities), e.s.Entity.Kind))
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
