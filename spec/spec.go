// Package spec is the dataset spec: the YAML file that says what an export
// reads, how it windows, labels and anonymizes, and where it publishes.
// Parsing is strict: an unknown key is an error naming file:line.
package spec

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/github/go-spdx/v2/spdxexp"
	"github.com/opsdata/opsdata/internal/bucket"
	"gopkg.in/yaml.v3"
)

// Spec is one dataset spec (datasets/demo.yaml is the example).
type Spec struct {
	// Dataset is the dataset's name: the directory under the output URL.
	Dataset     string `yaml:"dataset"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
	// Licence is an SPDX licence id for the published data. Required.
	Licence  string `yaml:"licence"`
	Citation string `yaml:"citation"`
	// Citation metadata (citation.go): CITATION.cff, the card's BibTeX
	// entry and Croissant's creator, publisher and citeAs come from these.
	Creators  []Creator `yaml:"creators"`
	Publisher Publisher `yaml:"publisher"`
	Keywords  []string  `yaml:"keywords"`
	Funding   []Funding `yaml:"funding"`
	DOI       string    `yaml:"doi"`
	// DatePublished (YYYY-MM-DD) is the citation's date; default the
	// version's range end, so a re-run publishes the same bytes.
	DatePublished string `yaml:"date_published"`
	Output        string `yaml:"output"` // file://dir (default file://./out) or s3://bucket/prefix
	// PublicURL is where readers fetch the output over HTTPS (the public
	// URL of the bucket prefix, or a web server over the directory); the
	// card and catalog page then give working links and copy-paste reads.
	PublicURL string         `yaml:"public_url"`
	S3        bucket.S3      `yaml:"s3"` // s3:// output settings (s3.go); optional
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
	// Nightly configures `opsdata nightly` and `opsdata gc` (nightly.go).
	Nightly Nightly `yaml:"nightly"`
	// Split is the benchmark split policy (split.go): the windows table's split column.
	Split Split `yaml:"split"`
	// Baselines names a baselines results file (scripts/baselines.sh writes
	// it): the card shows its scores when they were computed on the exported
	// windows (docs/decisions/0035-baselines-in-the-card.md).
	Baselines string `yaml:"baselines"`

	// Path is the file the spec was read from (not a YAML key).
	Path string `yaml:"-"`
	// windowSet: the spec wrote window: (so 0 is an error, not the default).
	windowSet bool
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

// Metrics is the metric source and the features evaluated on it. The
// source's own settings sit under a key its kind names (tsdb:, prometheus:,
// file:); that kind decodes them from Config.
type Metrics struct {
	Source        string    `yaml:"source"` // a registered kind; default tsdb
	LookbackDelta Duration  `yaml:"lookback_delta"`
	Features      []Feature `yaml:"features"`
	// Config is the whole metrics mapping, for the kinds' sections.
	Config Section `yaml:"-"`
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

// LogSource is one log source. Name, format and the template miner's
// parameters are the spec's; every other key belongs to the format's kind,
// which decodes it from Config.
type LogSource struct {
	Name   string `yaml:"name"`
	Format string `yaml:"format"` // a registered log kind; default jsonl
	// Templates are the template miner's parameters for this source.
	Templates LogTemplates `yaml:"templates"`
	Config    Section      `yaml:"-"`
}

// TicketSource is where tickets come from; the format's kind decodes its
// own keys from Config.
type TicketSource struct {
	Name   string  `yaml:"name"`
	Format string  `yaml:"format"` // a registered ticket kind; default json
	Config Section `yaml:"-"`
}

// Labeler configures one labeler: its kind and the window labelling of its
// incidents are the spec's; the kind decodes its own keys from Config.
type Labeler struct {
	Kind     string   `yaml:"kind"` // a registered labeler kind
	Horizon  Duration `yaml:"horizon"`
	Recovery Duration `yaml:"recovery"`
	Config   Section  `yaml:"-"`
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

// Parse decodes a spec strictly; errors name path:line. Unknown keys are
// errors at every depth of the spec's own keys; a component's keys are
// checked when the component decodes its Section (pipeline/runner.Resolve).
func Parse(path string, b []byte) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, locate(path, err.Error()))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%w: %s: the spec is empty; start from datasets/demo.yaml (every key is in docs/spec.md)", ErrInvalid, path)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: %s:%d: the spec must be a mapping of keys (dataset:, licence:, ...)", ErrInvalid, path, root.Line)
	}
	var errs []string
	checkKeys(path, root, reflect.TypeOf(Spec{}), nil, &errs)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	var s Spec
	if err := root.Decode(&s); err != nil {
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
	s.windowSet = hasKey(root, "window")
	s.withPath()
	s.applyDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
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
	if s.Window == 0 && !s.windowSet {
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
	s.Nightly.nightlyDefaults() // nightly.go
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
	} else if err := ValidateLicence(s.Licence); err != nil {
		add("licence: %v", err)
	}
	if time.Duration(s.Window) <= 0 {
		add("window: must be positive")
	}
	switch {
	case strings.HasPrefix(s.Output, "file://"), strings.HasPrefix(s.Output, "s3://"):
	default:
		add("output: %q must be file://DIR or s3://BUCKET/PREFIX", s.Output)
	}
	if s.PublicURL != "" {
		if u, err := url.Parse(s.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("public_url: %q must be the https:// URL readers fetch the output from", s.PublicURL)
		}
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
	}
	for i, t := range s.Tickets {
		if t.Name == "" {
			add("tickets[%d].name: required", i)
		}
	}
	s.validateCitation(add) // citation.go
	s.validateSplit(add)    // split.go
	s.validateMerge(add)    // labels.go
	s.Anonymize.validateAnonymize(add)
	s.Nightly.validateNightly(add) // nightly.go
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

// ValidateLicence accepts an SPDX licence id or expression of current,
// listed licences (github.com/github/go-spdx): "CC-BY-4.0",
// "CDLA-Permissive-2.0 OR CC-BY-4.0". Deprecated ids and LicenseRef-/
// DocumentRef- references are refused: a published dataset's licence must be
// one a reader can look up.
func ValidateLicence(expr string) error {
	ok, invalid := spdxexp.ValidateLicensesWithOptions([]string{expr}, spdxexp.ValidateLicensesOptions{
		FailDeprecatedLicenses: true, FailAllLicenseRefs: true, FailAllDocumentRefs: true,
	})
	if !ok || len(invalid) > 0 {
		return fmt.Errorf("%q is not a current SPDX licence id or expression (for data: CDLA-Permissive-2.0, CDLA-Sharing-1.0, CC-BY-4.0, CC0-1.0, ODbL-1.0; see https://spdx.org/licenses/)", expr)
	}
	return nil
}
