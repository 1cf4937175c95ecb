package jira

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/sources/ticketfile"
)

// Config is a jira ticket source's section of tickets[].
type Config struct {
	// Name is the spec's name: key, set by the factory.
	Name     string `yaml:"-"`
	URL      string `yaml:"url"`       // the Jira base URL
	JQL      string `yaml:"jql"`       // the search selecting incident issues
	TokenEnv string `yaml:"token_env"` // env variable holding the API token
	UserEnv  string `yaml:"user_env"`  // env variable holding the user (basic auth with the token)
	// Fields name the body/custom fields of times (see ticketfile.Mapping).
	Fields ticketfile.Fields `yaml:"fields"`
	// Timezone applies to naive timestamps.
	Timezone string             `yaml:"timezone"`
	Mapping  ticketfile.Mapping `yaml:"mapping"`
}

// Validate checks the section; keys are named relative to tickets[i].
func (c *Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("url: required: the Jira base URL"))
	}
	if c.JQL == "" {
		errs = append(errs, errors.New("jql: required: the JQL selecting incident issues"))
	}
	if c.URL != "" && !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		errs = append(errs, fmt.Errorf("url: %q must be an http(s) URL", c.URL))
	}
	errs = append(errs, c.Mapping.Validate("jira"), ticketfile.CheckZone(c.Timezone))
	return errors.Join(errs...)
}

// Factory is the jira ticket source kind.
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
