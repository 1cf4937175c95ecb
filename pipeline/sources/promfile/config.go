package promfile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// Config is the file-based metric source (metrics.source openmetrics or
// csv): samples read from files, loaded into a private temporary TSDB and
// evaluated by Prometheus's engine exactly like source tsdb. The formats
// are described in docs/spec.md and pipeline/sources/promfile.
type Config struct {
	format   Format             // set by the kind, not a key
	problems *pipeline.Problems // where kept duplicates are counted (set by the factory)
	// Duplicates says what a sample at or before its series' previous
	// sample means: refuse (default: the load fails, every such sample
	// reported), keep_first or keep_last (the others dropped and counted in
	// bad_input). Out-of-order samples are dropped under both keep policies.
	Duplicates string `yaml:"duplicates"`
	// Path is a glob; matching files are read in sorted order, so the
	// samples of one series must be in time order across them. Compressed
	// files (gzip, zstd, bzip2, xz: by their first bytes or suffix) are
	// decompressed.
	Path string `yaml:"path"`
	// Timezone is the IANA zone of csv timestamps written without an
	// offset. Without it such a timestamp is an error.
	Timezone string `yaml:"timezone"`
}

// Validate checks metrics.file for the given source (openmetrics or csv)
// and returns one message per problem, each naming its key.
func (f Config) validate(source string) []string {
	var errs []string
	switch f.Duplicates {
	case "", DuplicatesRefuse, DuplicatesKeepFirst, DuplicatesKeepLast:
	default:
		errs = append(errs, fmt.Sprintf("duplicates: %q is not refuse, keep_first or keep_last", f.Duplicates))
	}
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	switch {
	case f.Path == "":
		add("path: required for the %s source (a file or glob of %s files)", source, source)
	case f.Path != "":
		if _, err := filepath.Match(f.Path, ""); err != nil {
			add("path: %q is not a valid glob: %v", f.Path, err)
		}
	}
	if f.Timezone != "" {
		if source != "csv" {
			add("timezone: only applies to source csv (OpenMetrics timestamps are Unix seconds)")
		} else if _, err := time.LoadLocation(f.Timezone); err != nil {
			add("timezone: %v", err)
		}
	}
	return errs
}

// The duplicate-sample policies of metrics.file.duplicates.
const (
	DuplicatesRefuse    = "refuse"
	DuplicatesKeepFirst = "keep_first"
	DuplicatesKeepLast  = "keep_last"
)

// Validate checks the section; keys are named relative to metrics.file.
func (f *Config) Validate() error {
	if errs := f.validate(string(f.format)); len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Factory is the metric source kind of one file format (openmetrics, csv):
// the files are loaded into a private TSDB, so PromQL features and rule
// labelers work exactly as with source tsdb.
func Factory(format Format) pipeline.MetricSourceFactory {
	return pipeline.MetricSourceFactory{
		Section:   "file",
		NewConfig: func() pipeline.Config { return &Config{format: format} },
		Queryable: true,
		New: func(ctx context.Context, m spec.Metrics, cfg pipeline.Config, problems *pipeline.Problems) (pipeline.MetricSource, error) {
			c := *cfg.(*Config)
			c.problems = problems
			return Open(ctx, format, c, time.Duration(m.LookbackDelta))
		},
	}
}

// Fingerprint identifies the metric files (pipeline.Fingerprinter).
func (f *Config) Fingerprint(context.Context) (string, error) {
	return pipeline.FingerprintFiles(f.Path)
}
