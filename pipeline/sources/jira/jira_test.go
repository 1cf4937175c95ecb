package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/sources/ticketfile"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func tsp(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// fakeJira serves testdata/search_<startAt>.json like Jira's
// /rest/api/2/search, answering 429 with Retry-After the first `limited`
// times startAt=2 is asked.
type fakeJira struct {
	t       *testing.T
	limited int
	status  int

	mu       sync.Mutex
	requests []*http.Request
}

func (f *fakeJira) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	if r.URL.Path != "/rest/api/2/search" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	if f.status != 0 {
		w.WriteHeader(f.status)
		fmt.Fprint(w, `{"errorMessages":["Field 'customfield_99999' does not exist or you do not have permission to view it."],"errors":{}}`)
		return
	}
	at := r.URL.Query().Get("startAt")
	if at == "2" && f.limited > 0 {
		f.limited--
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	b, err := os.ReadFile("testdata/search_" + at + ".json")
	if err != nil {
		f.t.Errorf("startAt %s: %v", at, err)
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func TestTickets(t *testing.T) {
	base := Config{Name: "jira", JQL: "project = OPS AND issuetype = Incident ORDER BY created ASC",
		TokenEnv: "OPSDATA_TEST_JIRA_TOKEN", UserEnv: "OPSDATA_TEST_JIRA_USER",
		Fields: ticketfile.Fields{ImpactStart: "customfield_10050"}, Mapping: ticketfile.Mapping{PageSize: 2}}
	zoned := base
	zoned.Timezone = "UTC"
	byLabels := base
	byLabels.Mapping.EntitiesFrom = "labels"

	ops101 := pipeline.Ticket{ID: "OPS-101", Source: "jira", Title: "Checkout down after deploy", Body: "Payments failing. h3. Timeline ...",
		Status: "Done", Severity: "highest", Type: "Incident", Created: *tsp("2026-01-05T09:20:00Z"), ImpactStart: tsp("2026-01-05T09:13:27Z"),
		Resolved: tsp("2026-01-05T09:51:02Z"), Entities: []string{"checkout"}, Where: "https://acme.atlassian.net/rest/api/2/issue/10101"}
	ops104 := pipeline.Ticket{ID: "OPS-104", Source: "jira", Title: "Cart and search slow", Body: "p99 over 2s",
		Status: "In Progress", Severity: "high", Type: "Incident", Created: *tsp("2026-01-06T21:42:10Z"), ImpactStart: tsp("2026-01-06T21:30:00Z"),
		Entities: []string{"cart", "search"}, Where: "https://acme.atlassian.net/rest/api/2/issue/10104"}
	ops105 := pipeline.Ticket{ID: "OPS-105", Source: "jira", Title: "Inventory stale reads", Body: "Entered by hand from the post-mortem",
		Status: "Done", Severity: "medium", Type: "Incident", Created: *tsp("2026-01-07T11:00:00Z"), ImpactStart: tsp("2026-01-07T10:00:00Z"),
		Resolved: tsp("2026-01-07T12:00:00Z"), Entities: []string{"inventory"}, Where: "https://acme.atlassian.net/rest/api/2/issue/10105"}

	tests := []struct {
		name     string
		cfg      Config
		limited  int
		status   int
		want     []pipeline.Ticket
		reasons  map[string]int64
		sleeps   []time.Duration
		requests int
		wantErr  string
	}{
		{
			name: "three pages by startAt/total, 429 retried, naive custom field rejected without zone",
			cfg:  base, limited: 1,
			want:     []pipeline.Ticket{ops101, ops104},
			reasons:  map[string]int64{"no_entities": 1, "naive_timestamp": 1, "resolved_before_impact_start": 1},
			sleeps:   []time.Duration{3 * time.Second},
			requests: 4,
		},
		{
			name: "naive custom field read in the source zone",
			cfg:  zoned,
			want: []pipeline.Ticket{ops101, ops104, ops105}, reasons: map[string]int64{"no_entities": 1, "resolved_before_impact_start": 1},
			requests: 3,
		},
		{
			name: "entities from labels with the service: prefix",
			cfg:  byLabels,
			want: []pipeline.Ticket{ops101}, reasons: map[string]int64{"no_entities": 2, "naive_timestamp": 1, "resolved_before_impact_start": 1},
			requests: 3,
		},
		{
			name: "bad JQL or field: Jira's message and a hint", cfg: base, status: http.StatusBadRequest,
			wantErr: `400 Bad Request "Field 'customfield_99999' does not exist`, requests: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OPSDATA_TEST_JIRA_TOKEN", "api-token")
			t.Setenv("OPSDATA_TEST_JIRA_USER", "oncall@acme.example")
			fake := &fakeJira{t: t, limited: tc.limited, status: tc.status}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			cfg := tc.cfg
			cfg.URL = srv.URL
			problems := &pipeline.Problems{}
			src, err := NewSource(cfg, problems)
			if err != nil {
				t.Fatal(err)
			}
			var sleeps []time.Duration
			src.Sleep = func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
			got, err := src.Tickets(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrHTTP) {
					t.Fatalf("err = %v, want ErrHTTP containing %q", err, tc.wantErr)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("tickets:\n got %+v\nwant %+v", got, tc.want)
				}
				if rep := problems.Report()["tickets:jira"]; !reflect.DeepEqual(rep.Reasons, tc.reasons) {
					t.Errorf("problems = %v, want %v (%v)", rep.Reasons, tc.reasons, rep.Examples)
				}
			}
			if !reflect.DeepEqual(sleeps, tc.sleeps) {
				t.Errorf("sleeps = %v, want %v", sleeps, tc.sleeps)
			}
			if len(fake.requests) != tc.requests {
				t.Fatalf("requests = %d, want %d", len(fake.requests), tc.requests)
			}
			r := fake.requests[0]
			q := r.URL.Query()
			if q.Get("jql") != cfg.JQL || q.Get("startAt") != "0" || q.Get("maxResults") != "2" || !strings.Contains(q.Get("fields"), "customfield_10050") {
				t.Errorf("first query = %v", q)
			}
			if u, p, ok := r.BasicAuth(); !ok || u != "oncall@acme.example" || p != "api-token" {
				t.Errorf("basic auth = %q %q %v", u, p, ok)
			}
		})
	}
}

func TestBearerAndErrors(t *testing.T) {
	t.Setenv("OPSDATA_TEST_PAT", "pat")
	t.Setenv("OPSDATA_EMPTY", "")
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		fmt.Fprint(w, `{"startAt":0,"maxResults":50,"total":0,"issues":[]}`)
	}))
	defer srv.Close()
	src, err := New(Config{Name: "dc", URL: srv.URL, JQL: "project = OPS", TokenEnv: "OPSDATA_TEST_PAT"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := src.Tickets(context.Background())
	if err != nil || len(got) != 0 || auth != "Bearer pat" {
		t.Errorf("got %v, %v, auth %q; want no tickets, bearer auth", got, err, auth)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Name: "x", URL: "jira.example", JQL: "a"}, "base URL"},
		{Config{Name: "x", URL: "https://j.example"}, "jql is required"},
		{Config{Name: "x", URL: "https://j.example", JQL: "a", TokenEnv: "OPSDATA_EMPTY"}, "OPSDATA_EMPTY"},
		{Config{Name: "x", URL: "https://j.example", JQL: "a", UserEnv: "OPSDATA_TEST_PAT"}, "needs token_env"},
	} {
		if _, err := New(tc.cfg, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
