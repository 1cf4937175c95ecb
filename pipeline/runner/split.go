package runner

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/schemas"
)

// splitNames are the split column's values, shared by every row.
var splitNames = map[string]*string{}

func init() {
	for _, s := range []string{schemas.SplitTrain, schemas.SplitValidation, schemas.SplitTest, schemas.SplitGap} {
		splitNames[s] = &s
	}
}

// splitPolicy is the spec's split policy for this export (nil without
// one); the incidents that straddle a boundary are added by straddling,
// once every entity has its published name.
func (e *export) splitPolicy() *schemas.SplitPolicy {
	sp := e.s.Split
	if !sp.Enabled() {
		return nil
	}
	embargo := time.Duration(sp.Embargo)
	if embargo == 0 {
		embargo = e.labelCfg.Horizon
	}
	p := &schemas.SplitPolicy{Embargo: embargo.String(), EmbargoSeconds: embargo.Seconds(), Straddling: []string{}}
	if !sp.Validation.IsZero() {
		v := sp.Validation.UTC()
		p.Validation = &v
	}
	if !sp.Test.IsZero() {
		t := sp.Test.UTC()
		p.Test = &t
	}
	if g := sp.EntityGroups; g.Enabled() {
		p.EntityGroups = &schemas.EntityGroups{Validation: g.Validation, Test: g.Test, Method: schemas.EntityGroupMethod, HeldOut: map[string][]string{}}
	}
	return p
}

// heldOut lists the published entities of each held-out group.
func (e *export) heldOut() map[string][]string {
	out := map[string][]string{}
	for _, raw := range e.entities {
		name := e.entity(raw)
		if g := schemas.EntityGroupOf(e.split.EntityGroups, name); g != schemas.SplitTrain {
			out[g] = append(out[g], name)
		}
	}
	for _, names := range out {
		sort.Strings(names)
	}
	return out
}

// straddling lists the incidents whose cause interval crosses a split
// boundary, by id and published entity.
func (e *export) straddling() []string {
	var bounds []time.Time
	for _, b := range []*time.Time{e.split.Validation, e.split.Test} {
		if b != nil {
			bounds = append(bounds, *b)
		}
	}
	out := []string{}
	for _, in := range e.incidents {
		for _, b := range bounds {
			if in.Start.Before(b) && (in.End == nil || in.End.After(b)) {
				out = append(out, in.ID+" ("+e.entity(in.Entity)+")")
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// applySplit sets the split column of one entity's labels on day; entity
// is the published name, which decides a held-out group.
func applySplit(p *schemas.SplitPolicy, day pipeline.Grid, entity string, labels []schemas.WindowLabels) {
	if p == nil {
		return
	}
	for i := range labels {
		labels[i].Split = splitNames[schemas.SplitOfEntity(p, day.At(i), day.Step, entity)]
	}
}

// splitGaps is what the card's known gaps say about the split.
func splitGaps(p *schemas.SplitPolicy) []string {
	if p == nil || len(p.Straddling) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("split: %d incident(s) straddle a split boundary, their windows fall in two splits: %s", len(p.Straddling), strings.Join(p.Straddling, ", "))}
}
