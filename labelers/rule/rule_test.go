package rule

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/pipelinetest"
)

var (
	m0   = pipelinetest.T0
	mAt  = pipelinetest.At
	mAtp = pipelinetest.AtP
)

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
	l, err := NewRuleLabeler(Config{Rules: []string{rules}}, problems)
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
		if g.Source != pipeline.SourceRule || g.Severity != "major" || g.Type != "Backlog" || g.Confidence != pipeline.ConfidenceRule {
			t.Errorf("incident %d: %+v", i, g)
		}
	}
	if n := problems.Total(); n != 1 {
		t.Errorf("%d problems, want 1 (the series without a service label)", n)
	}
}

// TestResumeIncidents: continuing a run that ended at `at` gives the
// incidents of one run over the whole grid, for every resume point —
// alerts active since long before the warm-up, pending or resolving at
// the resume point, kept firing by keep_firing_for, flapping.
func TestResumeIncidents(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 1m
  queue{service="cart"}     1x10 90x250 1x40
  queue{service="auth"}     1x30 90x3 1x5 90x2 1x20 90x1 1x100 90x60 1x80
  queue{service="checkout"} 1x100 90x1 1x2 90x1 1x1 90x1 1x200
  errors{service="cart"}    0x60 1x1 0x30 1x3 0x200
`)
	t.Cleanup(func() { st.Close() })
	rules := filepath.Join(t.TempDir(), "rules.yml")
	os.WriteFile(rules, []byte(`groups:
  - name: g
    rules:
      - alert: Backlog
        expr: queue > 50
        for: 2m
      - alert: Errors
        expr: errors > 0
        keep_firing_for: 5m
      - alert: Instant
        expr: queue > 50
`), 0o644)
	l, err := NewRuleLabeler(Config{Rules: []string{rules}}, &pipeline.Problems{})
	if err != nil {
		t.Fatal(err)
	}
	e0 := time.Unix(0, 0).UTC()
	min := func(m int) time.Time { return e0.Add(time.Duration(m) * time.Minute) }
	full, _ := pipeline.NewGrid(e0, min(300), time.Minute)
	in := pipeline.LabelInput{Grid: full, EntityLabel: "service", Queryable: st}
	want, err := l.Incidents(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 8 {
		t.Fatalf("only %d incidents: the series do not exercise the rules", len(want))
	}
	for at := 5; at < 300; at += 7 {
		first, _ := pipeline.NewGrid(e0, min(at), time.Minute)
		prev, err := l.Incidents(context.Background(), pipeline.LabelInput{Grid: first, EntityLabel: "service", Queryable: st})
		if err != nil {
			t.Fatal(err)
		}
		got, err := l.ResumeIncidents(context.Background(), in, min(at), prev)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := describe(got), describe(want); g != w {
			t.Errorf("resumed at minute %d:\n%s\nwant\n%s", at, g, w)
		}
	}
}

func describe(incs []pipeline.Incident) string {
	var b strings.Builder
	for _, in := range incs {
		end := "open"
		if in.End != nil {
			end = in.End.Format(time.TimeOnly)
		}
		fmt.Fprintf(&b, "%s %s %s %s-%s\n", in.ID, in.SourceID, in.Entity, in.Start.Format(time.TimeOnly), end)
	}
	return b.String()
}
