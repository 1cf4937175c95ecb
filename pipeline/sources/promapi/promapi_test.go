package promapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/internal/promtest"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

func TestChunks(t *testing.T) {
	for _, tc := range []struct {
		n, max int
		want   []chunk
	}{
		{0, 11000, nil},
		{1, 11000, []chunk{{0, 1}}},
		{11000, 11000, []chunk{{0, 11000}}},
		{11001, 11000, []chunk{{0, 11000}, {11000, 11001}}},
		{25000, 11000, []chunk{{0, 11000}, {11000, 22000}, {22000, 25000}}},
	} {
		got := chunks(tc.n, tc.max)
		if len(got) != len(tc.want) {
			t.Fatalf("chunks(%d): %v, want %v", tc.n, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] || got[i].hi-got[i].lo > tc.max {
				t.Fatalf("chunks(%d): %v, want %v", tc.n, got, tc.want)
			}
		}
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&v1.Error{Type: v1.ErrServer, Msg: "server error: 503"}, true},
		{&v1.Error{Type: v1.ErrTimeout, Msg: "query timed out"}, true},
		{&v1.Error{Type: v1.ErrBadResponse, Msg: "unexpected EOF"}, true},
		{&v1.Error{Type: v1.ErrClient, Msg: "client error: 429"}, true},
		{&v1.Error{Type: v1.ErrClient, Msg: "client error: 401"}, false},
		{&v1.Error{Type: v1.ErrBadData, Msg: "parse error"}, false},
		{&v1.Error{Type: v1.ErrExec, Msg: "too many samples"}, false},
		{errors.New("dial tcp: connection refused"), true},
		{context.Canceled, false},
		{permanent{errors.New("warning")}, false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestRetriesTransientErrors: a server that fails twice with 503 then
// answers is retried; the result arrives; an unreachable one gives up.
func TestRetriesTransientErrors(t *testing.T) {
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"service":"a"},"values":[[60,"1.5"],[120,"2.5"]]}]}}`))
	}))
	defer ts.Close()
	s, err := Open(Config{URL: ts.URL, Retries: 3})
	if err != nil {
		t.Fatal(err)
	}
	s.backoff = time.Millisecond
	grid := pipeline.Grid{Start: time.Unix(0, 0).UTC(), End: time.Unix(180, 0).UTC(), Step: time.Minute}
	var got []pipeline.FeatureSeries
	err = s.Evaluate(context.Background(), grid, spec.Feature{Name: "f", Expr: "x"}, func(fs pipeline.FeatureSeries) error {
		got = append(got, fs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(got) != 1 || got[0].Values[0] != 1.5 || got[0].Values[1] != 2.5 || !math.IsNaN(got[0].Values[2]) {
		t.Fatalf("calls %d, series %+v", calls.Load(), got)
	}

	ts.Close()
	err = s.Evaluate(context.Background(), grid, spec.Feature{Name: "f", Expr: "x"}, func(pipeline.FeatureSeries) error { return nil })
	if !errors.Is(err, ErrPrometheus) || !strings.Contains(err.Error(), "failed after 4 attempts") {
		t.Fatalf("unreachable server: %v", err)
	}
}

// TestRealPrometheus runs against Debian's real server (empty TSDB): a
// range longer than 11,000 steps is split and complete, a bad query fails
// at once with Prometheus's own message, label values come back.
func TestRealPrometheus(t *testing.T) {
	prom, _ := promtest.Require(t)
	srv := promtest.Start(t, prom, t.TempDir(), 5*time.Minute)
	s, err := Open(Config{URL: srv.URL, MaxConcurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// 10 days at 1m = 14,400 points: Prometheus refuses that in one call.
	grid := pipeline.Grid{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 1, 11, 0, 0, 0, 0, time.UTC), Step: time.Minute}
	var series []pipeline.FeatureSeries
	err = s.Evaluate(ctx, grid, spec.Feature{Name: "t", Expr: `label_replace(time(), "service", "x", "", "")`}, func(fs pipeline.FeatureSeries) error {
		series = append(series, fs)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "bad_data") {
		// time() is a scalar; label_replace needs a vector: bad_data, at once.
		t.Fatalf("want a bad_data error, got %v", err)
	}
	err = s.Evaluate(ctx, grid, spec.Feature{Name: "t", Expr: `vector(time())`}, func(fs pipeline.FeatureSeries) error {
		series = append(series, fs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 || len(series[0].Values) != grid.Len() {
		t.Fatalf("got %d series", len(series))
	}
	for i, v := range series[0].Values {
		// the value at window i is its end, in seconds (decision 0005)
		if want := float64(grid.At(i).Add(grid.Step).Unix()); v != want {
			t.Fatalf("window %d: %v, want %v", i, v, want)
		}
	}

	var calls atomic.Int32
	s.backoff = time.Second
	err = s.retry(ctx, func(ctx context.Context) error {
		calls.Add(1)
		_, _, _, err := s.api.Query(ctx, "sum(", time.Now())
		return err
	})
	if err == nil || calls.Load() != 1 {
		t.Fatalf("bad query: %v after %d calls", err, calls.Load())
	}
	for _, want := range []string{"bad_data", "parse error"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks Prometheus's own %q", err, want)
		}
	}

	if _, err := s.LabelValues(ctx, grid, "service"); err != nil {
		t.Fatalf("label values: %v", err)
	}
}
