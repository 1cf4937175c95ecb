// Package restclient is the HTTP GET loop the REST ticket sources (github,
// jira) share: one request with the source's headers, the body read whole
// (bounded), and rate-limited answers retried after the wait the source
// reads from the headers, with the wait bounded by ctx.
package restclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// MaxBody bounds the bytes read from one answer.
const MaxBody = 64 << 20

// Response is one answer, its body read whole.
type Response struct {
	URL        string
	Status     string
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Decode unmarshals the JSON body into v; what names the expected payload
// in the error ("a JSON array of issues").
func (r *Response) Decode(v any, what string) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("GET %s: not %s: %w", r.URL, what, err)
	}
	return nil
}

// Getter does GETs with retries.
type Getter struct {
	// Client does the requests.
	Client *http.Client
	// Sleep waits d or until ctx ends (Sleep in this package, or a test's).
	Sleep func(ctx context.Context, d time.Duration) error
	// Header sets the source's headers (Accept, authorization) on a request.
	Header func(*http.Request)
	// Retry says whether a non-200 answer is to be retried and after what
	// wait; it is asked at most MaxRetries times per Get.
	Retry func(*Response) (time.Duration, bool)
	// MaxRetries bounds the retries of one Get.
	MaxRetries int
}

// Get fetches u, retrying while Retry asks to. It returns the first 200
// answer or the last other answer (the caller turns it into its error); err
// is for transport failures and a wait cut short by ctx.
func (g Getter) Get(ctx context.Context, u string) (*Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		if g.Header != nil {
			g.Header(req)
		}
		resp, err := g.Client.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", u, err)
		}
		r := &Response{URL: u, Status: resp.Status, StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
		if r.StatusCode == http.StatusOK || attempt >= g.MaxRetries || g.Retry == nil {
			return r, nil
		}
		wait, retry := g.Retry(r)
		if !retry {
			return r, nil
		}
		if err := g.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("rate limited; waiting %s: %w", wait, err)
		}
	}
}

// Sleep waits d or until ctx ends, returning ctx's error then.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
