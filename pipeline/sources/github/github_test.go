package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func tsp(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

var now = time.Date(2026, 1, 9, 12, 0, 0, 0, time.UTC)

// fakeGitHub serves testdata/issues_page{1,2,3}.json the way api.github.com
// does: Link headers between pages, the last request of the budget on page
// 1 (X-RateLimit-Remaining: 0 with a reset 30s ahead), and a secondary rate
// limit (429 with Retry-After: 7) the first `limited` times page 2 is asked.
type fakeGitHub struct {
	t       *testing.T
	limited int
	status  int // if set, every answer has this status

	mu       sync.Mutex
	requests []string
	auth     []string
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.URL.RequestURI())
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	if r.URL.Path != "/api/v3/repos/acme/ops/issues" {
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		fmt.Fprint(w, `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`)
		return
	}
	page := r.URL.Query().Get("page")
	if page == "" {
		page = "1"
	}
	q := r.URL.Query()
	link := func(p int, rel string) string {
		q.Set("page", strconv.Itoa(p))
		return fmt.Sprintf(`<http://%s%s?%s>; rel="%s"`, r.Host, r.URL.Path, q.Encode(), rel)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(30*time.Second).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	switch page {
	case "1":
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("Link", link(2, "next")+", "+link(3, "last"))
	case "2":
		if f.limited > 0 {
			f.limited--
			h.Set("Retry-After", "7")
			h.Set("X-RateLimit-Remaining", "4999")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"message":"You have exceeded a secondary rate limit."}`)
			return
		}
		h.Set("X-RateLimit-Remaining", "4998")
		h.Set("Link", link(1, "prev")+", "+link(3, "next")+", "+link(3, "last")+", "+link(1, "first"))
	case "3":
		h.Set("X-RateLimit-Remaining", "4997")
		h.Set("Link", link(2, "prev")+", "+link(1, "first"))
	default:
		f.t.Errorf("unexpected page %q", page)
	}
	b, err := os.ReadFile("testdata/issues_page" + page + ".json")
	if err != nil {
		f.t.Error(err)
	}
	w.Write(b)
}

func TestTickets(t *testing.T) {
	base := Config{Name: "gh", Repo: "acme/ops", Labels: []string{"incident"},
		Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), TokenEnv: "OPSDATA_TEST_GH_TOKEN"}
	withZone := base
	withZone.Timezone = "Europe/Berlin"
	withZone.Fields.Resolved = "Impact end"

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
			name: "three pages, PR skipped, issue without labels counted, naive body times in the source zone",
			cfg:  withZone, limited: 1,
			want: []pipeline.Ticket{
				{ID: "acme/ops#12", Source: "gh", Title: "Checkout returns 502 for all users", Body: "Impact start: 2026-01-05T09:13:27Z\n\nPayments failing after deploy.",
					Status: "closed", Severity: "critical", Type: "outage", Created: *tsp("2026-01-05T09:20:00Z"), ImpactStart: tsp("2026-01-05T09:13:27Z"),
					Resolved: tsp("2026-01-05T09:51:02Z"), Entities: []string{"checkout"}, Where: "https://github.com/acme/ops/issues/12"},
				{ID: "acme/ops#15", Source: "gh", Title: "Search latency p99 over 2s", Body: "### Impact start\n\n2026-01-06T21:30:00Z\n\n### Impact end\n\n_No response_\n\n### What happened\n\nSlow queries.",
					Status: "open", Severity: "major", Created: *tsp("2026-01-06T21:42:10Z"), ImpactStart: tsp("2026-01-06T21:30:00Z"),
					Entities: []string{"search", "cart"}, Where: "https://github.com/acme/ops/issues/15"},
				// Berlin is UTC+1 in January; the body's end overrides closed_at.
				{ID: "acme/ops#18", Source: "gh", Title: "Cart errors in EU", Body: "**Impact start:** 2026-01-08 10:01:00\n**Impact end:** 2026-01-08 10:40:00",
					Status: "closed", Severity: "minor", Created: *tsp("2026-01-08T10:05:00Z"), ImpactStart: tsp("2026-01-08T09:01:00Z"),
					Resolved: tsp("2026-01-08T09:40:00Z"), Entities: []string{"cart"}, Where: "https://github.com/acme/ops/issues/18"},
			},
			reasons:  map[string]int64{"no_entities": 1},
			sleeps:   []time.Duration{31 * time.Second, 7 * time.Second},
			requests: 4,
		},
		{
			name:     "naive body time without a zone is a counted problem",
			cfg:      base,
			want:     nil, // checked by count below
			reasons:  map[string]int64{"no_entities": 1, "naive_timestamp": 1},
			sleeps:   []time.Duration{31 * time.Second},
			requests: 3,
		},
		{
			name: "rate limit that never lifts fails after MaxRetries", cfg: base, limited: 100,
			sleeps:  []time.Duration{31 * time.Second, 7 * time.Second, 7 * time.Second, 7 * time.Second, 7 * time.Second, 7 * time.Second},
			wantErr: "page 2: GET", requests: 2 + MaxRetries,
		},
		{
			name: "bad credentials say what to check", cfg: base, status: http.StatusUnauthorized,
			wantErr: `401 Unauthorized "Bad credentials" (check the token in token_env)`, requests: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OPSDATA_TEST_GH_TOKEN", "ghp_test123")
			fake := &fakeGitHub{t: t, limited: tc.limited, status: tc.status}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			cfg := tc.cfg
			cfg.URL = srv.URL + "/api/v3"
			problems := &pipeline.Problems{}
			src, err := NewSource(cfg, problems)
			if err != nil {
				t.Fatal(err)
			}
			var sleeps []time.Duration
			src.Sleep = func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
			src.Now = func() time.Time { return now }
			got, err := src.Tickets(context.Background())
			if tc.wantErr != "" {
				if err == nil || !contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrHTTP) {
					t.Fatalf("err = %v, want ErrHTTP containing %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tickets:\n got %+v\nwant %+v", got, tc.want)
			}
			if tc.wantErr == "" && tc.want == nil && len(got) != 2 {
				t.Errorf("got %d tickets, want 2", len(got))
			}
			if !reflect.DeepEqual(sleeps, tc.sleeps) {
				t.Errorf("sleeps = %v, want %v", sleeps, tc.sleeps)
			}
			if len(fake.requests) != tc.requests {
				t.Errorf("requests = %d %v, want %d", len(fake.requests), fake.requests, tc.requests)
			}
			first := fake.requests[0]
			for _, want := range []string{"state=all", "labels=incident", "since=2026-01-01T00%3A00%3A00Z", "per_page=100"} {
				if !contains(first, want) {
					t.Errorf("first request %s lacks %s", first, want)
				}
			}
			for _, a := range fake.auth {
				if a != "Bearer ghp_test123" {
					t.Errorf("Authorization = %q", a)
				}
			}
			rep := problems.Report()["tickets:gh"]
			if tc.reasons == nil {
				tc.reasons = map[string]int64{}
			}
			if rep.Reasons == nil {
				rep.Reasons = map[string]int64{}
			}
			if tc.wantErr == "" && !reflect.DeepEqual(rep.Reasons, tc.reasons) {
				t.Errorf("problems = %v, want %v (examples %v)", rep.Reasons, tc.reasons, rep.Examples)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestWaitBoundedByContext(t *testing.T) {
	fake := &fakeGitHub{t: t}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	src, err := NewSource(Config{Name: "gh", Repo: "acme/ops", URL: srv.URL + "/api/v3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// page 1 spends the budget; the real Sleep waits for the reset (30s
	// ahead of the real clock here) unless ctx ends first.
	src.Now = func() time.Time { return now.Add(-time.Hour) }
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = src.Tickets(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct{ header, want string }{
		{`<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last"`, "https://api.github.com/repositories/1/issues?page=2"},
		{`<https://x/issues?page=1>; rel="prev", <https://x/issues?page=3>; rel="next"`, "https://x/issues?page=3"},
		{`<https://x/issues?page=1>; rel="first", <https://x/issues?page=4>; rel="prev"`, ""},
		{`<https://x/a?b=1,2>; rel="last next"`, "https://x/a?b=1,2"},
		{``, ""},
		{`garbage`, ""},
	}
	for _, tc := range tests {
		if got := nextLink(tc.header); got != tc.want {
			t.Errorf("nextLink(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	t.Setenv("OPSDATA_EMPTY_TOKEN", "")
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"repo", Config{Name: "x", Repo: "acme"}, "OWNER/NAME"},
		{"url", Config{Name: "x", Repo: "a/b", URL: "ftp://h"}, "http(s) URL"},
		{"token env empty", Config{Name: "x", Repo: "a/b", TokenEnv: "OPSDATA_EMPTY_TOKEN"}, "OPSDATA_EMPTY_TOKEN"},
		{"zone", Config{Name: "x", Repo: "a/b", Timezone: "Mars/Base"}, "timezone"},
	}
	for _, tc := range tests {
		if _, err := NewSource(tc.cfg, nil); err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestBodyField(t *testing.T) {
	tests := []struct{ body, key, want string }{
		{"Impact start: 2026-01-05T09:13:27Z", "Impact start", "2026-01-05T09:13:27Z"},
		{"x\n- **impact START**: 2026-01-05 09:00\n", "Impact start", "2026-01-05 09:00"},
		{"### Impact start\r\n\r\n2026-01-05T09:13:27Z\r\n", "Impact start", "2026-01-05T09:13:27Z"},
		{"nothing here", "Impact start", ""},
	}
	for _, tc := range tests {
		if got, _ := BodyField(tc.body, tc.key); got != tc.want {
			t.Errorf("BodyField(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}
