package spec

import (
	"strings"
)

// TicketMapping says how the labels of a GitHub issue or the labels and
// components of a Jira issue map onto opsdata's ticket model. It lives
// under `mapping:` of a ticket source (format github or jira); the time
// fields use `fields:` (TicketFields):
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
type TicketMapping struct {
	SeverityPrefix string   `yaml:"severity_prefix"`
	TypePrefix     string   `yaml:"type_prefix"`
	EntityPrefixes []string `yaml:"entity_prefixes"`
	// EntitiesFrom (jira): components or labels.
	EntitiesFrom string `yaml:"entities_from"`
	// PageSize is the page size asked for (github ≤100, jira ≤1000; default 100).
	PageSize int `yaml:"page_size"`
}

// Defaults of TicketMapping.
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
func (m TicketMapping) WithDefaults() TicketMapping {
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

// validateRemoteTickets checks the mapping keys of github and jira ticket
// sources; add reports one error.
func (s *Spec) validateRemoteTickets(add func(format string, a ...any)) {
	for i, t := range s.Tickets {
		m := t.Mapping
		if t.Format != "github" && t.Format != "jira" {
			if m.SeverityPrefix != "" || m.TypePrefix != "" || m.EntityPrefixes != nil || m.EntitiesFrom != "" || m.PageSize != 0 {
				add("tickets[%d] (%s).mapping: only for format github or jira (files use fields:)", i, t.Name)
			}
			continue
		}
		switch m.EntitiesFrom {
		case "", "components", "labels":
		default:
			add("tickets[%d] (%s).mapping.entities_from: %q is not components or labels", i, t.Name, m.EntitiesFrom)
		}
		if m.EntitiesFrom != "" && t.Format == "github" {
			add("tickets[%d] (%s).mapping.entities_from: jira only (github entities come from labels)", i, t.Name)
		}
		limit := 100
		if t.Format == "jira" {
			limit = 1000
		}
		if m.PageSize < 0 || m.PageSize > limit {
			add("tickets[%d] (%s).mapping.page_size: %d is outside 1..%d", i, t.Name, m.PageSize, limit)
		}
		for j, p := range m.EntityPrefixes {
			if strings.TrimSpace(p) == "" {
				add("tickets[%d] (%s).mapping.entity_prefixes[%d]: empty prefix", i, t.Name, j)
			}
		}
	}
}
