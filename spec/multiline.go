package spec

import (
	"fmt"
	"regexp"
)

// Multiline joins multi-line entries (stack traces) of a file log source:
// a line matching Start begins an entry; any other line is appended, with
// "\n", to the message of the entry before it.
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
func validateMultiline(path string, i int, l LogSource) []string {
	var errs []string
	add := func(format string, a ...any) {
		errs = append(errs, path+": "+fmt.Sprintf("logs[%d] (%s).multiline.", i, l.Name)+fmt.Sprintf(format, a...))
	}
	m := l.Multiline
	if m.Start == "" {
		if m.MaxLines != 0 || m.MaxBytes != 0 {
			add("start: required when max_lines or max_bytes is set (a regexp matching the first line of an entry)")
		}
		return errs
	}
	if l.Format == "loki" {
		add("start: only for file sources, not loki (Loki stores each entry whole)")
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
