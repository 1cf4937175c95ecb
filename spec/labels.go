package spec

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Merge is the label merge policy: how incidents from several labelers
// become one set of labels per entity (labelers/merge.go applies it).
type Merge struct {
	// Precedence orders label sources, strongest first. Within a group of
	// incidents of one entity that overlap (or lie within Tolerance of each
	// other), the strongest source present supplies the labels and the rest
	// only confirm them. Default: manual, ticket, rule, alert, injected.
	Precedence []string `yaml:"precedence"`
	// Tolerance joins intervals of one entity separated by at most this gap
	// (default 5m).
	Tolerance Duration `yaml:"tolerance"`
}

// DefaultPrecedence is the merge order when the spec names none.
var DefaultPrecedence = []string{"manual", "ticket", "rule", "alert", "injected"}

// DefaultMergeTolerance is the merge tolerance when the spec names none.
const DefaultMergeTolerance = 5 * time.Minute

// LabelerKinds are the labeler kinds the spec accepts.
var LabelerKinds = []string{"ticket", "rule", "alertmanager", "alerts_series", "manual"}

// TicketFormats are the ticket source formats the spec accepts.
var TicketFormats = []string{"json", "csv", "github", "jira"}

func (s *Spec) mergeDefaults() {
	if len(s.Merge.Precedence) == 0 {
		s.Merge.Precedence = append([]string(nil), DefaultPrecedence...)
	}
	if s.Merge.Tolerance == 0 {
		s.Merge.Tolerance = Duration(DefaultMergeTolerance)
	}
}

// validateLabels checks the labelers, the merge policy and the ticket
// sources' format-specific keys; add reports one error.
func (s *Spec) validateLabels(add func(format string, a ...any)) {
	s.mergeDefaults()
	seen := map[string]bool{}
	for i, p := range s.Merge.Precedence {
		if !contains(DefaultPrecedence, p) {
			add("merge.precedence[%d]: %q is not a label source (%s)", i, p, strings.Join(DefaultPrecedence, ", "))
		}
		if seen[p] {
			add("merge.precedence[%d]: %q is listed twice", i, p)
		}
		seen[p] = true
	}
	if s.Merge.Tolerance < 0 {
		add("merge.tolerance: must not be negative")
	}
	for i, l := range s.Labelers {
		if !contains(LabelerKinds, l.Kind) {
			add("labelers[%d].kind: %q is not a known labeler (%s)", i, l.Kind, strings.Join(LabelerKinds, ", "))
			continue
		}
		if l.Horizon < 0 || l.Recovery < 0 || l.Interval < 0 {
			add("labelers[%d]: horizon, recovery and interval must not be negative", i)
		}
		switch l.Kind {
		case "rule":
			if len(l.Rules) == 0 {
				add("labelers[%d] (rule).rules: required: one or more Prometheus alerting-rule files", i)
			}
			if s.Metrics.TSDB.Path == "" {
				add("labelers[%d] (rule): needs metrics.tsdb.path (rules are evaluated over the metric source)", i)
			}
		case "alerts_series":
			if s.Metrics.TSDB.Path == "" {
				add("labelers[%d] (alerts_series): needs metrics.tsdb.path (ALERTS series are read from the metric source)", i)
			}
		case "alertmanager":
			if !strings.HasPrefix(l.URL, "http://") && !strings.HasPrefix(l.URL, "https://") {
				add("labelers[%d] (alertmanager).url: %q must be an http(s) URL of Alertmanager", i, l.URL)
			}
		case "manual":
			if l.Path == "" {
				add("labelers[%d] (manual).path: required: a YAML, JSON or CSV file (glob) of curated incidents", i)
			}
			switch l.Format {
			case "", "yaml", "json", "csv":
			default:
				add("labelers[%d] (manual).format: %q is not yaml, json or csv", i, l.Format)
			}
		}
		if l.Timezone != "" {
			if _, err := time.LoadLocation(l.Timezone); err != nil {
				add("labelers[%d].timezone: %v", i, err)
			}
		}
	}
	for i, t := range s.Tickets {
		if !contains(TicketFormats, t.Format) {
			add("tickets[%d] (%s).format: %q is not a known format (%s)", i, t.Name, t.Format, strings.Join(TicketFormats, ", "))
			continue
		}
		switch t.Format {
		case "json", "csv":
			if t.Path == "" {
				add("tickets[%d] (%s).path: required", i, t.Name)
			}
		case "github":
			if strings.Count(t.Repo, "/") != 1 {
				add("tickets[%d] (%s).repo: %q must be OWNER/NAME", i, t.Name, t.Repo)
			}
		case "jira":
			if t.URL == "" {
				add("tickets[%d] (%s).url: required: the Jira base URL", i, t.Name)
			}
			if t.JQL == "" {
				add("tickets[%d] (%s).jql: required: the JQL selecting incident issues", i, t.Name)
			}
		}
		if t.URL != "" && !strings.HasPrefix(t.URL, "http://") && !strings.HasPrefix(t.URL, "https://") {
			add("tickets[%d] (%s).url: %q must be an http(s) URL", i, t.Name, t.URL)
		}
		if t.Timezone != "" {
			if _, err := time.LoadLocation(t.Timezone); err != nil {
				add("tickets[%d] (%s).timezone: %v", i, t.Name, err)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Precedence returns the rank of a label source under the policy (0 is
// strongest); sources not listed rank after every listed one.
func (m Merge) Rank(source string) int {
	for i, p := range m.Precedence {
		if p == source {
			return i
		}
	}
	return len(m.Precedence)
}

// String describes the policy in one line, for reports.
func (m Merge) String() string {
	return fmt.Sprintf("precedence %s, tolerance %s", strings.Join(m.Precedence, " > "), model.Duration(m.Tolerance))
}
