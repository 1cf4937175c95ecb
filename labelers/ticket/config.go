package ticket

import (
	"context"

	"github.com/opsdata/opsdata/labelers/internal/gridquery"
	"github.com/opsdata/opsdata/pipeline"
)

// Config is the ticket labeler's section: it has no keys of its own
// (horizon and recovery are the spec's, for every labeler).
type Config struct{}

// Validate has nothing to check.
func (*Config) Validate() error { return nil }

// Factory is the ticket labeler kind.
func Factory() pipeline.LabelerFactory {
	return gridquery.Factory(false, func(_ *Config, p *pipeline.Problems) (pipeline.Labeler, error) {
		return NewTicketLabeler(p), nil
	})
}

// Fingerprint: the ticket labeler reads nothing but the tickets.
func (*Config) Fingerprint(context.Context) (string, error) { return "ticket", nil }
