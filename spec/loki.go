package spec

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// LokiSource reads logs from Grafana Loki's query_range API (format loki).
type LokiSource struct {
	// URL is Loki's base URL, e.g. http://127.0.0.1:3100.
	URL string `yaml:"url"`
	// Query is a LogQL log selector such as {namespace="shop"} |= "".
	Query string `yaml:"query"`
	// Limit is the entries per request (default 5000, Loki's usual
	// max_entries_limit_per_query).
	Limit int `yaml:"limit"`
	// Chunk is the time span of one request (default 1h).
	Chunk Duration `yaml:"chunk"`
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

// validateLoki checks logs[i].loki for format loki.
func validateLoki(path string, i int, l LogSource) []string {
	var errs []string
	add := func(format string, a ...any) {
		errs = append(errs, path+": "+fmt.Sprintf("logs[%d] (%s).loki.", i, l.Name)+fmt.Sprintf(format, a...))
	}
	k := l.Loki
	if l.Format != "loki" {
		if k != (LokiSource{}) {
			errs = append(errs, path+": "+fmt.Sprintf("logs[%d] (%s).loki: only for format loki", i, l.Name))
		}
		return errs
	}
	if k.URL == "" {
		add("url: required for format loki, e.g. http://127.0.0.1:3100")
	} else if u, err := url.Parse(k.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url: %q must be an http:// or https:// URL", k.URL)
	}
	q := strings.TrimSpace(k.Query)
	if q == "" {
		add("query: required: a LogQL log selector such as {job=\"app\"}")
	} else if !strings.HasPrefix(q, "{") {
		add("query: %q must start with a stream selector {label=\"value\"}", k.Query)
	}
	if k.Limit < 0 {
		add("limit: %d must not be negative", k.Limit)
	}
	if time.Duration(k.Chunk) < 0 {
		add("chunk: must not be negative")
	}
	if l.Path != "" {
		errs = append(errs, path+": "+fmt.Sprintf("logs[%d] (%s).path: not used by format loki (remove it)", i, l.Name))
	}
	return errs
}
