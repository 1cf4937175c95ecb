package pipeline

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// FeatureSeries is one output series of one feature expression, its values
// on the window grid. Values[i] belongs to window i; NaN marks "no value".
type FeatureSeries struct {
	Feature string
	Labels  labels.Labels
	Values  []float64
}

// NewFeatureSeries is a series of feature over n windows with no value
// yet (NaN everywhere), for a source to fill slice by slice.
func NewFeatureSeries(feature string, lset labels.Labels, n int) *FeatureSeries {
	values := make([]float64, n)
	for i := range values {
		values[i] = math.NaN()
	}
	return &FeatureSeries{Feature: feature, Labels: lset, Values: values}
}

// EmitSorted hands merged series to emit sorted by labels, the order
// MetricSource.Evaluate promises.
func EmitSorted(series map[string]*FeatureSeries, emit func(FeatureSeries) error) error {
	out := make([]*FeatureSeries, 0, len(series))
	for _, fs := range series {
		out = append(out, fs)
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Labels, out[j].Labels) < 0 })
	for _, fs := range out {
		if err := emit(*fs); err != nil {
			return err
		}
	}
	return nil
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
	// Queryable is the source's storage for PromQL over history (rule and
	// ALERTS labelers); nil when the source has none (its factory says
	// which in MetricSourceFactory.Queryable).
	Queryable() storage.Queryable
	Close() error
}

// BlocksLeftOut is a metric source that left some blocks of its storage
// out (a Thanos download's or bucket's downsampled blocks, blocks marked
// for deletion, partial uploads): LeftOut counts them by reason, so the
// export can say that data it was given is not in the dataset.
type BlocksLeftOut interface {
	LeftOut() map[string]int
}

// LogSource opens a stream of log records. Malformed lines are counted in
// the Problems the factory was given, never returned as errors; an error
// means the source as a whole failed (missing file, I/O).
type LogSource interface {
	Name() string
	// Open starts reading the records of grid's range (sources that query
	// a range, like Loki, fetch just that; file sources read their files).
	Open(ctx context.Context, grid Grid) (LogIterator, error)
}

// LogIterator is a Prometheus-style pull iterator over log records.
type LogIterator interface {
	Next() bool
	At() LogRecord
	Err() error
	Close() error
}

// FieldSelector is implemented by log sources that can leave out the
// structured fields no stage reads: the runner names the fields its
// anonymizer learns from (anonymize.log_fields), and the source then puts
// no other into LogRecord.Fields (parsing a field costs more than the rest
// of a JSON line's fields together). Called before Open.
type FieldSelector interface {
	SelectFields(keys []string)
}

// LogResumer is implemented by log sources that can start where an
// earlier run left each of their files (the file sources): a resumed
// export reads only what is new instead of parsing the whole history
// again (runner checkpoint, decision 0038).
type LogResumer interface {
	// Resume makes the next Open start each file at its mark in from
	// (lines before it are neither parsed nor counted; the problems the
	// mark recorded are counted instead) and record, per file, the mark at
	// `at`: just before the file's first record at or after it, or its end.
	Resume(from map[string]LogMark, at time.Time)
	// Marks are the files' marks, complete once the iterator Open returned
	// has been read to its end.
	Marks() map[string]LogMark
}

// LogMark is where a run left one log file: the lines and bytes before a
// record time, the problems counted in them, and the last record's time
// before it (for the next record's order check).
type LogMark struct {
	Line     int64                 `json:"line"`
	Offset   int64                 `json:"offset"` // bytes, uncompressed
	Size     int64                 `json:"size"`   // the file's size then
	Tail     string                `json:"tail"`   // sha256 of the bytes just before Offset (plain files)
	ModTime  time.Time             `json:"mod_time"`
	Prev     time.Time             `json:"prev"`
	Problems schemas.InputProblems `json:"problems"`
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
	// Slices, when set, is how those labelers get each slice of their
	// range queries (a sharded export's shards and commit); nil evaluates
	// them on Queryable.
	Slices SliceEvaluator
}

// RangeSlice is one slice of a labeler's range query: expr evaluated at
// Start, Start+Step, ..., End.
type RangeSlice struct {
	Expr       string
	Start, End time.Time
	Step       time.Duration
}

// SliceEvaluator returns the matrix of one slice: eval evaluates an
// expression over the slice's steps on the metric source's storage (s.Expr,
// or one narrowed to some series); an implementation may call it, keep what
// it returns, or answer from what another process evaluated. It may be
// called from several goroutines at once.
type SliceEvaluator func(ctx context.Context, s RangeSlice, eval func(ctx context.Context, expr string) (promql.Matrix, error)) (promql.Matrix, error)

// IncidentResumer is implemented by labelers that evaluate metrics over
// the history (the rule labeler) and can continue an earlier run that
// ended at `at` instead of evaluating every day again: prev are that run's
// incidents; the result is what Incidents over the whole grid returns.
type IncidentResumer interface {
	ResumeIncidents(ctx context.Context, in LabelInput, at time.Time, prev []Incident) ([]Incident, error)
}

// Labeler turns evidence (tickets, alerts, rules, manual files) into
// per-entity incidents with provenance.
type Labeler interface {
	Name() string
	Incidents(ctx context.Context, in LabelInput) ([]Incident, error)
}

// Checker is implemented by components that can check their inputs
// without an export (opsdata check): files exist, open and parse. Records a
// run would count as malformed go to the component's Problems, not err.
// entityLabel is the spec's entity.label, for files that name entities by
// series selectors.
type Checker interface {
	Check(ctx context.Context, entityLabel string) error
}

// Config is a component's own configuration: the kind declares it next to
// its factory, with defaults (NewConfig) and Validate, and decodes it from
// its spec section. Validate names keys relative to the section.
type Config interface {
	Validate() error
}

// Factories build components from their own configs. The CLI registers
// every kind explicitly in one Components value (cmd/opsdata/components.go);
// the runner resolves the spec against it and never names a kind.
type (
	// MetricSourceFactory builds a metric source. Its config is the metrics
	// section's Section key (tsdb, prometheus, file), shared by kinds that
	// read the same settings (openmetrics and csv both read file:).
	MetricSourceFactory struct {
		Section   string
		NewConfig func() Config
		// Queryable: the source serves PromQL storage (MetricSource.Queryable)
		// to labelers that evaluate rules or read ALERTS over history.
		Queryable bool
		New       func(ctx context.Context, m spec.Metrics, cfg Config, problems *Problems) (MetricSource, error)
		// OpenRaw, when set, reads every raw sample in [from, to) for
		// opsdata raw; the closer releases what it opened.
		OpenRaw func(ctx context.Context, cfg Config, from, to time.Time) (storage.Querier, func(), error)
	}
	LogSourceFactory struct {
		NewConfig func() Config
		New       func(name string, cfg Config, problems *Problems) (LogSource, error)
	}
	TicketSourceFactory struct {
		NewConfig func() Config
		New       func(name string, cfg Config, problems *Problems) (TicketSource, error)
	}
	LabelerFactory struct {
		NewConfig func() Config
		// NeedsQueryable: the labeler evaluates PromQL over the metric
		// source's storage; the spec's metric source must be Queryable.
		NeedsQueryable bool
		New            func(cfg Config, problems *Problems) (Labeler, error)
	}
)

// Components is the registry of every source and labeler kind, keyed by the
// spec's kind/format names.
type Components struct {
	Metrics  map[string]MetricSourceFactory
	Logs     map[string]LogSourceFactory
	Tickets  map[string]TicketSourceFactory
	Labelers map[string]LabelerFactory
}
