package ticketfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/pipeline"
)

func TestCSVTickets(t *testing.T) {
	const good = "\ufeffkey,summary,status,severity,created,impact_start,resolved,services,timezone\n" +
		"OPS-101,Checkout down,resolved,Critical,2026-01-05T09:20:00Z,2026-01-05T09:13:27Z,2026-01-05T09:51:02Z,checkout,\n" +
		"OPS-104,\"Cart slow, search too\",open,high,2026-01-06 16:42:10,2026-01-06 16:30:00,,cart;search; cart,America/New_York\n" +
		"OPS-105,No zone,open,low,2026-01-07 10:00:00,,,inventory,\n" +
		"OPS-106,Nobody,open,low,2026-01-07T10:00:00Z,,,,\n" +
		"OPS-107,short row\n" +
		"OPS-101,Duplicate,open,low,2026-01-07T10:00:00Z,,,checkout,\n"
	cfg := Config{Name: "csvops", Format: "csv", Path: "*.csv",
		Fields: Fields{ID: "key", Title: "summary", Entities: "services"}}
	tests := []struct {
		name    string
		files   map[string]string
		want    []pipeline.Ticket
		reasons map[string]int64
		example string
		err     error
	}{
		{
			name:  "mapped columns, ';' entities, quoted comma, per-ticket zone, problems with file:line",
			files: map[string]string{"t.csv": good},
			want: []pipeline.Ticket{
				{ID: "OPS-101", Source: "csvops", Title: "Checkout down", Status: "resolved", Severity: "critical",
					Created: ts("2026-01-05T09:20:00Z"), ImpactStart: tsp("2026-01-05T09:13:27Z"), Resolved: tsp("2026-01-05T09:51:02Z"),
					Entities: []string{"checkout"}, Where: "t.csv:2"},
				{ID: "OPS-104", Source: "csvops", Title: "Cart slow, search too", Status: "open", Severity: "high",
					Created: ts("2026-01-06T21:42:10Z"), ImpactStart: tsp("2026-01-06T21:30:00Z"),
					Entities: []string{"cart", "search"}, Where: "t.csv:3"},
			},
			reasons: map[string]int64{ReasonNaiveTimestamp: 1, ReasonNoEntities: 1, ReasonBadField: 1, ReasonDuplicateID: 1},
			example: "t.csv:4: naive_timestamp",
		},
		{name: "no id column", files: map[string]string{"t.csv": "title,created\nx,2026-01-05T00:00:00Z\n"}, err: ErrCSVHeader},
		{name: "empty file", files: map[string]string{"t.csv": ""}, err: ErrCSVHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Path = write(t, tc.files) + "/*.csv"
			problems := &pipeline.Problems{}
			got, err := read(t, c, problems)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tickets:\n got %+v\nwant %+v", got, tc.want)
			}
			rep := problems.Report()["tickets:csvops"]
			if !reflect.DeepEqual(rep.Reasons, tc.reasons) {
				t.Errorf("problems = %v, want %v (%v)", rep.Reasons, tc.reasons, rep.Examples)
			}
			if !strings.HasPrefix(strings.Join(rep.Examples, "\n"), tc.example) {
				t.Errorf("examples %v, want first %q", rep.Examples, tc.example)
			}
		})
	}
}
