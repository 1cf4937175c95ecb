package ticketfile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// Fields maps a ticket's fields onto opsdata's ticket model.
type Fields struct {
	ID          string `yaml:"id"`
	Title       string `yaml:"title"`
	Body        string `yaml:"body"`
	Status      string `yaml:"status"`
	Created     string `yaml:"created"`
	ImpactStart string `yaml:"impact_start"`
	Resolved    string `yaml:"resolved"`
	Severity    string `yaml:"severity"`
	Entities    string `yaml:"entities"`
	Type        string `yaml:"type"`
	// Timezone names the field holding a ticket's IANA zone for its naive timestamps.
	Timezone string `yaml:"timezone"`
}

// Mapping says how the labels of a GitHub issue or the labels and
// components of a Jira issue map onto opsdata's ticket model. It lives
// under `mapping:` of a ticket source (format github or jira); the time
// fields use `fields:` (Fields):
//
//	GitHub (format github)
//	  id        "<repo>#<number>" (fixed)
//	  created   created_at; resolved: closed_at, or the body field named by
//	            fields.resolved (e.g. "Impact end") when the issue has it
//	  impact_start  the body field named by fields.impact_start (default
//	            "Impact start"): a line "Impact start: 2026-01-05T09:13:27Z"
//	            (issue forms render "### Impact start" followed by the value;
//	            both are read)
//	  status    state (open, closed)
//	  severity  the label with mapping.severity_prefix (default "severity:")
//	  type      the label with mapping.type_prefix (default "type:")
//	  entities  every label with one of mapping.entity_prefixes (default
//	            ["service:"]), prefix removed
//
//	Jira (format jira)
//	  id        the issue key; title: summary; body: description
//	  created   created; resolved: fields.resolved (default resolutiondate)
//	  impact_start  fields.impact_start, a custom field id (customfield_10050)
//	  status    status.name; severity: fields.severity (default priority,
//	            its name, lower-cased); type: issuetype.name
//	  entities  mapping.entities_from: components (default: their names) or
//	            labels (those with an entity prefix, or all when
//	            entity_prefixes is empty)
type Mapping struct {
	SeverityPrefix string   `yaml:"severity_prefix"`
	TypePrefix     string   `yaml:"type_prefix"`
	EntityPrefixes []string `yaml:"entity_prefixes"`
	// EntitiesFrom (jira): components or labels.
	EntitiesFrom string `yaml:"entities_from"`
	// PageSize is the page size asked for (github ≤100, jira ≤1000; default 100).
	PageSize int `yaml:"page_size"`
}

// Defaults of Mapping.
const (
	DefaultSeverityPrefix  = "severity:"
	DefaultTypePrefix      = "type:"
	DefaultEntityPrefix    = "service:"
	DefaultImpactStartBody = "Impact start"
	DefaultGitHubURL       = "https://api.github.com"
	DefaultGitHubTokenEnv  = "GITHUB_TOKEN"
	DefaultPageSize        = 100
)

// WithDefaults fills the unset mapping keys.
func (m Mapping) WithDefaults() Mapping {
	if m.SeverityPrefix == "" {
		m.SeverityPrefix = DefaultSeverityPrefix
	}
	if m.TypePrefix == "" {
		m.TypePrefix = DefaultTypePrefix
	}
	if m.EntityPrefixes == nil {
		m.EntityPrefixes = []string{DefaultEntityPrefix}
	}
	if m.EntitiesFrom == "" {
		m.EntitiesFrom = "components"
	}
	if m.PageSize == 0 {
		m.PageSize = DefaultPageSize
	}
	return m
}

// Config is a json or csv ticket source's section of tickets[].
type Config struct {
	// Name is the spec's name: key, set by the factory.
	Name   string `yaml:"-"`
	Format string `yaml:"-"`
	Path   string `yaml:"path"` // a glob
	Fields Fields `yaml:"fields"`
	// Timezone applies to naive timestamps when a ticket names no zone.
	Timezone string `yaml:"timezone"`
}

// Validate checks the section; keys are named relative to tickets[i].
func (c *Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path: required: a file or glob of "+c.Format+" tickets"))
	} else if _, err := filepath.Match(c.Path, ""); err != nil {
		errs = append(errs, fmt.Errorf("path: %q: %w", c.Path, err))
	}
	if err := CheckZone(c.Timezone); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckZone checks a timezone: key (empty is allowed).
func CheckZone(zone string) error {
	if zone == "" {
		return nil
	}
	if _, err := time.LoadLocation(zone); err != nil {
		return fmt.Errorf("timezone: %q is not an IANA zone name (such as Europe/Berlin): %w", zone, err)
	}
	return nil
}

// Validate checks the mapping keys of a github (limit 100) or jira (limit
// 1000) source.
func (m Mapping) Validate(format string) error {
	var errs []error
	switch m.EntitiesFrom {
	case "", "components", "labels":
	default:
		errs = append(errs, fmt.Errorf("mapping.entities_from: %q is not components or labels", m.EntitiesFrom))
	}
	if m.EntitiesFrom != "" && format == "github" {
		errs = append(errs, errors.New("mapping.entities_from: jira only (github entities come from labels)"))
	}
	limit := 100
	if format == "jira" {
		limit = 1000
	}
	if m.PageSize < 0 || m.PageSize > limit {
		errs = append(errs, fmt.Errorf("mapping.page_size: %d is outside 1..%d", m.PageSize, limit))
	}
	for j, p := range m.EntityPrefixes {
		if strings.TrimSpace(p) == "" {
			errs = append(errs, fmt.Errorf("mapping.entity_prefixes[%d]: empty prefix", j))
		}
	}
	return errors.Join(errs...)
}

// Factory is the ticket source kind of one file format (json, csv).
func Factory(format string) pipeline.TicketSourceFactory {
	return pipeline.TicketSourceFactory{
		NewConfig: func() pipeline.Config { return &Config{Format: format} },
		New: func(name string, cfg pipeline.Config, problems *pipeline.Problems) (pipeline.TicketSource, error) {
			c := *cfg.(*Config)
			c.Name = name
			return New(c, problems)
		},
	}
}

// Fingerprint identifies the ticket files (pipeline.Fingerprinter).
func (c *Config) Fingerprint(context.Context) (string, error) {
	return pipeline.FingerprintFiles(c.Path)
}
