//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

type labelReport struct {
	BySource       map[string]int `json:"by_source"`
	MergedBySource map[string]int `json:"merged_by_source"`
	Merged         int            `json:"merged"`
	Confirmed      int            `json:"confirmed"`
	OpenEnded      int            `json:"open_ended"`
	Warnings       map[string]int `json:"warnings"`
	Conflicts      struct {
		TicketWithoutAlert []reportRef `json:"ticket_without_alert"`
		AlertWithoutTicket []reportRef `json:"alert_without_ticket"`
	} `json:"conflicts"`
	Snapping struct {
		Starts     int     `json:"starts_snapped"`
		MaxSeconds float64 `json:"max_shift_seconds"`
	} `json:"snapping"`
}

type reportRef struct {
	Source string     `json:"source"`
	Entity string     `json:"entity"`
	Start  time.Time  `json:"start"`
	End    *time.Time `json:"end"`
}

func readReport(t *testing.T, dir string) labelReport {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "label_report.json"))
	if err != nil {
		t.Fatalf("every version carries a label report: %v", err)
	}
	var r labelReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLabelReportCountsDemoConflicts: the rule labeler (datasets/demo-rules.yml)
// confirms every ticketed (incident, entity), finds the ticket-less queue
// backlog on its own, and the report counts exactly that as a conflict.
func TestLabelReportCountsDemoConflicts(t *testing.T) {
	e := setup(t)
	r := readReport(t, e.versionDir())
	gt := readTruth(t, e.demo)
	var ticketedPairs, ticketless []string
	for _, g := range gt {
		for _, ent := range g.Entities {
			if g.Ticket == nil {
				ticketless = append(ticketless, ent)
			} else {
				ticketedPairs = append(ticketedPairs, g.ID+"/"+ent)
			}
		}
	}
	if r.BySource["ticket"] != len(ticketedPairs) {
		t.Errorf("by_source.ticket = %d, want %d (ticket, entity) pairs", r.BySource["ticket"], len(ticketedPairs))
	}
	if r.BySource["rule"] < len(ticketedPairs)+len(ticketless) {
		t.Errorf("by_source.rule = %d, want at least one firing per injected (incident, entity) = %d", r.BySource["rule"], len(ticketedPairs)+len(ticketless))
	}
	if r.Confirmed != len(ticketedPairs) {
		t.Errorf("confirmed = %d, want every ticketed pair confirmed by a rule: %d", r.Confirmed, len(ticketedPairs))
	}
	if n := len(r.Conflicts.TicketWithoutAlert); n != 0 {
		t.Errorf("ticket_without_alert = %d, want 0: every ticket shows in the metrics", n)
	}
	var got []string
	for _, c := range r.Conflicts.AlertWithoutTicket {
		got = append(got, c.Entity)
		if c.Source != "rule" {
			t.Errorf("conflict %+v: want source rule", c)
		}
	}
	sort.Strings(got)
	sort.Strings(ticketless)
	if strings.Join(got, ",") != strings.Join(ticketless, ",") {
		t.Errorf("alert_without_ticket entities = %v, want the ticket-less incidents' %v", got, ticketless)
	}
	if r.MergedBySource["rule"] != len(ticketless) || r.MergedBySource["ticket"] != len(ticketedPairs) {
		t.Errorf("merged_by_source = %v, want ticket=%d rule=%d", r.MergedBySource, len(ticketedPairs), len(ticketless))
	}
	if r.OpenEnded != 1 {
		t.Errorf("open_ended = %d, want 1 (the memory leak still running)", r.OpenEnded)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings = %v, want none on the demo", r.Warnings)
	}
	if r.Snapping.Starts == 0 || r.Snapping.MaxSeconds >= 60 {
		t.Errorf("snapping = %+v: demo starts are off the minute grid, shifts must be in (0, 60) s", r.Snapping)
	}
	// The ticket-less incident as the rule found it lies within the tolerance of the truth.
	for _, g := range gt {
		if g.Ticket != nil {
			continue
		}
		for _, c := range r.Conflicts.AlertWithoutTicket {
			if c.End == nil || c.Start.Sub(g.Start).Abs() > LabelTolerance || c.End.Sub(*g.End).Abs() > LabelTolerance {
				t.Errorf("rule incident %+v vs ground truth %s %s–%s: beyond %s", c, g.ID, g.Start, g.End, LabelTolerance)
			}
		}
	}
}
