package github

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/sources/ticketfile"
)

// Config is a github ticket source's section of tickets[].
type Config struct {
	// Name is the spec's name: key, set by the factory.
	Name string `yaml:"-"`
	// URL is the API base (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3).
	URL      string    `yaml:"url"`
	Repo     string    `yaml:"repo"`      // OWNER/NAME
	Labels   []string  `yaml:"labels"`    // issue label filter, e.g. [incident]
	Since    time.Time `yaml:"since"`     // only issues updated at or after
	TokenEnv string    `yaml:"token_env"` // env variable holding the API token (default GITHUB_TOKEN)
	// Fields name the body/custom fields of times (see ticketfile.Mapping).
	Fields ticketfile.Fields `yaml:"fields"`
	// Timezone applies to naive timestamps.
	Timezone string             `yaml:"timezone"`
	Mapping  ticketfile.Mapping `yaml:"mapping"`
}

// Validate checks the section; keys are named relative to tickets[i].
func (c *Config) Validate() error {
	var errs []error
	if strings.Count(c.Repo, "/") != 1 {
		errs = append(errs, fmt.Errorf("repo: %q must be OWNER/NAME", c.Repo))
	}
	if c.URL != "" && !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		errs = append(errs, fmt.Errorf("url: %q must be an http(s) URL", c.URL))
	}
	errs = append(errs, c.Mapping.Validate("github"), ticketfile.CheckZone(c.Timezone))
	return errors.Join(errs...)
}

// Factory is the github ticket source kind.
func Factory() pipeline.TicketSourceFactory {
	return pipeline.TicketSourceFactory{
		NewConfig: func() pipeline.Config { return &Config{} },
		New: func(name string, cfg pipeline.Config, problems *pipeline.Problems) (pipeline.TicketSource, error) {
			c := *cfg.(*Config)
			c.Name = name
			return NewSource(c, problems)
		},
	}
}
