package promtsdb

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// Config is the metrics.tsdb section: a Prometheus TSDB directory (blocks,
// as a snapshot or a stopped server leaves them), opened read-only.
type Config struct {
	Path string `yaml:"path"`
}

// Validate checks the section; keys are named relative to metrics.tsdb.
func (c *Config) Validate() error {
	if c.Path == "" {
		return errors.New("path: required: a Prometheus data directory or snapshot (opsdata demo writes one)")
	}
	return nil
}

// Factory is the tsdb metric source kind: PromQL features over a TSDB on
// disk, the storage for rule labelers, and raw samples for opsdata raw.
func Factory() pipeline.MetricSourceFactory {
	return pipeline.MetricSourceFactory{
		Section:   "tsdb",
		NewConfig: func() pipeline.Config { return &Config{} },
		Queryable: true,
		New: func(ctx context.Context, m spec.Metrics, cfg pipeline.Config, _ *pipeline.Problems) (pipeline.MetricSource, error) {
			return Open(ctx, cfg.(*Config).Path, time.Duration(m.LookbackDelta))
		},
		OpenRaw: func(_ context.Context, cfg pipeline.Config, from, to time.Time) (storage.Querier, func(), error) {
			d, err := OpenDir(cfg.(*Config).Path)
			if err != nil {
				return nil, nil, err
			}
			q, err := d.Querier(from.UnixMilli(), to.UnixMilli()-1)
			if err != nil {
				d.Close()
				return nil, nil, err
			}
			return q, func() { q.Close(); d.Close() }, nil
		},
	}
}

// openAllTime opens dir with one querier over all time: the WAL is
// replayed on every Querier call, which must not happen per query.
func openAllTime(dir string) (q storage.Querier, head bool, leftOut map[string]int, release func() error, err error) {
	d, err := OpenDir(dir)
	if err != nil {
		return nil, false, nil, nil, err
	}
	q, err = d.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		d.Close()
		return nil, false, nil, nil, err
	}
	return q, d.db != nil, d.Skipped, func() error { return errors.Join(q.Close(), d.Close()) }, nil
}
