package restclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGet(t *testing.T) {
	tests := []struct {
		name       string
		failFirst  int // answers 429 this many times, then 200
		maxRetries int
		wantStatus int
		wantSleeps int
	}{
		{"ok at once", 0, 3, http.StatusOK, 0},
		{"retried then ok", 2, 3, http.StatusOK, 2},
		{"retries exhausted: last answer returned", 5, 2, http.StatusTooManyRequests, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			left := tc.failFirst
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Test") != "yes" {
					t.Errorf("header not set")
				}
				if left > 0 {
					left--
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				fmt.Fprint(w, `{"n":1}`)
			}))
			defer srv.Close()
			var sleeps int
			g := Getter{Client: srv.Client(), MaxRetries: tc.maxRetries,
				Sleep:  func(context.Context, time.Duration) error { sleeps++; return nil },
				Header: func(r *http.Request) { r.Header.Set("X-Test", "yes") },
				Retry: func(r *Response) (time.Duration, bool) {
					return time.Second, r.StatusCode == http.StatusTooManyRequests
				},
			}
			r, err := g.Get(context.Background(), srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode != tc.wantStatus || sleeps != tc.wantSleeps {
				t.Errorf("status %d sleeps %d, want %d %d", r.StatusCode, sleeps, tc.wantStatus, tc.wantSleeps)
			}
			if r.StatusCode == http.StatusOK {
				var v struct{ N int }
				if err := r.Decode(&v, "a number"); err != nil || v.N != 1 {
					t.Errorf("Decode = %v, %+v", err, v)
				}
			}
		})
	}
}

func TestDecodeErrorSaysWhat(t *testing.T) {
	r := &Response{URL: "http://x/y", Body: []byte("<html>")}
	var v []int
	if err := r.Decode(&v, "a JSON array of issues"); err == nil || !strings.Contains(err.Error(), "GET http://x/y: not a JSON array of issues") {
		t.Errorf("err = %v", err)
	}
}

func TestSleepBoundedByContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Sleep = %v, want DeadlineExceeded", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v", err)
	}
}
