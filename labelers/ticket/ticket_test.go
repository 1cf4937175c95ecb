package ticket

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

func TestTicketIncidents(t *testing.T) {
	m := time.Minute
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name     string
		tickets  []pipeline.Ticket
		want     []pipeline.Incident
		problems map[string]int64 // reason -> count
	}{
		{
			name: "impact start, per entity, sorted by start, entity, id",
			tickets: []pipeline.Ticket{
				{ID: "T-2", Title: "slow", Severity: " Major ", Created: at(9 * m), ImpactStart: atp(5 * m), Resolved: atp(20 * m), Entities: []string{"web", "api", "web", " "}},
				{ID: "T-1", Created: at(1 * m), ImpactStart: atp(5 * m), Entities: []string{"web"}},
			},
			want: []pipeline.Incident{
				{ID: "T-2", Entity: "api", Start: at(5 * m), End: atp(20 * m), Severity: "major", Type: "unknown", Source: "ticket", SourceID: "T-2", Confidence: 1, Title: "slow"},
				{ID: "T-1", Entity: "web", Start: at(5 * m), Severity: "unknown", Type: "unknown", Source: "ticket", SourceID: "T-1", Confidence: 1},
				{ID: "T-2", Entity: "web", Start: at(5 * m), End: atp(20 * m), Severity: "major", Type: "unknown", Source: "ticket", SourceID: "T-2", Confidence: 1, Title: "slow"},
			},
		},
		{
			name:    "created fallback has confidence 0.8 and times become UTC",
			tickets: []pipeline.Ticket{{ID: "T-3", Created: at(7 * m).In(berlin), Resolved: ptr(at(9 * m).In(berlin)), Entities: []string{"db"}}},
			want: []pipeline.Incident{
				{ID: "T-3", Entity: "db", Start: at(7 * m), End: atp(9 * m), Severity: "unknown", Type: "unknown", Source: "ticket", SourceID: "T-3", Confidence: 0.8},
			},
		},
		{
			name: "malformed tickets are counted; a backwards one is kept",
			tickets: []pipeline.Ticket{
				{ID: "T-4", Source: "jira", Where: "t.json:4", Entities: []string{"db"}},
				{ID: "T-5", Source: "jira", Where: "t.json:5", Created: at(0)},
				{ID: "T-6", Source: "jira", Where: "t.json:6", Created: at(5 * m), Resolved: atp(m), Entities: []string{"db"}},
				{ID: "T-6", Source: "jira", Where: "t.json:7", Created: at(6 * m), Entities: []string{"db"}},
			},
			want: []pipeline.Incident{
				{ID: "T-6", Entity: "db", Start: at(5 * m), End: atp(m), Severity: "unknown", Type: "unknown", Source: "ticket", SourceID: "T-6", Confidence: 0.8},
				{ID: "T-6", Entity: "db", Start: at(6 * m), Severity: "unknown", Type: "unknown", Source: "ticket", SourceID: "T-6", Confidence: 0.8},
			},
			problems: map[string]int64{"no impact start or created time": 1, "no entity": 1, "resolved not after impact start": 1, "duplicate ticket id": 1},
		},
		{
			name: "no tickets",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p pipeline.Problems
			l := NewTicketLabeler(&p)
			got, err := l.Incidents(context.Background(), pipeline.LabelInput{Entities: []string{"web"}, Tickets: tt.tickets})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("incidents:\n got %+v\nwant %+v", got, tt.want)
			}
			var reasons map[string]int64
			if r, ok := p.Report()["jira"]; ok {
				reasons = r.Reasons
				for _, ex := range r.Examples {
					if !strings.HasPrefix(ex, "t.json:") {
						t.Errorf("problem example %q does not say where", ex)
					}
				}
			}
			if len(tt.problems) == 0 && p.Total() != 0 {
				t.Errorf("unexpected problems %+v", p.Report())
			} else if len(tt.problems) > 0 && !reflect.DeepEqual(reasons, tt.problems) {
				t.Errorf("problems = %v, want %v", reasons, tt.problems)
			}
		})
	}
}

// Same tickets in any order give the same incidents.
func TestTicketIncidentsDeterministic(t *testing.T) {
	tickets := []pipeline.Ticket{
		{ID: "B", Created: at(0), Entities: []string{"x", "y"}},
		{ID: "A", Created: at(0), Entities: []string{"y", "x"}},
		{ID: "A", Source: "other", Created: at(0), Resolved: atp(time.Minute), Entities: []string{"x"}},
	}
	l := NewTicketLabeler(nil)
	first, err := l.Incidents(context.Background(), pipeline.LabelInput{Tickets: tickets})
	if err != nil {
		t.Fatal(err)
	}
	rev := []pipeline.Ticket{tickets[2], tickets[1], tickets[0]}
	second, err := l.Incidents(context.Background(), pipeline.LabelInput{Tickets: rev})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("order dependent:\n%+v\n%+v", first, second)
	}
}

func TestTicketIncidentsCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := NewTicketLabeler(nil)
	if _, err := l.Incidents(ctx, pipeline.LabelInput{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// The ticket kind has no keys of its own: any key is refused by the strict
// section decoding, with its line.
func TestTicketConfigStrict(t *testing.T) {
	f := Factory()
	cfg := f.NewConfig()
	sec, err := spec.NewSection("s.yaml", []byte("rules: [x]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sec.Decode(cfg); err == nil || !strings.Contains(err.Error(), `s.yaml:1: unknown key "rules"`) {
		t.Fatalf("err = %v, want the unknown key rules at s.yaml:1", err)
	}
	if l, err := f.New(cfg, nil); err != nil || l.Name() != "ticket" {
		t.Fatalf("New = %v, %v", l, err)
	}
}

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time   { return t0.Add(d) }
func atp(d time.Duration) *time.Time { x := at(d); return &x }
func ptr[T any](v T) *T              { return &v }
