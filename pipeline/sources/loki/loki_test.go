package loki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const query = `{namespace="shop"}`

// fakeLoki serves GET /loki/api/v1/query_range from the entries of a
// recorded response (testdata/store.json) with Loki's semantics: start
// inclusive, end exclusive, direction forward, the first limit entries in
// time order (ties by stream labels, then line), grouped into streams.
type fakeLoki struct {
	t       *testing.T
	entries []entry
	mu      sync.Mutex
	reqs    []string // "start end" per request
	// fail answers the request with this number (0-based) with a status
	// and body instead.
	fail map[int]failure
}

type failure struct {
	code int
	body string
}

func newFakeLoki(t *testing.T) *fakeLoki {
	t.Helper()
	data, err := os.ReadFile("testdata/store.json")
	if err != nil {
		t.Fatal(err)
	}
	var r response
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	f := &fakeLoki{t: t}
	for _, st := range r.Data.Result {
		for _, v := range st.Values {
			var ts, line string
			if err := json.Unmarshal(v[0], &ts); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(v[1], &line); err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.ParseInt(ts, 10, 64)
			f.entries = append(f.entries, entry{ts: n, stream: labels.FromMap(st.Stream).String(), labels: st.Stream, line: line})
		}
	}
	sort.Slice(f.entries, func(a, b int) bool {
		x, y := f.entries[a], f.entries[b]
		if x.ts != y.ts {
			return x.ts < y.ts
		}
		if x.stream != y.stream {
			return x.stream < y.stream
		}
		return x.line < y.line
	})
	return f
}

func (f *fakeLoki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := len(f.reqs)
	q := r.URL.Query()
	f.reqs = append(f.reqs, q.Get("start")+" "+q.Get("end"))
	fail, failing := f.fail[n]
	f.mu.Unlock()
	if failing {
		http.Error(w, fail.body, fail.code)
		return
	}
	bad := func(format string, a ...any) { http.Error(w, fmt.Sprintf(format, a...), http.StatusBadRequest) }
	switch {
	case r.URL.Path != "/loki/api/v1/query_range":
		http.NotFound(w, r)
		return
	case q.Get("query") != query:
		bad("parse error: unexpected query %q", q.Get("query"))
		return
	case q.Get("direction") != "forward":
		bad("direction %q", q.Get("direction"))
		return
	case r.Header.Get("X-Scope-OrgID") != "tenant-1":
		http.Error(w, "no org id", http.StatusUnauthorized)
		return
	}
	start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
	limit, err3 := strconv.Atoi(q.Get("limit"))
	if err1 != nil || err2 != nil || err3 != nil || limit <= 0 || end <= start {
		bad("invalid start, end or limit")
		return
	}
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][]string        `json:"values"`
	}
	var streams []*stream
	byName := map[string]*stream{}
	taken := 0
	for _, e := range f.entries {
		if e.ts < start || e.ts >= end || taken == limit {
			continue
		}
		taken++
		s := byName[e.stream]
		if s == nil {
			s = &stream{Stream: e.labels}
			byName[e.stream] = s
			streams = append(streams, s)
		}
		s.Values = append(s.Values, []string{strconv.FormatInt(e.ts, 10), e.line})
	}
	resp := map[string]any{"status": "success", "data": map[string]any{
		"resultType": "streams", "result": streams,
		"stats": map[string]any{"summary": map[string]any{"totalLinesProcessed": taken}},
	}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (f *fakeLoki) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func rec(r pipeline.LogRecord) string {
	return fmt.Sprintf("%s %s %s %s:%d %q", r.Time.Format(time.RFC3339Nano), r.Entity, r.Level, r.File, r.Line, r.Message)
}

var (
	from = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	to   = time.Date(2026, 1, 5, 14, 0, 0, 0, time.UTC)
)

const (
	checkout  = `{app="checkout", namespace="shop"}`
	cartError = `{app="cart", level="error", namespace="shop"}`
	cartInfo  = `{app="cart", level="info", namespace="shop"}`
)

// all is every record of the store in [from, to), in order.
var all = []string{
	`2026-01-05T10:00:00Z checkout info ` + checkout + `:1 "level=info msg=\"order placed\" id=1"`,
	`2026-01-05T10:15:00Z checkout warn ` + checkout + `:2 "2026-01-05 10:15:00 WARN slow request took 350ms"`,
	`2026-01-05T10:30:00.000000001Z cart error ` + cartError + `:1 "dial tcp 10.0.0.7:6379: connection refused"`,
	`2026-01-05T10:30:00.000000001Z cart info ` + cartInfo + `:1 "cache warmed"`,
	`2026-01-05T10:30:00.000000001Z cart info ` + cartInfo + `:2 "cache warmed again"`,
	`2026-01-05T10:30:00.000000001Z checkout info ` + checkout + `:3 "level=info msg=\"same ns checkout\""`,
	`2026-01-05T10:59:59.999999999Z cart error ` + cartError + `:2 "just before the chunk border"`,
	`2026-01-05T11:00:00Z checkout error ` + checkout + `:4 "{\"level\":\"error\",\"msg\":\"at the chunk border\"}"`,
	`2026-01-05T13:30:00Z checkout debug ` + checkout + `:5 "level=debug msg=\"after the empty chunk\""`,
}

func readAll(t *testing.T, src *Source, ctx context.Context, g pipeline.Grid) ([]string, error) {
	t.Helper()
	it, err := src.Open(ctx, g)
	if err != nil {
		return nil, err
	}
	var out []string
	for it.Next() {
		out = append(out, rec(it.At()))
	}
	if err := it.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	return out, it.Err()
}

func newTestSource(t *testing.T, url string, limit int, chunk time.Duration) (*Source, *pipeline.Problems) {
	t.Helper()
	problems := &pipeline.Problems{}
	src, err := newSource(Config{Name: "loki", Loki: Settings{
		URL: url, Query: query, Limit: limit, Chunk: spec.Duration(chunk), TenantID: "tenant-1",
	}}, problems)
	if err != nil {
		t.Fatal(err)
	}
	src.backoff = time.Millisecond
	return src, problems
}

func reasons(p *pipeline.Problems) map[string]int64 {
	out := map[string]int64{}
	for _, ip := range p.Report() {
		for r, n := range ip.Reasons {
			out[r] += n
		}
	}
	return out
}

// TestPagination reads the store with limits and chunk sizes that put page
// and chunk borders everywhere, including inside four entries sharing one
// nanosecond, and expects every entry exactly once.
func TestPagination(t *testing.T) {
	tests := []struct {
		name    string
		limit   int
		chunk   time.Duration
		want    []string
		reasons map[string]int64
		minReqs int
	}{
		{name: "one page per chunk", limit: 100, chunk: time.Hour, want: all, reasons: map[string]int64{"missing_entity": 1}, minReqs: 4},
		{name: "whole range in one chunk", limit: 100, chunk: 24 * time.Hour, want: all, reasons: map[string]int64{"missing_entity": 1}, minReqs: 1},
		// Page 1 ends with 3 of the 4 entries at 10:30:00.000000001; page 2
		// re-queries from that nanosecond and skips them.
		{name: "page border inside one nanosecond", limit: 5, chunk: time.Hour, want: all, reasons: map[string]int64{"missing_entity": 1}, minReqs: 6},
		{name: "limit 6, 30m chunks", limit: 6, chunk: 30 * time.Minute, want: all, reasons: map[string]int64{"missing_entity": 1}, minReqs: 8},
		// With limit 4 every entry is still read, but a full page of four
		// already-seen entries at one nanosecond cannot tell whether a
		// fifth exists: counted.
		{name: "limit equal to the entries at one ns", limit: 4, chunk: time.Hour, want: all, reasons: map[string]int64{"missing_entity": 1, reasonNsOverflow: 1}},
		// With limit 2, two of the four entries at one nanosecond are lost,
		// counted, never silently.
		{name: "more entries at one ns than the limit", limit: 2, chunk: time.Hour,
			// Which two survive depends on Loki's order within one ns (here
			// the fake's: stream labels); Line counts entries per stream.
			want: []string{all[0], all[1], all[2], all[3], all[6],
				strings.Replace(all[7], ":4 ", ":3 ", 1), strings.Replace(all[8], ":5 ", ":4 ", 1)},
			reasons: map[string]int64{"missing_entity": 1, reasonNsOverflow: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeLoki(t)
			srv := httptest.NewServer(fake)
			defer srv.Close()
			src, problems := newTestSource(t, srv.URL, tc.limit, tc.chunk)
			got, err := readAll(t, src, context.Background(), pipeline.Grid{Start: from, End: to, Step: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if r := reasons(problems); !reflect.DeepEqual(r, tc.reasons) {
				t.Errorf("problems %v, want %v", r, tc.reasons)
			}
			reqs := fake.requests()
			if len(reqs) < tc.minReqs {
				t.Errorf("%d requests, want at least %d: %v", len(reqs), tc.minReqs, reqs)
			}
			// No request leaves the export range.
			for _, r := range reqs {
				f := strings.Fields(r)
				s, _ := strconv.ParseInt(f[0], 10, 64)
				e, _ := strconv.ParseInt(f[1], 10, 64)
				if s < from.UnixNano() || e > to.UnixNano() {
					t.Errorf("request %s outside the range", r)
				}
			}
		})
	}
}

// TestErrors checks Loki's error answers: 4xx fails at once with Loki's
// message, 5xx is retried, and a source without a range fails clearly.
func TestErrors(t *testing.T) {
	const lokiMsg = "parse error at line 1, col 2: syntax error: unexpected IDENTIFIER, expecting STRING"
	tests := []struct {
		name     string
		fail     map[int]failure
		noRange  bool
		wantErr  string // "" : success with all records
		wantReqs int
	}{
		{name: "400 with Loki's message", fail: map[int]failure{0: {400, lokiMsg}}, wantErr: lokiMsg, wantReqs: 1},
		{name: "502 twice then success", fail: map[int]failure{0: {502, "bad gateway"}, 1: {503, "too many outstanding requests"}}, wantReqs: 6},
		{name: "429 then success", fail: map[int]failure{2: {429, "Ingestion rate limit exceeded"}}, wantReqs: 5},
		{name: "500 five times", fail: map[int]failure{0: {500, "x"}, 1: {500, "x"}, 2: {500, "x"}, 3: {500, "x"}, 4: {500, "internal: store unavailable"}}, wantErr: "store unavailable", wantReqs: 5},
		{name: "empty range", noRange: true, wantErr: "empty range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeLoki(t)
			fake.fail = tc.fail
			srv := httptest.NewServer(fake)
			defer srv.Close()
			src, _ := newTestSource(t, srv.URL, 100, time.Hour)
			g := pipeline.Grid{Start: from, End: to, Step: time.Minute}
			if tc.noRange {
				g = pipeline.Grid{Start: from, End: from, Step: time.Minute}
			}
			got, err := readAll(t, src, context.Background(), g)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if !tc.noRange && !errors.Is(err, ErrLoki) {
					t.Errorf("error %v is not ErrLoki", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, all) {
					t.Errorf("records:\n%s", strings.Join(got, "\n"))
				}
			}
			if n := len(fake.requests()); tc.wantReqs != 0 && n != tc.wantReqs {
				t.Errorf("%d requests, want %d", n, tc.wantReqs)
			}
		})
	}
}

// TestNew checks the factory's validation and label choices.
func TestNew(t *testing.T) {
	t.Setenv("LOKI_TEST_TOKEN", "")
	tests := []struct {
		name string
		cfg  Settings
		want string
	}{
		{"bad url", Settings{URL: "127.0.0.1:3100", Query: query}, "loki.url"},
		{"metric query", Settings{URL: "http://127.0.0.1:3100", Query: `rate({a="b"}[1m])`}, "loki.query"},
		{"empty token", Settings{URL: "http://127.0.0.1:3100", Query: query, TokenEnv: "LOKI_TEST_TOKEN"}, "LOKI_TEST_TOKEN"},
	}
	for _, tc := range tests {
		_, err := New(Config{Name: "l", Loki: tc.cfg}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestDetectLevel(t *testing.T) {
	for line, want := range map[string]string{
		`level=warn msg="x"`:                 "warn",
		`{"ts":1,"level":"error","msg":"x"}`: "error",
		`2026-01-05 10:00:00 INFO started`:   "INFO",
		`[ERROR] boom`:                       "ERROR",
		`nothing here`:                       "",
	} {
		if got := detectLevel(line); got != want {
			t.Errorf("detectLevel(%q) = %q, want %q", line, got, want)
		}
	}
}
