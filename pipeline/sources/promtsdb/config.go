package promtsdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

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
		New: func(ctx context.Context, m spec.Metrics, cfg pipeline.Config) (pipeline.MetricSource, error) {
			return Open(ctx, cfg.(*Config).Path, time.Duration(m.LookbackDelta))
		},
		OpenRaw: func(_ context.Context, cfg pipeline.Config, from, to time.Time) (storage.Querier, func(), error) {
			dir := cfg.(*Config).Path
			db, cleanup, err := OpenReadOnly(dir)
			if err != nil {
				return nil, nil, err
			}
			q, err := db.Querier(from.UnixMilli(), to.UnixMilli()-1)
			if err != nil {
				cleanup()
				return nil, nil, fmt.Errorf("tsdb %s: %w", dir, err)
			}
			return q, func() { q.Close(); cleanup() }, nil
		},
	}
}

// OpenReadOnly opens dir read-only; the read-only loader needs a scratch
// directory, which lives in the system temp dir and goes with cleanup. The
// one opener of TSDB directories: the windowed and the raw export use it.
func OpenReadOnly(dir string) (*tsdb.DBReadOnly, func() error, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("tsdb %s: %w (run `opsdata demo` or point metrics.tsdb.path at a Prometheus data dir or snapshot)", dir, err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("tsdb %s: not a directory", dir)
	}
	sandbox, err := os.MkdirTemp("", "opsdata-tsdb-")
	if err != nil {
		return nil, nil, fmt.Errorf("tsdb scratch dir: %w", err)
	}
	db, err := tsdb.OpenDBReadOnly(dir, sandbox, promslog.NewNopLogger())
	if err != nil {
		os.RemoveAll(sandbox)
		return nil, nil, fmt.Errorf("open tsdb %s: %w", dir, err)
	}
	return db, func() error { return errors.Join(db.Close(), os.RemoveAll(sandbox)) }, nil
}

// openAllTime is OpenReadOnly with one querier over all time: DBReadOnly
// reloads blocks and replays the WAL on every Querier call, which must not
// happen per query.
func openAllTime(dir string) (storage.Querier, func() error, error) {
	db, cleanup, err := OpenReadOnly(dir)
	if err != nil {
		return nil, nil, err
	}
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("open tsdb %s: %w", dir, err)
	}
	return q, func() error { return errors.Join(q.Close(), cleanup()) }, nil
}
