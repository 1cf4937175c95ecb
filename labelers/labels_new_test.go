package labelers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/opsdata/opsdata/spec"
	"github.com/opsdata/opsdata/pipeline"
)

var m0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func mAt(m float64) time.Time { return m0.Add(time.Duration(m * float64(time.Minute))) }
func mAtp(m float64) *time.Time {
	x := mAt(m)
	return &x
}

// TestRuleLabelerForHonoured loads series promqltest-style and checks that
// only conditions lasting `for:` become incidents, from activeAt to resolve.
func TestRuleLabelerForHonoured(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 1m
  queue{service="cart",instance="a"}  1 1 1 90 90 90 90 90 1 1 1 1 1 1 1 1 1 1 1 1
  queue{service="auth",instance="b"}  1 1 1 1  1  90 1  1  1 1 1 1 1 1 1 1 1 1 90 90 90 90 90
  queue{instance="c"}                 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90
`)
	t.Cleanup(func() { st.Close() })
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	os.WriteFile(rules, []byte(`groups:
  - name: g
    rules:
      - alert: Backlog
        expr: queue > 50
        for: 2m
        labels: {severity: major}
      - record: ignored
        expr: sum(queue)
`), 0o644)
	problems := &pipeline.Problems{}
	l, err := NewRuleLabeler(spec.Labeler{Kind: "rule", Rules: []string{rules}}, problems)
	if err != nil {
		t.Fatal(err)
	}
	e0 := time.Unix(0, 0).UTC() // promqltest loads from the epoch
	ep := func(m float64) *time.Time { x := e0.Add(time.Duration(m * float64(time.Minute))); return &x }
	grid, _ := pipeline.NewGrid(e0, *ep(22), time.Minute)
	got, err := l.Incidents(context.Background(), pipeline.LabelInput{Grid: grid, EntityLabel: "service", Queryable: st})
	if err != nil {
		t.Fatal(err)
	}
	want := []pipeline.Incident{
		// cart: >50 from 3m to 8m, fires at 5m; resolved at the 8m evaluation
		{Entity: "cart", Start: *ep(3), End: ep(8)},
		// auth: the 1-minute blip at 5m never fires; the run from 18m is still firing at the end
		{Entity: "auth", Start: *ep(18), End: nil},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d incidents %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Entity != w.Entity || !g.Start.Equal(w.Start) || (g.End == nil) != (w.End == nil) || (g.End != nil && !g.End.Equal(*w.End)) {
			t.Errorf("incident %d: %s %s–%v, want %s %s–%v", i, g.Entity, g.Start, g.End, w.Entity, w.Start, w.End)
		}
		if g.Source != pipeline.SourceRule || g.Severity != "major" || g.Type != "Backlog" || g.Confidence != ConfidenceRule {
			t.Errorf("incident %d: %+v", i, g)
		}
	}
	if n := problems.Total(); n != 1 {
		t.Errorf("%d problems, want 1 (the series without a service label)", n)
	}
}

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

func TestManualLabeler(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	grid, _ := pipeline.NewGrid(m0, mAt(120), time.Minute)
	in := pipeline.LabelInput{Grid: grid, EntityLabel: "service"}
	tests := []struct {
		name, file, body, tz string
		wantErr              error
		errText              string
		want                 []string // entity@start
	}{
		{name: "yaml zone", file: "a.yaml", body: "timezone: Europe/Berlin\nincidents:\n  - {id: pm1, entity: cart, start: '2026-01-05 01:10:00', end: '2026-01-05 01:20:00'}\n",
			want: []string{"cart@2026-01-05T00:10:00Z"}},
		{name: "json series", file: "b.json", body: `[{"id":"x","series":"{service=\"auth\",instance=\"i\"}","start":"2026-01-05T00:05:00Z"}]`,
			want: []string{"auth@2026-01-05T00:05:00Z"}},
		{name: "csv spec zone", file: "c.csv", tz: "America/New_York", body: "id,entities,start\n", errText: "unknown column"},
		{name: "csv", file: "d.csv", tz: "America/New_York", body: "id,entity,start,end\nq,cart,2026-01-04 19:30:00,\n",
			want: []string{"cart@2026-01-05T00:30:00Z"}},
		{name: "naive without zone", file: "e.yaml", body: "incidents:\n  - {id: n, entity: a, start: '2026-01-05 01:10:00'}\n", wantErr: ErrNaiveTime},
		{name: "no entity", file: "f.yaml", body: "incidents:\n  - {id: n, start: '2026-01-05T01:10:00Z'}\n", errText: "f.yaml:2: incident \"n\": no entity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(tc.file, tc.body)
			l, err := NewManualLabeler(spec.Labeler{Kind: "manual", Path: p, Timezone: tc.tz})
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.Incidents(context.Background(), in)
			switch {
			case tc.wantErr != nil || tc.errText != "":
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || (tc.errText != "" && !hasText(err.Error(), tc.errText)) {
					t.Fatalf("err %v, want %v %q", err, tc.wantErr, tc.errText)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			var s []string
			for _, g := range got {
				s = append(s, g.Entity+"@"+g.Start.Format(time.RFC3339))
				if g.Source != pipeline.SourceManual {
					t.Errorf("source %q", g.Source)
				}
			}
			if len(s) != len(tc.want) || (len(s) > 0 && s[0] != tc.want[0]) {
				t.Fatalf("got %v, want %v", s, tc.want)
			}
		})
	}
}

func hasText(s, sub string) bool { return strings.Contains(s, sub) }
