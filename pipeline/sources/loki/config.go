package loki

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// Config is a loki log source's section of logs[].
type Config struct {
	// Name is the spec's name: key, set by the factory.
	Name string   `yaml:"-"`
	Loki Settings `yaml:"loki"`
	// Fields names the stream labels of entity and level (loki.entity_label
	// and loki.level_label win).
	Fields Fields `yaml:"fields"`
	// Entity fixes the entity for every entry of the source.
	Entity string `yaml:"entity"`
}

// Fields names stream labels.
type Fields struct {
	Entity string `yaml:"entity"`
	Level  string `yaml:"level"`
}

// Settings reads logs from Grafana Loki's query_range API (format loki).
type Settings struct {
	// URL is Loki's base URL, e.g. http://127.0.0.1:3100.
	URL string `yaml:"url"`
	// Query is a LogQL log selector such as {namespace="shop"} |= "".
	Query string `yaml:"query"`
	// Limit is the entries per request (default 5000, Loki's usual
	// max_entries_limit_per_query).
	Limit int `yaml:"limit"`
	// Chunk is the time span of one request (default 1h).
	Chunk spec.Duration `yaml:"chunk"`
	// TenantID is sent as X-Scope-OrgID for multi-tenant Loki.
	TenantID string `yaml:"tenant_id"`
	// TokenEnv names an environment variable holding a bearer token.
	TokenEnv string `yaml:"token_env"`
	// EntityLabel is the stream label naming the entity (default: the
	// source's fields.entity, else service, app, job).
	EntityLabel string `yaml:"entity_label"`
	// LevelLabel is the stream label holding the level (default: level,
	// detected_level, severity); without it the level is read from the line.
	LevelLabel string `yaml:"level_label"`
}

// Validate checks the section; keys are named relative to logs[i].
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("loki."+format, a...)) }
	k := c.Loki
	if k.URL == "" {
		add("url: required for format loki, e.g. http://127.0.0.1:3100")
	} else if u, err := url.Parse(k.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url: %q must be an http:// or https:// URL", k.URL)
	}
	q := strings.TrimSpace(k.Query)
	if q == "" {
		add("query: required: a LogQL log selector such as {job=\"app\"}")
	} else if !strings.HasPrefix(q, "{") {
		add("query: must start with a stream selector {label=\"value\"}")
	}
	if k.Limit < 0 {
		add("limit: %d must not be negative", k.Limit)
	}
	if time.Duration(k.Chunk) < 0 {
		add("chunk: must not be negative")
	}
	return errors.Join(errs...)
}

// Factory is the loki log source kind.
func Factory() pipeline.LogSourceFactory {
	return pipeline.LogSourceFactory{
		NewConfig: func() pipeline.Config { return &Config{} },
		New: func(name string, cfg pipeline.Config, problems *pipeline.Problems) (pipeline.LogSource, error) {
			c := *cfg.(*Config)
			c.Name = name
			return New(c, problems)
		},
	}
}
