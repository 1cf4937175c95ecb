package runner

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opsdata/opsdata/pipeline/label"
)

// LabelReportFile is the label report's name in a version directory.
const LabelReportFile = "label_report.json"

// mergeLabels merges the labelers' incidents under the spec's merge policy
// (label.Merge). The report is published by writeLabelReport, after the
// days: it names entities, and an entity is named on the first day it
// appears (entities.go).
func (e *export) mergeLabels() {
	kinds := make([]string, 0, len(e.s.Labelers))
	for _, l := range e.s.Labelers {
		kinds = append(kinds, l.Kind)
	}
	merged, rep := label.Merge(e.incidents, label.MergeInput{
		Grid: e.grid, Entities: e.members, Policy: e.s.Merge, Labelers: kinds,
	})
	e.incidents = merged
	e.split = e.splitPolicy() // split.go
	e.report = &rep
}

// writeLabelReport writes the label report into the staging directory, so
// it is checksummed and published with the version; entities under their
// published names.
func (e *export) writeLabelReport() error {
	rep := e.report
	ren := func(refs []label.Ref) {
		for i := range refs {
			refs[i].Entity = e.entity(refs[i].Entity)
		}
	}
	ren(rep.Conflicts.TicketWithoutAlert)
	ren(rep.Conflicts.AlertWithoutTicket)
	for i, ex := range rep.WarningExamples {
		if j := strings.LastIndex(ex, ", entity "); j >= 0 && strings.HasSuffix(ex, ")") {
			rep.WarningExamples[i] = ex[:j] + ", entity " + e.entity(ex[j+len(", entity "):len(ex)-1]) + ")"
		}
	}
	if e.split != nil {
		e.split.Straddling = e.straddling()
		rep.SplitStraddling = e.split.Straddling
		if e.split.EntityGroups != nil {
			e.split.EntityGroups.HeldOut = e.heldOut()
		}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("label report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(e.staging, LabelReportFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("label report: %w", err)
	}
	return nil
}

// reportGaps summarises the label report for the manifest and card.
func (e *export) reportGaps() []string {
	r := e.report
	if r == nil {
		return nil
	}
	var out []string
	if r.Overlaps > 0 {
		out = append(out, fmt.Sprintf("labels merged under %s: %d overlapping groups, %d weaker intervals absorbed (see %s)", r.Policy, r.Overlaps, r.Absorbed, LabelReportFile))
	}
	if n := len(r.Conflicts.TicketWithoutAlert); n > 0 {
		out = append(out, fmt.Sprintf("%d ticket/manual incident(s) no rule or alert confirms", n))
	}
	if n := len(r.Conflicts.AlertWithoutTicket); n > 0 {
		out = append(out, fmt.Sprintf("%d rule/alert incident(s) with no ticket: labelled from metrics alone, boundaries approximate", n))
	}
	for _, k := range slices.Sorted(maps.Keys(r.Warnings)) {
		out = append(out, fmt.Sprintf("%d label interval(s) %s (see %s)", r.Warnings[k], strings.ReplaceAll(k, "_", " "), LabelReportFile))
	}
	return out
}
