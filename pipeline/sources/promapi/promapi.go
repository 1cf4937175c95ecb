// Package promapi is the live metric source: it evaluates the spec's PromQL
// features through a Prometheus-compatible HTTP API (Prometheus, Thanos
// Query) with client_golang's API client. It asks for exactly the
// timestamps the embedded source (promtsdb) evaluates at — the window ends,
// docs/decisions/0005 — so both give the same windows table.
package promapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"golang.org/x/sync/errgroup"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// MaxPoints is the most points one query_range call may return per series;
// Prometheus refuses more than 11,000 ("exceeded maximum resolution").
const MaxPoints = 11000

// ErrPrometheus marks every error that comes from the server or the
// connection to it, so callers can tell "Prometheus failed" apart.
var ErrPrometheus = errors.New("prometheus")

// Source evaluates features through the HTTP API.
type Source struct {
	url     string
	api     v1.API
	cfg     Config
	backoff time.Duration // first retry delay; doubles per attempt
	// lookback widens LabelValues' range as the embedded source does.
	lookback time.Duration
}

// Open connects to the server of p (Factory's New; tests call it directly).
func Open(p Config) (*Source, error) {
	p = p.WithEnv()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("metrics.prometheus: %w", err)
	}
	rt, err := RoundTripper(p)
	if err != nil {
		return nil, err
	}
	c, err := api.NewClient(api.Config{Address: p.URL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("metrics.prometheus.url %q: %w", p.URL, err)
	}
	return &Source{url: p.URL, api: v1.NewAPI(c), cfg: p, backoff: 500 * time.Millisecond, lookback: spec.DefaultLookback}, nil
}

// HTTPClientConfig translates the spec's connection settings to Prometheus's
// own HTTP client configuration (prometheus/common/config), which does the
// bearer token, basic auth, file-based secrets and TLS.
func HTTPClientConfig(p Config) config.HTTPClientConfig {
	p = p.WithEnv()
	hc := config.DefaultHTTPClientConfig
	hc.BearerToken = config.Secret(p.BearerToken)
	hc.BearerTokenFile = p.BearerTokenFile
	if p.BasicAuth.Username != "" {
		hc.BasicAuth = &config.BasicAuth{
			Username:     p.BasicAuth.Username,
			Password:     config.Secret(p.BasicAuth.Password),
			PasswordFile: p.BasicAuth.PasswordFile,
		}
	}
	hc.TLSConfig = config.TLSConfig{CAFile: p.CAFile, InsecureSkipVerify: p.InsecureSkipVerify}
	return hc
}

// RoundTripper is the authenticated, TLS-configured transport for p.
func RoundTripper(p Config) (http.RoundTripper, error) {
	hc := HTTPClientConfig(p)
	if err := hc.Validate(); err != nil {
		return nil, fmt.Errorf("metrics.prometheus: %w", err)
	}
	rt, err := config.NewRoundTripperFromConfig(hc, "opsdata", config.WithUserAgent("opsdata"))
	if err != nil {
		return nil, fmt.Errorf("metrics.prometheus (ca_file, bearer_token_file, basic_auth.password_file): %w", err)
	}
	return rt, nil
}

// chunk is one query_range call: points [lo, hi) of the feature's steps.
type chunk struct{ lo, hi int }

// chunks splits n points into calls of at most max points.
func chunks(n, max int) []chunk {
	var out []chunk
	for lo := 0; lo < n; lo += max {
		out = append(out, chunk{lo, min(n, lo+max)})
	}
	return out
}

// Evaluate runs feature as range queries whose steps are the window ends
// grid.Start+step … grid.End (the embedded source's timestamps), split so
// that no call returns more than MaxPoints points per series, at most
// max_concurrency calls at a time. Series are merged by label set and
// emitted sorted by labels.
func (s *Source) Evaluate(ctx context.Context, grid pipeline.Grid, feature spec.Feature, emit func(pipeline.FeatureSeries) error) error {
	n := grid.Len()
	if n == 0 {
		return nil
	}
	first := grid.Start.Add(grid.Step)
	firstMs, stepMs := first.UnixMilli(), grid.Step.Milliseconds()
	cs := chunks(n, MaxPoints)

	var mu sync.Mutex
	series := map[string]*pipeline.FeatureSeries{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.MaxConcurrency)
	for _, c := range cs {
		g.Go(func() error {
			r := v1.Range{
				Start: first.Add(time.Duration(c.lo) * grid.Step),
				End:   first.Add(time.Duration(c.hi-1) * grid.Step),
				Step:  grid.Step,
			}
			var val model.Value
			err := s.retry(gctx, func(ctx context.Context) error {
				v, warns, _, err := s.api.QueryRange(ctx, feature.Expr, r, v1.WithTimeout(time.Duration(s.cfg.Timeout)))
				if err != nil {
					return err
				}
				for _, w := range warns {
					if strings.HasPrefix(w, "PromQL warning") {
						return permanent{fmt.Errorf("warning: %s", w)}
					}
				}
				val = v
				return nil
			})
			if err != nil {
				return fmt.Errorf("feature %s (%s) at %s..%s: %w", feature.Name, feature.Expr,
					r.Start.UTC().Format(time.RFC3339), r.End.UTC().Format(time.RFC3339), err)
			}
			var matrix model.Matrix
			switch v := val.(type) {
			case model.Matrix:
				matrix = v
			case *model.Scalar: // not returned by query_range, but be lenient
				matrix = model.Matrix{{Values: []model.SamplePair{{Timestamp: v.Timestamp, Value: v.Value}}}}
			default:
				return fmt.Errorf("feature %s: %w %s: unexpected result type %s", feature.Name, ErrPrometheus, s.url, val.Type())
			}
			mu.Lock()
			defer mu.Unlock()
			for _, ss := range matrix {
				if len(ss.Histograms) > 0 {
					return fmt.Errorf("feature %s: returns native histograms for %s; features must be floats (use histogram_quantile or histogram_count)", feature.Name, ss.Metric)
				}
				lset := toLabels(ss.Metric)
				key := string(lset.Bytes(nil))
				fs, ok := series[key]
				if !ok {
					fs = pipeline.NewFeatureSeries(feature.Name, lset, n)
					series[key] = fs
				}
				for _, p := range ss.Values {
					idx := (int64(p.Timestamp) - firstMs) / stepMs
					if idx >= 0 && idx < int64(n) {
						fs.Values[idx] = float64(p.Value)
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return pipeline.EmitSorted(series, emit)
}

// LabelValues lists the label's values over the grid's range plus the
// lookback before it, via /api/v1/label/<name>/values (supported by Thanos
// Query as well).
func (s *Source) LabelValues(ctx context.Context, grid pipeline.Grid, name string) ([]string, error) {
	var vals model.LabelValues
	err := s.retry(ctx, func(ctx context.Context) error {
		v, _, _, err := s.api.LabelValues(ctx, name, nil, grid.Start.Add(-s.lookback), grid.End)
		vals = v
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("values of label %s: %w", name, err)
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		out = append(out, string(v))
	}
	sort.Strings(out)
	return out, nil
}

// Close releases nothing: the HTTP client holds no resources worth closing.
func (s *Source) Close() error { return nil }

// permanent marks an error that retrying cannot fix.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Retryable tells transient failures (5xx, server-side timeouts, refused or
// reset connections, truncated responses, 429) from permanent ones (400
// bad_data, 422 execution errors, 401/403/404).
func Retryable(err error) bool {
	var p permanent
	if errors.As(err, &p) {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var apiErr *v1.Error
	if errors.As(err, &apiErr) {
		switch apiErr.Type {
		case v1.ErrServer, v1.ErrTimeout, v1.ErrBadResponse:
			return true
		case v1.ErrClient:
			return strings.Contains(apiErr.Msg, "429")
		default: // bad_data, execution, canceled
			return false
		}
	}
	return true // connection errors, per-request deadline exceeded
}

// retry calls f until it succeeds, fails permanently or the retries are
// used up, sleeping with exponential backoff between attempts. Errors are
// wrapped with ErrPrometheus, the server URL and, for API errors,
// Prometheus's own message.
func (s *Source) retry(ctx context.Context, f func(context.Context) error) error {
	delay := s.backoff
	var err error
	attempts := s.cfg.Retries + 1
	for a := 1; a <= attempts; a++ {
		err = f(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !Retryable(err) {
			return fmt.Errorf("%w %s: %s", ErrPrometheus, s.url, describe(err))
		}
		if a == attempts {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 30*time.Second)
	}
	return fmt.Errorf("%w %s failed after %d attempts (is it running and reachable? check metrics.prometheus.url): %s", ErrPrometheus, s.url, attempts, describe(err))
}

// describe renders an API error with Prometheus's own message and type.
func describe(err error) string {
	var apiErr *v1.Error
	if errors.As(err, &apiErr) {
		msg := fmt.Sprintf("%s: %s", apiErr.Type, apiErr.Msg)
		if d := strings.TrimSpace(apiErr.Detail); d != "" {
			if len(d) > 300 {
				d = d[:300] + "…"
			}
			msg += ": " + d
		}
		return msg
	}
	return err.Error()
}

func toLabels(m model.Metric) labels.Labels {
	b := labels.NewScratchBuilder(len(m))
	for k, v := range m {
		b.Add(string(k), string(v))
	}
	b.Sort()
	return b.Labels()
}

// Queryable is nil: a live server has no local storage to hand to the rule
// labelers (its factory is not Queryable).
func (s *Source) Queryable() storage.Queryable { return nil }
