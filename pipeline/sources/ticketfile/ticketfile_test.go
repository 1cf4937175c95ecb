package ticketfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func tsp(s string) *time.Time { t := ts(s); return &t }

func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func read(t *testing.T, cfg Config, problems *pipeline.Problems) ([]pipeline.Ticket, error) {
	t.Helper()
	src, err := New(cfg, problems)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if src.Name() != cfg.Name {
		t.Errorf("Name() = %q, want %q", src.Name(), cfg.Name)
	}
	return src.Tickets(context.Background())
}

func TestTickets(t *testing.T) {
	const demo = `[
 {"id":"OPS-104","title":"Cart slow","body":"b","status":"resolved","severity":"High","created":"2026-01-06 16:42:10","impact_start":"2026-01-06T16:30:00","resolved":null,"services":["cart"," cart","search",""],"timezone":"America/New_York"},
 {"id":"OPS-101","title":"Checkout down","body":"...","status":"resolved","severity":"critical","created":"2026-01-05T09:20:00Z","impact_start":"2026-01-05T09:13:27Z","resolved":"2026-01-05T09:51:02Z","services":["checkout"]}
]`
	cfg := Config{Name: "ops", Format: "json", Path: "*.json", Fields: Fields{Entities: "services"}}
	tests := []struct {
		name    string
		cfg     Config
		files   map[string]string
		want    []pipeline.Ticket
		reasons map[string]int64
	}{
		{
			name:  "demo tickets, naive time in the ticket's zone, sorted by impact start",
			cfg:   cfg,
			files: map[string]string{"t.json": demo},
			want: []pipeline.Ticket{
				{ID: "OPS-101", Source: "ops", Title: "Checkout down", Body: "...", Status: "resolved", Severity: "critical",
					Created: ts("2026-01-05T09:20:00Z"), ImpactStart: tsp("2026-01-05T09:13:27Z"), Resolved: tsp("2026-01-05T09:51:02Z"),
					Entities: []string{"checkout"}, Where: "t.json#OPS-101"},
				// New York is UTC-5 in January.
				{ID: "OPS-104", Source: "ops", Title: "Cart slow", Body: "b", Status: "resolved", Severity: "high",
					Created: ts("2026-01-06T21:42:10Z"), ImpactStart: tsp("2026-01-06T21:30:00Z"),
					Entities: []string{"cart", "search"}, Where: "t.json#OPS-104"},
			},
		},
		{
			name: "source timezone across DST, comma-separated entities, numeric id",
			cfg: func() Config {
				c := cfg
				c.Timezone = "Europe/Berlin"
				c.Fields.Entities = ""
				return c
			}(),
			files: map[string]string{"t.json": `[
 {"id":7,"created":"2026-07-01 12:00:00.5","entities":"db, cache ,db","severity":"SEV-9"},
 {"id":"A","created":"2026-01-01T12:00:00","entities":"web"},
 {"id":"B","created":"2026-01-01T12:00:00","timezone":"UTC","entities":"web"}
]`},
			want: []pipeline.Ticket{
				{ID: "A", Source: "ops", Created: ts("2026-01-01T11:00:00Z"), Entities: []string{"web"}, Where: "t.json#A"},
				{ID: "B", Source: "ops", Created: ts("2026-01-01T12:00:00Z"), Entities: []string{"web"}, Where: "t.json#B"},
				{ID: "7", Source: "ops", Created: ts("2026-07-01T10:00:00.5Z"), Severity: "sev-9", Entities: []string{"db", "cache"}, Where: "t.json#7"},
			},
		},
		{
			name: "each malformed reason is counted and skipped",
			cfg:  cfg,
			files: map[string]string{"t.json": `[
 {"id":"OK-1","created":"2026-01-05T09:20:00Z","services":"a"},
 "not an object",
 {"title":"no id","created":"2026-01-05T09:20:00Z","services":"a"},
 {"id":"X-1","services":"a"},
 {"id":"X-2","created":"yesterday","services":"a"},
 {"id":"X-3","created":"2026-01-05 09:20:00","services":"a"},
 {"id":"X-4","created":"2026-01-05T09:20:00","timezone":"Mars/Olympus","services":"a"},
 {"id":"X-5","created":"2026-01-05T09:20:00Z","impact_start":"2026-01-05T09:00:00Z","resolved":"2026-01-05T08:59:59Z","services":"a"},
 {"id":"X-6","created":"2026-01-05T09:20:00Z","services":[]},
 {"id":"X-7","created":"2026-01-05T09:20:00Z"},
 {"id":"X-8","created":"2026-01-05T09:20:00Z","services":[1,2]},
 {"id":{"a":1},"created":"2026-01-05T09:20:00Z","services":"a"},
 {"id":"OK-1","created":"2026-01-05T09:20:00Z","services":"a"},
 {"id":"X-9","created":"2026-01-05T09:20:00Z","resolved":"2026-01-05T09:19:00Z","services":"a"}
]`},
			want: []pipeline.Ticket{
				{ID: "OK-1", Source: "ops", Created: ts("2026-01-05T09:20:00Z"), Entities: []string{"a"}, Where: "t.json#OK-1"},
			},
			reasons: map[string]int64{
				ReasonNotObject: 1, ReasonMissingID: 1, ReasonMissingCreated: 1, ReasonBadTimestamp: 1,
				ReasonNaiveTimestamp: 1, ReasonBadTimezone: 1, ReasonResolvedBefore: 2, ReasonNoEntities: 2,
				ReasonBadField: 2, ReasonDuplicateID: 1,
			},
		},
		{
			name: "several files merged and sorted, empty array",
			cfg:  cfg,
			files: map[string]string{
				"a.json": `[{"id":"Z","created":"2026-01-02T00:00:00Z","services":"a"}]`,
				"b.json": `[{"id":"Y","created":"2026-01-01T00:00:00Z","services":"b"},{"id":"X","created":"2026-01-02T00:00:00Z","services":"b"}]`,
				"c.json": `[]`,
			},
			want: []pipeline.Ticket{
				{ID: "Y", Source: "ops", Created: ts("2026-01-01T00:00:00Z"), Entities: []string{"b"}, Where: "b.json#Y"},
				{ID: "X", Source: "ops", Created: ts("2026-01-02T00:00:00Z"), Entities: []string{"b"}, Where: "b.json#X"},
				{ID: "Z", Source: "ops", Created: ts("2026-01-02T00:00:00Z"), Entities: []string{"a"}, Where: "a.json#Z"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, tc.files)
			c := tc.cfg
			c.Path = filepath.Join(dir, c.Path)
			var problems pipeline.Problems
			got, err := read(t, c, &problems)
			if err != nil {
				t.Fatalf("Tickets: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tickets:\n got %+v\nwant %+v", got, tc.want)
			}
			for _, tk := range got {
				if tk.Created.Location() != time.UTC || (tk.ImpactStart != nil && tk.ImpactStart.Location() != time.UTC) {
					t.Errorf("%s: times not in UTC", tk.ID)
				}
			}
			rep := problems.Report()
			if tc.reasons == nil {
				if len(rep) != 0 {
					t.Errorf("problems = %+v, want none", rep)
				}
				return
			}
			ip := rep["tickets:"+c.Name]
			if !reflect.DeepEqual(ip.Reasons, tc.reasons) {
				t.Errorf("reasons:\n got %v\nwant %v", ip.Reasons, tc.reasons)
			}
		})
	}
}

func TestProblemExamples(t *testing.T) {
	dir := write(t, map[string]string{"t.json": `[
 {"title":"no id","created":"2026-01-05T09:20:00Z","entities":"a"},
 {"id":"X-2","created":"not-a-time-and-more-text-that-is-long-enough-to-cut","entities":"a","body":"SECRET"},
 {"id":"X-3","created":"2026-01-05 09:20:00","entities":"a"}
]`})
	var problems pipeline.Problems
	if _, err := read(t, Config{Name: "ops", Path: filepath.Join(dir, "t.json")}, &problems); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`t.json:ticket #0: missing_id: no "id" field`,
		`t.json:ticket X-2: bad_timestamp: field "created": value of 51 chars [a-z punct] is not RFC 3339`,
		`t.json:ticket X-3: naive_timestamp: field "created": timestamp has no zone; set timezone: in the ticket source or a timezone field on the ticket`,
	}
	got := problems.Report()["tickets:ops"].Examples
	if !reflect.DeepEqual(got, want) {
		t.Errorf("examples:\n got %q\nwant %q", got, want)
	}
}

func TestFileErrors(t *testing.T) {
	dir := write(t, map[string]string{
		"object.json": `{"id":"OPS-1"}`,
		"broken.json": "[\n {\"id\":\"OPS-1\",\n  \"created\" \"x\"}\n]",
		"null.json":   `null`,
	})
	tests := []struct {
		name string
		path string
		want string
		is   error
	}{
		{"object instead of array", "object.json", "object.json: not a JSON array of tickets (found a JSON object", ErrNotArray},
		{"syntax error names line", "broken.json", "broken.json:3:13: invalid JSON", nil},
		{"null", "null.json", "null.json: not a JSON array", ErrNotArray},
		{"no match", "*.nope", `ticket source "ops": no ticket files match`, ErrNoFiles},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t, Config{Name: "ops", Format: "json", Path: filepath.Join(dir, tc.path)}, &pipeline.Problems{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want containing %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"format", Config{Name: "ops", Format: "xml", Path: "x"}, `format "xml"`},
		{"path", Config{Name: "ops", Format: "json"}, "path is required"},
		{"glob", Config{Name: "ops", Format: "json", Path: "[x"}, "syntax error in pattern"},
		{"timezone", Config{Name: "ops", Format: "json", Path: "x", Timezone: "Nowhere/Land"}, "Nowhere/Land"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, &pipeline.Problems{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want containing %q", err, tc.want)
			}
		})
	}
}
