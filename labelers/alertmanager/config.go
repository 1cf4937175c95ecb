package alertmanager

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/opsdata/opsdata/labelers/internal/gridquery"
	"github.com/opsdata/opsdata/pipeline"
)

// Config is the alertmanager labeler's section.
type Config struct {
	URL         string `yaml:"url"`          // Alertmanager's base URL
	EntityLabel string `yaml:"entity_label"` // alert label naming the entity (default entity.label)
}

// Validate checks the section.
func (c *Config) Validate() error {
	u, err := url.Parse(strings.TrimRight(c.URL, "/"))
	if c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url: %q must be the http(s)://HOST:PORT of Alertmanager", c.URL)
	}
	return nil
}

// Factory is the alertmanager labeler kind.
func Factory() pipeline.LabelerFactory {
	return gridquery.Factory(false, func(c *Config, p *pipeline.Problems) (pipeline.Labeler, error) {
		return NewAlertmanagerLabeler(*c, p)
	})
}
