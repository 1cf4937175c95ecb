package manual

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/opsdata/opsdata/labelers/internal/gridquery"
	"github.com/opsdata/opsdata/pipeline"
)

// Config is the manual labeler's section; the file format is in
// docs/spec.md (manual label files).
type Config struct {
	Path        string `yaml:"path"`         // file (glob)
	Format      string `yaml:"format"`       // yaml, json or csv (default from the extension)
	Timezone    string `yaml:"timezone"`     // zone of naive timestamps
	EntityLabel string `yaml:"entity_label"` // unused by files; accepted for symmetry
}

// Validate checks the section.
func (c *Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path: required: a YAML, JSON or CSV file (glob) of curated incidents"))
	} else if _, err := filepath.Match(c.Path, ""); err != nil {
		errs = append(errs, fmt.Errorf("path: %q: %w", c.Path, err))
	}
	switch c.Format {
	case "", "yaml", "json", "csv":
	default:
		errs = append(errs, fmt.Errorf("format: %q is not yaml, json or csv", c.Format))
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			errs = append(errs, fmt.Errorf("timezone: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Factory is the manual labeler kind.
func Factory() pipeline.LabelerFactory {
	return gridquery.Factory(false, func(c *Config, _ *pipeline.Problems) (pipeline.Labeler, error) {
		return NewManualLabeler(*c)
	})
}

// Fingerprint identifies the label files (pipeline.Fingerprinter).
func (c *Config) Fingerprint(context.Context) (string, error) {
	return pipeline.FingerprintFiles(c.Path)
}
