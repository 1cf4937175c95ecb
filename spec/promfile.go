package spec

import (
	"fmt"
	"path/filepath"
	"time"
)

// MetricFile is the file-based metric source (metrics.source openmetrics or
// csv): samples read from files, loaded into a private temporary TSDB and
// evaluated by Prometheus's engine exactly like source tsdb. The formats
// are described in docs/spec.md and pipeline/sources/promfile.
type MetricFile struct {
	// Path is a glob; matching files are read in sorted order, so the
	// samples of one series must be in time order across them. A .gz
	// suffix is decompressed.
	Path string `yaml:"path"`
	// Timezone is the IANA zone of csv timestamps written without an
	// offset. Without it such a timestamp is an error.
	Timezone string `yaml:"timezone"`
}

// Validate checks metrics.file for the given source (openmetrics or csv)
// and returns one message per problem, each naming its key.
func (f MetricFile) Validate(source string, hasFeatures bool) []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	switch {
	case f.Path == "" && hasFeatures:
		add("metrics.file.path: required for the %s source (a file or glob of %s files)", source, source)
	case f.Path != "":
		if _, err := filepath.Match(f.Path, ""); err != nil {
			add("metrics.file.path: %q is not a valid glob: %v", f.Path, err)
		}
	}
	if f.Timezone != "" {
		if source != "csv" {
			add("metrics.file.timezone: only applies to source csv (OpenMetrics timestamps are Unix seconds)")
		} else if _, err := time.LoadLocation(f.Timezone); err != nil {
			add("metrics.file.timezone: %v", err)
		}
	}
	return errs
}
