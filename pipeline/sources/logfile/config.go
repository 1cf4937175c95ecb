package logfile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// Config is a file log source's section of logs[] (formats jsonl, text,
// logfmt, syslog, klog, logpai, cri).
type Config struct {
	// Name and Format are the spec's name: and format: keys, set by the factory.
	Name   string `yaml:"-"`
	Format string `yaml:"-"`
	Path   string `yaml:"path"` // a glob
	// Fields names the fields holding time, level, message and entity.
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
	// EntityFromPath (format cri) names what of a kubelet log path is the
	// entity: workload (default), namespace, pod or container.
	EntityFromPath string `yaml:"entity_from_path"`
	// LogFormat is the loghub format string of format logpai.
	LogFormat string `yaml:"log_format"`
	// Multiline joins stack traces into one entry.
	Multiline Multiline `yaml:"multiline"`
}

// LogFields names the fields of a structured log line.
type LogFields struct {
	Time    string `yaml:"time"`
	Level   string `yaml:"level"`
	Message string `yaml:"message"`
	Entity  string `yaml:"entity"`
}

// Multiline joins multi-line entries (stack traces) of a file log source:
// a line matching Start begins an entry; any other line is appended, with
// "\n", to the message of the entry before it. In a CRI file (pod logs,
// where the runtime keeps each line of a stack trace as its own record)
// Start is matched against a record's content, the application's line,
// and an entry continues on its own stream only: a line of the other
// stream ends it.
type Multiline struct {
	// Start is a regexp matching the first line of every entry, e.g.
	// `^\d{4}-\d{2}-\d{2} ` for lines that begin with a date.
	Start string `yaml:"start"`
	// MaxLines caps the lines of one entry (default 1000); MaxBytes its
	// message size (default 1 MiB). Further lines are cut and counted.
	MaxLines int `yaml:"max_lines"`
	MaxBytes int `yaml:"max_bytes"`
}

// validateMultiline checks logs[i].multiline.

// Validate checks the section; keys are named relative to logs[i].
func (c *Config) Validate() error {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.Path == "" {
		add("path: required (a glob such as /var/log/app/*.jsonl)")
	} else if _, err := filepath.Match(c.Path, ""); err != nil {
		add("path: %q: %v", c.Path, err)
	}
	if c.Format == "text" {
		if c.Pattern == "" {
			add("pattern: required for format text")
		} else if re, err := regexp.Compile(c.Pattern); err != nil {
			add("pattern: %v", err)
		} else if re.SubexpIndex("time") < 0 || re.SubexpIndex("message") < 0 {
			add("pattern: needs named groups (?P<time>...) and (?P<message>...)")
		}
	} else if c.Pattern != "" {
		add("pattern: only for format text")
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			add("timezone: %v", err)
		}
	}
	errs = append(errs, c.validateMultiline()...)
	errs = append(errs, c.validateLogFormat()...)
	if len(errs) == 0 {
		return nil
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = errors.New(e)
	}
	return errors.Join(out...)
}

// Factory is the log source kind of one file format.
func Factory(format string) pipeline.LogSourceFactory {
	return pipeline.LogSourceFactory{
		NewConfig: func() pipeline.Config { return &Config{Format: format} },
		New: func(name string, cfg pipeline.Config, problems *pipeline.Problems) (pipeline.LogSource, error) {
			c := *cfg.(*Config)
			c.Name = name
			return New(c, problems)
		},
	}
}

func (l *Config) validateMultiline() []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, "multiline."+fmt.Sprintf(format, a...)) }
	m := l.Multiline
	if m.Start == "" {
		if m.MaxLines != 0 || m.MaxBytes != 0 {
			add("start: required when max_lines or max_bytes is set (a regexp matching the first line of an entry)")
		}
		return errs
	}
	if _, err := regexp.Compile(m.Start); err != nil {
		add("start: %v", err)
	}
	if m.MaxLines < 0 {
		add("max_lines: %d must not be negative", m.MaxLines)
	}
	if m.MaxBytes < 0 {
		add("max_bytes: %d must not be negative", m.MaxBytes)
	}
	return errs
}

var logpaiField = regexp.MustCompile(`<([A-Za-z][A-Za-z0-9_]*)>`)

// validateLogFormat checks the keys of the formats logfmt, syslog, klog
// and logpai.
func (l *Config) validateLogFormat() []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	switch l.Format {
	case "logpai":
		if l.LogFormat == "" {
			add("log_format: required for format logpai, e.g. \"<Date> <Time> <Level> <Component>: <Content>\"")
			break
		}
		names := map[string]bool{}
		for _, m := range logpaiField.FindAllStringSubmatch(l.LogFormat, -1) {
			names[m[1]] = true
		}
		if !names["Content"] {
			add("log_format: %q needs a <Content> field", l.LogFormat)
		}
		if !names["Date"] && !names["Time"] && !names["Timestamp"] && !names["DateTime"] {
			add("log_format: %q needs a time field (<Date>, <Time> or <Timestamp>) and time_layout for it", l.LogFormat)
		}
		if l.Fields.Entity != "" && !names[l.Fields.Entity] {
			add("fields.entity: %q is not a field of log_format", l.Fields.Entity)
		}
	case FormatCRI:
		if l.EntityFromPath != "" && !slices.Contains(criEntityFrom, l.EntityFromPath) {
			add("entity_from_path: %q must be one of %s", l.EntityFromPath, strings.Join(criEntityFrom, ", "))
		}
	case "syslog":
		if l.Fields.Entity != "" && l.Fields.Entity != "host" && l.Fields.Entity != "app" {
			add("fields.entity: %q must be host or app for syslog", l.Fields.Entity)
		}
	}
	if l.EntityFromPath != "" && l.Format != FormatCRI {
		add("entity_from_path: only for format cri")
	}
	if l.LogFormat != "" && l.Format != "logpai" {
		add("log_format: only for format logpai")
	}
	return errs
}

// Fingerprint identifies the log files (pipeline.Fingerprinter).
func (c *Config) Fingerprint(context.Context) (string, error) {
	return pipeline.FingerprintFiles(c.Path)
}
