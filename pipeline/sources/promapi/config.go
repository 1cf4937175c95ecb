package promapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
	"github.com/prometheus/prometheus/storage"
)

// Config is a live Prometheus-compatible HTTP API (Prometheus
// itself, Thanos Query, or anything serving /api/v1/query_range and
// /api/v1/label/<name>/values). Secrets may come from the environment
// instead of the spec; see docs/spec.md.
type Config struct {
	URL                string        `yaml:"url"`               // e.g. http://127.0.0.1:9090 or https://thanos-query.example:10902
	BearerToken        string        `yaml:"bearer_token"`      // env OPSDATA_PROM_BEARER_TOKEN
	BearerTokenFile    string        `yaml:"bearer_token_file"` // env OPSDATA_PROM_BEARER_TOKEN_FILE
	BasicAuth          BasicAuth     `yaml:"basic_auth"`
	CAFile             string        `yaml:"ca_file"` // env OPSDATA_PROM_CA_FILE
	InsecureSkipVerify bool          `yaml:"insecure_skip_verify"`
	Timeout            spec.Duration `yaml:"timeout"`         // per request, default 2m
	MaxConcurrency     int           `yaml:"max_concurrency"` // parallel requests, default 4
	Retries            int           `yaml:"retries"`         // retries after the first attempt, default 4; -1 for none
}

// BasicAuth is HTTP basic authentication. Username falls back to
// OPSDATA_PROM_USERNAME, password to OPSDATA_PROM_PASSWORD and password_file
// to OPSDATA_PROM_PASSWORD_FILE.
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// Environment variables the prometheus source reads when the spec leaves
// the corresponding key empty (secrets belong in the environment).
const (
	EnvPromURL             = "OPSDATA_PROM_URL"
	EnvPromBearerToken     = "OPSDATA_PROM_BEARER_TOKEN"
	EnvPromBearerTokenFile = "OPSDATA_PROM_BEARER_TOKEN_FILE"
	EnvPromUsername        = "OPSDATA_PROM_USERNAME"
	EnvPromPassword        = "OPSDATA_PROM_PASSWORD"
	EnvPromPasswordFile    = "OPSDATA_PROM_PASSWORD_FILE"
	EnvPromCAFile          = "OPSDATA_PROM_CA_FILE"
)

// Defaults of the prometheus source.
const (
	DefaultPromTimeout     = 2 * time.Minute
	DefaultPromConcurrency = 4
	DefaultPromRetries     = 4
)

// WithEnv returns p with empty keys filled from the environment and the
// defaults applied. It never overrides what the spec sets.
func (p Config) WithEnv() Config {
	fill := func(dst *string, env string) {
		if *dst == "" {
			*dst = os.Getenv(env)
		}
	}
	fill(&p.URL, EnvPromURL)
	if p.BasicAuth.Username == "" && p.BearerToken == "" && p.BearerTokenFile == "" {
		fill(&p.BearerToken, EnvPromBearerToken)
		fill(&p.BearerTokenFile, EnvPromBearerTokenFile)
	}
	if p.BearerToken == "" && p.BearerTokenFile == "" {
		fill(&p.BasicAuth.Username, EnvPromUsername)
		if p.BasicAuth.Password == "" && p.BasicAuth.PasswordFile == "" {
			fill(&p.BasicAuth.Password, EnvPromPassword)
			fill(&p.BasicAuth.PasswordFile, EnvPromPasswordFile)
		}
	}
	fill(&p.CAFile, EnvPromCAFile)
	if p.Timeout == 0 {
		p.Timeout = spec.Duration(DefaultPromTimeout)
	}
	if p.MaxConcurrency == 0 {
		p.MaxConcurrency = DefaultPromConcurrency
	}
	if p.Retries == 0 {
		p.Retries = DefaultPromRetries
	} else if p.Retries < 0 {
		p.Retries = 0
	}
	return p
}

// Validate checks the source after the environment has been applied and
// returns one message per problem, each naming its key.
func (p Config) problems() []string {
	p = p.WithEnv()
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if p.URL == "" {
		add("url: required for the prometheus source (or set %s)", EnvPromURL)
	} else if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url: %q must be http://HOST:PORT or https://HOST:PORT[/path]", p.URL)
	}
	if p.BearerToken != "" && p.BearerTokenFile != "" {
		add("bearer_token and bearer_token_file are mutually exclusive")
	}
	if (p.BearerToken != "" || p.BearerTokenFile != "") && p.BasicAuth.Username != "" {
		add("bearer token and basic_auth are mutually exclusive")
	}
	if p.BasicAuth.Password != "" && p.BasicAuth.PasswordFile != "" {
		add("basic_auth: password and password_file are mutually exclusive")
	}
	if (p.BasicAuth.Password != "" || p.BasicAuth.PasswordFile != "") && p.BasicAuth.Username == "" {
		add("basic_auth.username: required with a password")
	}
	if p.Timeout < 0 {
		add("timeout: must be positive")
	}
	if p.MaxConcurrency < 0 || p.MaxConcurrency > 64 {
		add("max_concurrency: %d out of range 1..64", p.MaxConcurrency)
	}
	if p.Retries > 20 {
		add("retries: %d is above 20", p.Retries)
	}
	return errs
}

// Validate checks the section (with the environment applied); keys are
// named relative to metrics.prometheus.
func (p *Config) Validate() error {
	if errs := p.problems(); len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Factory is the prometheus metric source kind: features by query_range
// against a live Prometheus or Thanos, raw samples by remote read. It has
// no local storage for rule labelers.
func Factory() pipeline.MetricSourceFactory {
	return pipeline.MetricSourceFactory{
		Section:   "prometheus",
		NewConfig: func() pipeline.Config { return &Config{} },
		New: func(_ context.Context, m spec.Metrics, cfg pipeline.Config, _ *pipeline.Problems) (pipeline.MetricSource, error) {
			s, err := Open(*cfg.(*Config))
			if err != nil {
				return nil, err
			}
			if m.LookbackDelta > 0 {
				s.lookback = time.Duration(m.LookbackDelta)
			}
			return s, nil
		},
		OpenRaw: func(ctx context.Context, cfg pipeline.Config, from, to time.Time) (storage.Querier, func(), error) {
			p := cfg.(*Config).WithEnv()
			q, err := OpenRemoteRead(ctx, p.URL, HTTPClientConfig(p), time.Duration(p.Timeout), from, to)
			if err != nil {
				return nil, nil, err
			}
			return q, func() { q.Close() }, nil
		},
	}
}
