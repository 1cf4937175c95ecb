// Package promblocks is the metric source over Prometheus TSDB blocks in
// object storage, in the layout Thanos sidecars, receivers and compactors
// write (<ULID>/meta.json, index, chunks/). It selects blocks by time and
// by their external labels, downloads those a query needs into a bounded
// local cache, opens them read-only with Prometheus' own block reader and
// deduplicates HA replicas as the Thanos querier does
// (docs/decisions/0034-tsdb-blocks-in-object-storage.md). Features are
// evaluated by the same PromQL engine as the tsdb source.
package promblocks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"gopkg.in/yaml.v3"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/opsdata/opsdata/spec"
)

// DefaultCacheMaxBytes bounds the local block cache when the spec says
// nothing: a day of 2-hour blocks of a mid-sized Prometheus.
const DefaultCacheMaxBytes = 8 << 30

// Config is the metrics.blocks section.
type Config struct {
	// Bucket is file://DIR or s3://BUCKET[/PREFIX], holding blocks.
	Bucket string `yaml:"bucket"`
	// Prefix is a key prefix inside the bucket (after the URL's own).
	Prefix string `yaml:"prefix"`
	// ExternalLabels selects blocks by their meta.json thanos.labels,
	// as a label selector: {cluster="a", env=~"prod|staging"}.
	ExternalLabels string `yaml:"external_labels"`
	// ReplicaLabels are the external labels that tell HA replicas apart
	// (e.g. replica, prometheus_replica); blocks differing only in them
	// hold one series set, deduplicated.
	ReplicaLabels []string `yaml:"replica_labels"`
	// CacheDir keeps downloaded blocks between runs; empty means a scratch
	// directory removed at the end of the run.
	CacheDir string `yaml:"cache_dir"`
	// CacheMaxBytes bounds the cache (an integer, or 512MiB, 8GiB, ...).
	CacheMaxBytes Bytes `yaml:"cache_max_bytes"`
	// S3 are the settings of an s3:// bucket (the keys of the spec's
	// top-level s3:, which configures the output); the AWS_* environment
	// fills what is left out.
	S3 bucket.S3 `yaml:"s3"`
}

// NewConfig returns the defaults.
func NewConfig() *Config { return &Config{CacheMaxBytes: DefaultCacheMaxBytes} }

// Validate checks the section; keys are named relative to metrics.blocks.
func (c *Config) Validate() error {
	var errs []error
	switch {
	case c.Bucket == "":
		errs = append(errs, errors.New("bucket: required: the object storage holding the blocks, s3://BUCKET[/PREFIX] or file:///DIR"))
	case !strings.HasPrefix(c.Bucket, "s3://") && !strings.HasPrefix(c.Bucket, "file://"):
		errs = append(errs, errors.New("bucket: not a file:// or s3:// URL; write s3://BUCKET[/PREFIX] or file:///DIR"))
	}
	if strings.Contains(c.Prefix, "..") || strings.HasPrefix(c.Prefix, "/") {
		errs = append(errs, errors.New("prefix: must be a relative key prefix without '..' (e.g. tenant-a)"))
	}
	if _, err := c.selector(); err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	for i, l := range c.ReplicaLabels {
		if !isLabelName(l) {
			errs = append(errs, fmt.Errorf("replica_labels[%d]: not a label name (letters, digits and _, not starting with a digit)", i))
		}
		if seen[l] {
			errs = append(errs, fmt.Errorf("replica_labels[%d]: listed twice", i))
		}
		seen[l] = true
	}
	if c.CacheMaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("cache_max_bytes: must be positive (default %d, 8GiB); it must hold the blocks of one query's range", DefaultCacheMaxBytes))
	}
	for _, e := range c.S3.ValidateS3() {
		errs = append(errs, errors.New(e))
	}
	return errors.Join(errs...)
}

// selector parses external_labels.
// blocksPrefix is where the blocks are inside the bucket: the bucket URL's
// own path, then the prefix key.
func (c *Config) blocksPrefix(urlPrefix string) string {
	return strings.Trim(strings.Trim(urlPrefix, "/")+"/"+strings.Trim(c.Prefix, "/"), "/")
}

func (c *Config) selector() ([]*labels.Matcher, error) {
	if strings.TrimSpace(c.ExternalLabels) == "" {
		return nil, nil
	}
	ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(c.ExternalLabels)
	if err != nil {
		return nil, errors.New(`external_labels: not a label selector; write matchers on meta.json's thanos.labels such as {cluster="a", env=~"prod.*"}`)
	}
	for _, m := range ms {
		if m.Name == labels.MetricName {
			return nil, errors.New("external_labels: blocks have no metric name; match external labels only (e.g. {cluster=\"a\"})")
		}
	}
	return ms, nil
}

func isLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Bytes is a size: an integer number of bytes or one with a binary unit
// (KiB, MiB, GiB, TiB).
type Bytes int64

// UnmarshalYAML reads 1073741824 or 1GiB.
func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimSpace(n.Value)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.m
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return fmt.Errorf("line %d: not a size; write bytes (1073741824) or with a unit (512MiB, 8GiB)", n.Line)
	}
	*b = Bytes(v * mult)
	return nil
}

// Factory is the blocks metric source kind: PromQL features, the storage
// for rule labelers, and raw samples for opsdata raw, all over blocks in
// object storage.
func Factory() pipeline.MetricSourceFactory {
	return pipeline.MetricSourceFactory{
		Section:   "blocks",
		NewConfig: func() pipeline.Config { return NewConfig() },
		Queryable: true,
		New: func(ctx context.Context, m spec.Metrics, cfg pipeline.Config, _ *pipeline.Problems) (pipeline.MetricSource, error) {
			return Open(ctx, cfg.(*Config), time.Duration(m.LookbackDelta))
		},
		OpenRaw: func(ctx context.Context, cfg pipeline.Config, from, to time.Time) (storage.Querier, func(), error) {
			st, err := OpenStore(ctx, cfg.(*Config))
			if err != nil {
				return nil, nil, err
			}
			q, err := st.Querier(from.UnixMilli(), to.UnixMilli()-1)
			if err != nil {
				st.Close()
				return nil, nil, err
			}
			return q, func() { q.Close(); st.Close() }, nil
		},
	}
}

// Open lists the bucket's blocks for feature evaluation; blocks are
// downloaded as the queries reach them.
func Open(ctx context.Context, cfg *Config, lookback time.Duration) (*promtsdb.Source, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Each query opens its own block queriers; the block cache is locked.
	// Downsampled, deleted and partial blocks are reported: the operator
	// may expect their data. Blocks another block supersedes (their
	// samples are read there) and those the selector leaves out are not.
	l := st.list
	leftOut := map[string]int{promtsdb.SkipDownsampled: l.downsampled, promtsdb.SkipDeleted: l.deleted, promtsdb.SkipPartial: l.partial}
	return promtsdb.NewSource("blocks "+cfg.Bucket, promtsdb.ConcurrentQueryable{Queryable: st}, st.Close, lookback).WithLeftOut(leftOut), nil
}
