package pipeline

import (
	"context"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/opsdata/opsdata/spec"
)

// FeatureSeries is one output series of one feature expression, its values
// on the window grid. Values[i] belongs to window i; NaN marks "no value".
type FeatureSeries struct {
	Feature string
	Labels  labels.Labels
	Values  []float64
}

// MetricSource evaluates the spec's PromQL features on a window grid.
// The embedded TSDB source is in sources/promtsdb.
type MetricSource interface {
	// Evaluate evaluates feature over grid and calls emit once per output
	// series, in a deterministic order (sorted by labels).
	Evaluate(ctx context.Context, grid Grid, feature spec.Feature, emit func(FeatureSeries) error) error
	// LabelValues lists the values a label takes in the source over grid,
	// so the anonymizer can recognise them in free text.
	LabelValues(ctx context.Context, grid Grid, name string) ([]string, error)
	Close() error
}

// LogSource opens a stream of log records. Malformed lines are counted in
// the Problems the factory was given, never returned as errors; an error
// means the source as a whole failed (missing file, I/O).
type LogSource interface {
	Name() string
	Open(ctx context.Context) (LogIterator, error)
}

// LogIterator is a Prometheus-style pull iterator over log records.
type LogIterator interface {
	Next() bool
	At() LogRecord
	Err() error
	Close() error
}

// TicketSource reads tickets. Tickets are few, so a slice is fine.
type TicketSource interface {
	Name() string
	Tickets(ctx context.Context) ([]Ticket, error)
}

// LabelInput is what a labeler may look at.
type LabelInput struct {
	Grid     Grid
	Entities []string
	Tickets  []Ticket
	// EntityLabel is the metric label naming an entity (spec entity.label);
	// alert and rule labelers map alert labels to entities with it.
	EntityLabel string
	// Queryable is the metric source's storage, for labelers that evaluate
	// PromQL over history (rule, alerts_series); nil when the metric source
	// exposes none.
	Queryable storage.Queryable
}

// Labeler turns evidence (tickets, alerts, rules, manual files) into
// per-entity incidents with provenance.
type Labeler interface {
	Name() string
	Incidents(ctx context.Context, in LabelInput) ([]Incident, error)
}

// Factories build components from their spec sections. The CLI registers
// every kind explicitly in one Components value (cmd/opsdata/components.go).
type (
	MetricSourceFactory func(ctx context.Context, cfg spec.Metrics) (MetricSource, error)
	LogSourceFactory    func(cfg spec.LogSource, problems *Problems) (LogSource, error)
	TicketSourceFactory func(cfg spec.TicketSource, problems *Problems) (TicketSource, error)
	LabelerFactory      func(cfg spec.Labeler, problems *Problems) (Labeler, error)
)

// Components is the registry of every source and labeler kind, keyed by the
// spec's kind/format names.
type Components struct {
	Metrics  map[string]MetricSourceFactory
	Logs     map[string]LogSourceFactory
	Tickets  map[string]TicketSourceFactory
	Labelers map[string]LabelerFactory
}
