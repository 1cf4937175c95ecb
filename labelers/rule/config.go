package rule

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/opsdata/opsdata/labelers/internal/gridquery"
	"github.com/opsdata/opsdata/pipeline"
)

// Config is the rule labeler's section.
type Config struct {
	gridquery.Config `yaml:",inline"`
	Rules            []string `yaml:"rules"` // Prometheus alerting-rule files (globs)
}

// Validate checks the section.
func (c *Config) Validate() error {
	errs := c.Problems()
	if len(c.Rules) == 0 {
		errs = append(errs, errors.New("rules: required: one or more Prometheus alerting-rule files"))
	}
	for i, p := range c.Rules {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("rules[%d]: %q: %w", i, p, err))
		}
	}
	return errors.Join(errs...)
}

// Factory is the rule labeler kind; it needs a Queryable metric source.
func Factory() pipeline.LabelerFactory {
	return gridquery.Factory(true, func(c *Config, p *pipeline.Problems) (pipeline.Labeler, error) {
		return NewRuleLabeler(*c, p)
	})
}

// Fingerprint identifies the rule files (pipeline.Fingerprinter).
func (c *Config) Fingerprint(context.Context) (string, error) {
	return pipeline.FingerprintFiles(c.Rules...)
}
