package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/label"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

func TestSplitPolicyStraddling(t *testing.T) {
	at := func(d, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }
	ptr := func(t time.Time) *time.Time { return &t }
	e := &export{
		s:        &spec.Spec{Split: spec.Split{Validation: at(6, 0), Test: at(7, 0)}},
		labelCfg: label.Config{Horizon: 30 * time.Minute},
		names:    map[string]string{"api": "api", "db": "db"},
		incidents: []pipeline.Incident{
			{ID: "T-1", Entity: "api", Start: at(5, 23), End: ptr(at(6, 1))}, // crosses validation
			{ID: "T-2", Entity: "db", Start: at(6, 20), End: nil},            // open: crosses test
			{ID: "T-3", Entity: "db", Start: at(5, 1), End: ptr(at(6, 0))},   // ends at the boundary
		},
	}
	p := e.splitPolicy()
	e.split = p
	if p != nil {
		p.Straddling = e.straddling()
	}
	if p == nil || p.EmbargoSeconds != 1800 || p.Embargo != "30m0s" {
		t.Fatalf("policy %+v", p)
	}
	if got := strings.Join(p.Straddling, ","); got != "T-1 (api),T-2 (db)" {
		t.Errorf("straddling %q", got)
	}
	labels := make([]schemas.WindowLabels, 3)
	day := pipeline.Grid{Start: at(5, 23).Add(29 * time.Minute), End: at(5, 23).Add(32 * time.Minute), Step: time.Minute}
	applySplit(p, day, "api", labels)
	var got []string
	for _, l := range labels {
		got = append(got, *l.Split)
	}
	if strings.Join(got, ",") != "train,gap,gap" {
		t.Errorf("splits %v", got)
	}
	if e.s.Split = (spec.Split{}); e.splitPolicy() != nil {
		t.Error("a policy without a split")
	}
}
