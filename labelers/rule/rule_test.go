package rule

import (
	"context"
	"os"
	"path/filepath"
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
