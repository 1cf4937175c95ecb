// Package spec is the dataset spec: the YAML file that says what an export
// reads, how it windows, labels and anonymizes, and where it publishes.
// Parsing is strict: an unknown key is an error naming file:line.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// checkPromQL parses a feature expression the way the engine will, and
// insists on a result that can be evaluated at every window.
func checkPromQL(expr string) error {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return fmt.Errorf("invalid PromQL: %w", err)
	}
	switch e.Type() {
	case parser.ValueTypeVector, parser.ValueTypeScalar:
		return nil
	default:
		return fmt.Errorf("PromQL result is a %s; a feature needs an instant vector or a scalar (wrap range selectors in rate(), avg_over_time(), ...)", e.Type())
	}
}

// Spec is one dataset spec (datasets/demo.yaml is the example).
type Spec struct {
	// Dataset is the dataset's name: the directory under the output URL.
	Dataset     string `yaml:"dataset"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Licence is an SPDX licence id for the published data. Required.
	Licence   string         `yaml:"licence"`
	Citation  string         `yaml:"citation"`
	Output    string         `yaml:"output"` // file://dir (default file://./out) or s3://bucket/prefix
	S3        bucket.S3      `yaml:"s3"`     // s3:// output settings (s3.go); optional
	Range     Range          `yaml:"range"`
	Window    Duration       `yaml:"window"` // default 1m
	Entity    Entity         `yaml:"entity"`
	Metrics   Metrics        `yaml:"metrics"`
	Logs      []LogSource    `yaml:"logs"`
	Tickets   []TicketSource `yaml:"tickets"`
	Labelers  []Labeler      `yaml:"labelers"`
	Merge     Merge          `yaml:"merge"` // label merge policy (labels.go)
	Anonymize Anonymize      `yaml:"anonymize"`
	// LogFeatures chooses the per-window log template columns of windows.
	LogFeatures LogFeatures `yaml:"log_features"`

	// Path is the file the spec was read from (not a YAML key).
	Path string `yaml:"-"`
}

// Range is the default export range; the CLI's --from/--to override it.
type Range struct {
	From time.Time `yaml:"from"`
	To   time.Time `yaml:"to"`
}

// Entity says what a row of the windows table is about.
type Entity struct {
	Kind  string `yaml:"kind"`  // service, namespace or host
	Label string `yaml:"label"` // the metric label naming the entity
}

// Metrics is the metric source and the features evaluated on it.
type Metrics struct {
	Source        string           `yaml:"source"` // tsdb (default) or prometheus
	TSDB          TSDB             `yaml:"tsdb"`
	Prometheus    PrometheusSource `yaml:"prometheus"` // the live API (source: prometheus); datasets/spec/prometheus.go
	File          MetricFile       `yaml:"file"`       // source openmetrics or csv; datasets/spec/promfile.go
	LookbackDelta Duration         `yaml:"lookback_delta"`
	Features      []Feature        `yaml:"features"`
}

// TSDB is a Prometheus TSDB directory (blocks, as a snapshot leaves them),
// opened read-only.
type TSDB struct {
	Path string `yaml:"path"`
}

// Feature is a named PromQL expression evaluated at every window; its
// result's entity label picks the row.
type Feature struct {
	Name string `yaml:"name"`
	Expr string `yaml:"expr"`
	Unit string `yaml:"unit"`
	Help string `yaml:"help"`
	// Line is where the feature is defined in the spec file, for errors.
	Line int `yaml:"-"`
}

// UnmarshalYAML records the feature's line for error messages.
func (f *Feature) UnmarshalYAML(n *yaml.Node) error {
	type plain Feature
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*f = Feature(p)
	f.Line = n.Line
	return nil
}

// LogSource is a set of log files in one format.
type LogSource struct {
	Name   string `yaml:"name"`
	Path   string `yaml:"path"`   // a glob
	Format string `yaml:"format"` // jsonl or text
	// Fields names the JSON fields (jsonl) holding time, level, message and entity.
	Fields LogFields `yaml:"fields"`
	// Pattern is a regexp with named groups time, level, entity, message (text).
	Pattern string `yaml:"pattern"`
	// TimeLayout is a Go time layout; empty means RFC 3339.
	TimeLayout string `yaml:"time_layout"`
	// Timezone is an IANA zone for timestamps that carry no offset. Without
	// it such a timestamp is an error.
	Timezone string `yaml:"timezone"`
	// Entity fixes the entity for every line of the source.
	Entity string `yaml:"entity"`
	// LogFormat is the loghub format string of format logpai (see spec/logs.go).
	LogFormat string `yaml:"log_format"`
	// Templates are the template miner's parameters for this source.
	Templates LogTemplates `yaml:"templates"`
	// Multiline joins stack traces into one entry (spec/multiline.go).
	Multiline Multiline `yaml:"multiline"`
	// Loki configures format loki (spec/loki.go).
	Loki LokiSource `yaml:"loki"`
}

// LogFields names the fields of a structured log line.
type LogFields struct {
	Time    string `yaml:"time"`
	Level   string `yaml:"level"`
	Message string `yaml:"message"`
	Entity  string `yaml:"entity"`
}

// TicketSource is where tickets come from.
type TicketSource struct {
	Name   string       `yaml:"name"`
	Format string       `yaml:"format"` // json
	Path   string       `yaml:"path"`
	Fields TicketFields `yaml:"fields"`
	// Timezone applies to naive timestamps when a ticket names no zone.
	Timezone string `yaml:"timezone"`
	// GitHub and Jira sources (format github / jira; see labels.go).
	URL      string        `yaml:"url"`       // API base URL (github default https://api.github.com)
	Repo     string        `yaml:"repo"`      // github: OWNER/NAME
	Labels   []string      `yaml:"labels"`    // github: issue label filter, e.g. [incident]
	Since    time.Time     `yaml:"since"`     // github: only issues updated at or after
	JQL      string        `yaml:"jql"`       // jira: the search
	TokenEnv string        `yaml:"token_env"` // env variable holding the API token
	UserEnv  string        `yaml:"user_env"`  // jira: env variable holding the user (basic auth with the token)
	Mapping  TicketMapping `yaml:"mapping"`   // github/jira: labels → severity, type, entities (tickets_remote.go)
}

// TicketFields maps a ticket's fields onto opsdata's ticket model.
type TicketFields struct {
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

// Labeler configures one labeler.
type Labeler struct {
	Kind     string   `yaml:"kind"` // ticket, rule, alertmanager, alerts_series, manual
	Horizon  Duration `yaml:"horizon"`
	Recovery Duration `yaml:"recovery"`
	// Keys of the other labelers (validated in labels.go).
	Rules       []string `yaml:"rules"`        // rule: Prometheus alerting-rule files
	Interval    Duration `yaml:"interval"`     // rule: evaluation step (default: the window)
	URL         string   `yaml:"url"`          // alertmanager: base URL
	EntityLabel string   `yaml:"entity_label"` // rule, alert: label naming the entity (default entity.label)
	Path        string   `yaml:"path"`         // manual: file (glob)
	Format      string   `yaml:"format"`       // manual: yaml, json or csv (default from the extension)
	Timezone    string   `yaml:"timezone"`     // manual: zone of naive timestamps
}

// Anonymize is the anonymization policy.
type Anonymize struct {
	Key Key `yaml:"key"`
	// Labels maps metric labels to pseudonym types (instance: instance,
	// node: host). A label not listed here, in Keep, or the entity label is
	// pseudonymized under its own name: nothing is published raw by accident.
	Labels map[string]string `yaml:"labels"`
	Keep   []string          `yaml:"keep"`
	// LogFields maps structured log fields to pseudonym types; their values
	// are also replaced wherever they occur in free text.
	LogFields map[string]string `yaml:"log_fields"`
	// HostDomains are DNS suffixes whose hostnames are pseudonymized in text.
	HostDomains []string `yaml:"host_domains"`
	// Canaries are strings that must never appear in a published version.
	Canaries []string `yaml:"canaries"`
	// Columns sets the rule of published free-text columns (see
	// TextColumns in anonymize.go); Text configures the free-text detectors.
	Columns map[string]string `yaml:"columns"`
	Text    TextPolicy        `yaml:"text"`
}

// Key says where the anonymization key comes from; it is never written out.
type Key struct {
	File string `yaml:"file"`
	Env  string `yaml:"env"`
}

// Duration is a time.Duration written as Prometheus durations are (1m, 30s, 1h30m, 2d).
type Duration time.Duration

// UnmarshalYAML parses a Prometheus-style duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back in the same notation.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ParseDuration accepts Go durations plus d (days) and w (weeks).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m := dayRe.FindStringSubmatch(s); m != nil {
		var n int
		fmt.Sscanf(m[1], "%d", &n)
		unit := 24 * time.Hour
		if m[2] == "w" {
			unit *= 7
		}
		rest := time.Duration(0)
		if m[3] != "" {
			r, err := time.ParseDuration(m[3])
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: %w", s, err)
			}
			rest = r
		}
		return time.Duration(n)*unit + rest, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use 30s, 1m, 1h, 2d)", s)
	}
	return v, nil
}

var dayRe = regexp.MustCompile(`^(\d+)([dw])(.*)$`)

// Defaults applied when a key is absent.
const (
	DefaultWindow   = time.Minute
	DefaultOutput   = "file://./out"
	DefaultLookback = 5 * time.Minute
)

// ErrInvalid wraps every validation error, so callers can tell a bad spec
// from a failing run.
var ErrInvalid = errors.New("invalid spec")

// Load reads and validates a spec file.
func Load(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return Parse(path, b)
}

var yamlLineRe = regexp.MustCompile(`line (\d+): (.*)`)

// Parse decodes a spec strictly; errors name path:line.
func Parse(path string, b []byte) (*Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msgs := make([]string, 0, len(te.Errors))
			for _, e := range te.Errors {
				msgs = append(msgs, locate(path, e))
			}
			return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(msgs, "; "))
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalid, locate(path, err.Error()))
	}
	s.Path = path
	s.applyDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// locate rewrites yaml.v3's "line N: msg" as "path:N: msg".
func locate(path, msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		detail := m[2]
		detail = strings.Replace(detail, "not found in type", "is not a known key of", 1)
		if f := fieldRe.FindStringSubmatch(detail); f != nil {
			detail = fmt.Sprintf("unknown key %q (check the spelling; see datasets/demo.yaml for every key)", f[1])
		}
		return fmt.Sprintf("%s:%s: %s", path, m[1], detail)
	}
	return fmt.Sprintf("%s: %s", path, msg)
}

var fieldRe = regexp.MustCompile(`^field (\S+) is not a known key of`)

func (s *Spec) applyDefaults() {
	if s.Window == 0 {
		s.Window = Duration(DefaultWindow)
	}
	if s.Output == "" {
		s.Output = DefaultOutput
	}
	if s.Metrics.Source == "" {
		s.Metrics.Source = "tsdb"
	}
	if s.Metrics.LookbackDelta == 0 {
		s.Metrics.LookbackDelta = Duration(DefaultLookback)
	}
	if s.Entity.Kind == "" {
		s.Entity.Kind = "service"
	}
	if s.Entity.Label == "" {
		s.Entity.Label = s.Entity.Kind
	}
	for i := range s.Logs {
		if s.Logs[i].Format == "" {
			s.Logs[i].Format = "jsonl"
		}
	}
	for i := range s.Tickets {
		if s.Tickets[i].Format == "" {
			s.Tickets[i].Format = "json"
		}
	}
}

var (
	nameRe    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	datasetRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	spdxRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+-]*$`)
)

// ReservedColumns are windows-table columns a feature may not be named after.
var ReservedColumns = map[string]bool{
	"window_start": true, "entity": true, "date": true, "incident_active": true,
	"incident_ids": true, "severity": true, "phase": true, "minutes_to_next_incident": true,
	"log_lines": true, "log_debug": true, "log_info": true, "log_warn": true, "log_error": true, "log_other": true,
}

// Validate checks what YAML decoding cannot: required keys, names, and
// cross references. Errors name the spec file and the key.
func (s *Spec) Validate() error {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, s.Path+": "+fmt.Sprintf(format, a...)) }
	if s.Dataset == "" {
		add("dataset: required (a lower-case name such as demo-cluster)")
	} else if !datasetRe.MatchString(s.Dataset) {
		add("dataset: %q must be lower-case letters, digits, '.', '_' or '-'", s.Dataset)
	}
	if s.Licence == "" {
		add("licence: required: an SPDX licence id for the published data, such as CDLA-Permissive-2.0 or CC-BY-4.0")
	} else if !spdxRe.MatchString(s.Licence) {
		add("licence: %q is not an SPDX licence id", s.Licence)
	}
	if time.Duration(s.Window) <= 0 {
		add("window: must be positive")
	}
	switch {
	case strings.HasPrefix(s.Output, "file://"), strings.HasPrefix(s.Output, "s3://"):
	default:
		add("output: %q must be file://DIR or s3://BUCKET/PREFIX", s.Output)
	}
	for _, e := range s.S3.ValidateS3() {
		add("%s", e)
	}
	if !s.Range.From.IsZero() && !s.Range.To.IsZero() && !s.Range.To.After(s.Range.From) {
		add("range: to (%s) must be after from (%s)", s.Range.To.Format(time.RFC3339), s.Range.From.Format(time.RFC3339))
	}
	switch s.Entity.Kind {
	case "service", "namespace", "host":
	default:
		add("entity.kind: %q must be service, namespace or host", s.Entity.Kind)
	}
	switch s.Metrics.Source {
	case "tsdb":
		if s.Metrics.TSDB.Path == "" && len(s.Metrics.Features) > 0 {
			add("metrics.tsdb.path: required for the tsdb source")
		}
	case "prometheus":
		for _, e := range s.Metrics.Prometheus.Validate() {
			add("%s", e)
		}
	case "openmetrics", "csv":
		for _, e := range s.Metrics.File.Validate(s.Metrics.Source, len(s.Metrics.Features) > 0) {
			add("%s", e)
		}
	default:
		add("metrics.source: %q is not a known source (tsdb, prometheus, openmetrics, csv)", s.Metrics.Source)
	}
	seen := map[string]bool{}
	for i, f := range s.Metrics.Features {
		switch {
		case !nameRe.MatchString(f.Name):
			add("metrics.features[%d].name: %q must match %s", i, f.Name, nameRe)
		case ReservedColumns[f.Name]:
			add("metrics.features[%d].name: %q is a reserved column of the windows table", i, f.Name)
		case seen[f.Name]:
			add("metrics.features[%d].name: %q is defined twice", i, f.Name)
		}
		seen[f.Name] = true
		if strings.TrimSpace(f.Expr) == "" {
			add("metrics.features[%d] (%s).expr: required", i, f.Name)
		} else if err := checkPromQL(f.Expr); err != nil {
			errs = append(errs, fmt.Sprintf("%s:%d: metrics.features[%d] (%s).expr: %v", s.Path, f.Line, i, f.Name, err))
		}
	}
	names := map[string]bool{}
	for i, l := range s.Logs {
		if l.Name == "" {
			add("logs[%d].name: required", i)
		} else if names[l.Name] {
			add("logs[%d].name: %q is used twice", i, l.Name)
		}
		names[l.Name] = true
		if l.Path == "" && l.Format != "loki" {
			add("logs[%d] (%s).path: required", i, l.Name)
		}
		errs = append(errs, validateMultiline(s.Path, i, l)...)
		errs = append(errs, validateLoki(s.Path, i, l)...)
		switch l.Format {
		case "jsonl", "loki":
		case "logfmt", "syslog", "klog", "logpai":
			errs = append(errs, validateLogFormat(s.Path, i, l)...)
		case "text":
			if l.Pattern == "" {
				add("logs[%d] (%s).pattern: required for format text", i, l.Name)
			} else if re, err := regexp.Compile(l.Pattern); err != nil {
				add("logs[%d] (%s).pattern: %v", i, l.Name, err)
			} else if re.SubexpIndex("time") < 0 || re.SubexpIndex("message") < 0 {
				add("logs[%d] (%s).pattern: needs named groups (?P<time>...) and (?P<message>...)", i, l.Name)
			}
		default:
			add("logs[%d] (%s).format: %q is not a known format (jsonl, text, logfmt, syslog, klog, logpai, loki)", i, l.Name, l.Format)
		}
		if l.Timezone != "" {
			if _, err := time.LoadLocation(l.Timezone); err != nil {
				add("logs[%d] (%s).timezone: %v", i, l.Name, err)
			}
		}
	}
	for i, t := range s.Tickets {
		if t.Name == "" {
			add("tickets[%d].name: required", i)
		}
	}
	s.validateLabels(add)        // labelers, merge, ticket formats: labels.go
	s.validateRemoteTickets(add) // github/jira mapping: tickets_remote.go
	s.Anonymize.validateAnonymize(add)
	errs = append(errs, validateLogs(s)...)
	if s.Anonymize.Key.File == "" && s.Anonymize.Key.Env == "" {
		add("anonymize.key: required: a file or an env variable holding the pseudonymization key")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

// Horizon is the pre-incident horizon of the first labeler (0 if none).
func (s *Spec) Horizon() time.Duration {
	for _, l := range s.Labelers {
		return time.Duration(l.Horizon)
	}
	return 0
}
