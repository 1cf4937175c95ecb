package alertseries

import (
	"context"
	"errors"

	"github.com/opsdata/opsdata/labelers/internal/gridquery"
	"github.com/opsdata/opsdata/pipeline"
)

// Config is the alerts_series labeler's section.
type Config struct {
	gridquery.Config `yaml:",inline"`
}

// Validate checks the section.
func (c *Config) Validate() error { return errors.Join(c.Problems()...) }

// Factory is the alerts_series labeler kind; it needs a Queryable metric source.
func Factory() pipeline.LabelerFactory {
	return gridquery.Factory(true, func(c *Config, p *pipeline.Problems) (pipeline.Labeler, error) {
		return NewAlertSeriesLabeler(*c, p), nil
	})
}

// Fingerprint: ALERTS series come from the metric source, fingerprinted there.
func (*Config) Fingerprint(context.Context) (string, error) { return "alerts_series", nil }
