package label

import (
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/pipelinetest"
)

var (
	m0   = pipelinetest.T0
	mAt  = pipelinetest.At
	mAtp = pipelinetest.AtP
)

func TestMergeTable(t *testing.T) {
	grid, _ := pipeline.NewGrid(m0, mAt(120), time.Minute)
	inc := func(src, id, ent string, s float64, e *time.Time) pipeline.Incident {
		return pipeline.Incident{ID: id, Entity: ent, Start: mAt(s), End: e, Source: src}
	}
	tests := []struct {
		name      string
		in        []pipeline.Incident
		wantIDs   []string
		absorbed  int
		noTicket  int
		noAlert   int
		warnings  map[string]int
		effectEnd *time.Time
	}{
		{name: "ticket wins, rule confirms and extends the effect",
			in:      []pipeline.Incident{inc("ticket", "T1", "a", 10, mAtp(30)), inc("rule", "R1", "a", 11, mAtp(33))},
			wantIDs: []string{"T1"}, absorbed: 1, effectEnd: mAtp(33)},
		{name: "within tolerance joins",
			in:      []pipeline.Incident{inc("ticket", "T1", "a", 10, mAtp(30)), inc("rule", "R1", "a", 34, mAtp(40))},
			wantIDs: []string{"T1"}, absorbed: 1, effectEnd: mAtp(40)},
		{name: "beyond tolerance: two conflicts",
			in:      []pipeline.Incident{inc("ticket", "T1", "a", 10, mAtp(30)), inc("rule", "R1", "a", 36, mAtp(40))},
			wantIDs: []string{"T1", "R1"}, noTicket: 1, noAlert: 1},
		{name: "per entity: no smearing",
			in:      []pipeline.Incident{inc("ticket", "T1", "a", 10, mAtp(30)), inc("rule", "R1", "b", 10, mAtp(30))},
			wantIDs: []string{"T1", "R1"}, noTicket: 1, noAlert: 1},
		{name: "manual overrides ticket",
			in:      []pipeline.Incident{inc("manual", "M1", "a", 12, mAtp(20)), inc("ticket", "T1", "a", 10, mAtp(30))},
			wantIDs: []string{"M1"}, absorbed: 1, noAlert: 1},
		{name: "validation",
			in: []pipeline.Incident{inc("ticket", "T1", "a", 10, mAtp(5)), inc("ticket", "T2", "zzz", 10, mAtp(20)),
				inc("ticket", "T3", "a", 200, mAtp(210)), inc("ticket", "T4", "a", -10, mAtp(60))},
			wantIDs: []string{"T4", "T1"}, noAlert: 2, warnings: map[string]int{WarnEndBeforeStart: 1, WarnUnknownEntity: 1, WarnOutsideRange: 1, WarnClipped: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, rep := Merge(tc.in, MergeInput{Grid: grid, Entities: []string{"a", "b"}, Labelers: []string{"ticket", "rule", "manual"}})
			var ids []string
			for _, o := range out {
				ids = append(ids, o.ID)
			}
			if len(ids) != len(tc.wantIDs) {
				t.Fatalf("ids %v, want %v", ids, tc.wantIDs)
			}
			for i := range ids {
				if ids[i] != tc.wantIDs[i] {
					t.Fatalf("ids %v, want %v", ids, tc.wantIDs)
				}
			}
			if rep.Absorbed != tc.absorbed || len(rep.Conflicts.AlertWithoutTicket) != tc.noTicket || len(rep.Conflicts.TicketWithoutAlert) != tc.noAlert {
				t.Errorf("report %+v", rep)
			}
			for k, v := range tc.warnings {
				if rep.Warnings[k] != v {
					t.Errorf("warnings %v, want %v", rep.Warnings, tc.warnings)
				}
			}
			if tc.effectEnd != nil && (out[0].EffectEnd == nil || !out[0].EffectEnd.Equal(*tc.effectEnd)) {
				t.Errorf("effect end %v, want %v", out[0].EffectEnd, tc.effectEnd)
			}
		})
	}
}
