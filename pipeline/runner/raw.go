package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/raw"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// RawDatasetSuffix names the dataset a raw export publishes to:
// <spec dataset><RawDatasetSuffix>, beside the windowed dataset.
const RawDatasetSuffix = "-raw"

// RawOptions configure one raw export (opsdata raw).
type RawOptions struct {
	Spec      *spec.Spec
	SpecBytes []byte
	// Match are series selectors ({job="api"}, up, ...); a series is
	// exported when any matches. Empty exports every series.
	Match []string
	// From and To override the spec's range when set.
	From, To time.Time
	// Source names the metric source kind to read raw samples from (its
	// metrics section must be in the spec); remote-read is an alias of
	// prometheus; empty follows the spec's metrics.source.
	Source      string
	Components  pipeline.Components
	Version     string
	CodeVersion string
	Logger      *slog.Logger
	TempDir     string
	Output      string
	Public      bool
	// Buckets is the number of hash buckets of scrape targets (files per
	// day); 0 is raw.DefaultBuckets. Shards and their commit must agree.
	Buckets int
	// Shard and Shards run shard Shard of Shards (shard.go); Shards 0 runs
	// the whole export in this process and publishes it.
	Shard, Shards int
}

// RawResult describes a finished raw export.
type RawResult struct {
	Dataset, Version, Output string
	Manifest                 *schemas.Manifest
	AlreadyPublished         bool
	Stats                    raw.Stats
}

// Raw exports every sample of the selected series, labels anonymized by
// the spec's policy, and publishes it as a version of <dataset>-raw
// through the same leakage gate and publish protocol as Export. With
// o.Shards > 0 it runs one shard instead (RawShard, shard.go).
func Raw(ctx context.Context, o RawOptions) (*RawResult, error) {
	if o.Shards > 0 {
		return RawShard(ctx, o)
	}
	r, err := rawSetup(ctx, o)
	if err != nil {
		return nil, err
	}
	defer r.close()
	staging, cleanup, err := makeStaging(o.TempDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// Labels are anonymized as series are met; Labels learns every raw
	// value it replaces, so the leakage gate scans for all of them.
	st, err := raw.Write(ctx, r.q, r.writeOptions(staging, 0, 1))
	if err != nil {
		return nil, fmt.Errorf("raw export from %s: %w", r.source, err)
	}
	if st.Samples == 0 {
		return nil, r.noSamples()
	}
	r.log.Info("raw tables staged", "series", st.Series, "samples", st.Samples, "stale", st.Stale)
	r.meta.Anonymization = r.anon.Report()
	man, already, err := finish(ctx, staged{dir: staging, meta: r.meta, anon: r.anon, spec: o.Spec, output: r.output, public: o.Public})
	if err != nil {
		return nil, err
	}
	return &RawResult{Dataset: r.meta.Dataset, Version: r.meta.Version, Output: r.output, Manifest: man, AlreadyPublished: already, Stats: st}, nil
}

// rawRun is what a raw export, a shard of one and its commit share: the
// resolved range, selectors, source, output, anonymizer and manifest
// metadata.
type rawRun struct {
	o         RawOptions
	log       *slog.Logger
	from, to  time.Time
	match     []string
	selectors [][]*labels.Matcher
	source    string
	output    string
	key       []byte
	anon      *anonymize.Anonymizer
	q         storage.Querier
	close     func()
	meta      publish.Meta
	buckets   int
}

func rawSetup(ctx context.Context, o RawOptions) (*rawRun, error) {
	s := o.Spec
	r := &rawRun{o: o, log: runLogger(o.Logger), buckets: o.Buckets}
	if r.buckets == 0 {
		r.buckets = raw.DefaultBuckets
	}
	if r.buckets < 1 || r.buckets > raw.MaxBuckets {
		return nil, fmt.Errorf("--buckets %d: want 1 to %d", r.buckets, raw.MaxBuckets)
	}
	from, to, err := runRange(s, o.From, o.To)
	if err != nil {
		return nil, err
	}
	r.from, r.to = from.UTC(), to.UTC()
	if !r.to.After(r.from) {
		return nil, fmt.Errorf("empty range: --to %s is not after --from %s", r.to.Format(time.RFC3339), r.from.Format(time.RFC3339))
	}
	r.match = o.Match
	if len(r.match) == 0 {
		r.match = []string{`{__name__=~".+"}`}
	}
	for _, m := range r.match {
		ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(m)
		if err != nil {
			return nil, fmt.Errorf("--match %q: %w", m, err)
		}
		r.selectors = append(r.selectors, ms)
	}
	plan, err := Resolve(s, o.Components)
	if err != nil {
		return nil, err
	}
	rawSrc, rawCfg, source, err := plan.RawSource(o.Source)
	if err != nil {
		return nil, err
	}
	r.source = source
	sweepScratch(r.log, o.TempDir)
	version := o.Version
	if version == "" {
		version = DefaultVersion(pipeline.Grid{Start: r.from, End: r.to})
	}
	if r.output, r.key, r.anon, err = runOutput(ctx, s, o.Output, o.Public); err != nil {
		return nil, err
	}
	if r.q, r.close, err = rawSrc.OpenRaw(ctx, rawCfg, r.from, r.to); err != nil {
		return nil, fmt.Errorf("raw export from %s: %w", source, err)
	}
	sum := sha256.Sum256(o.SpecBytes)
	desc := strings.TrimSpace(s.Description)
	if desc != "" {
		desc += " "
	}
	desc += "Raw export: every sample of the series matching " + strings.Join(r.match, " or ") + " (tables samples and raw_series; no aggregation)."
	r.meta = publish.Meta{
		Dataset: s.Dataset + RawDatasetSuffix, Version: version, Title: s.Title + " (raw samples)", Description: desc,
		Licence: s.Licence, Citation: s.Citation, From: r.from, To: r.to, EntityKind: s.Entity.Kind,
		// The manifest requires a window; a raw version records the spec's grid
		// (that of the windowed dataset beside it). Samples keep their own times.
		Window:     time.Duration(s.Window),
		SpecDigest: "sha256:" + hex.EncodeToString(sum[:]), CodeVersion: o.CodeVersion,
		KeyEpoch: anonymize.Epoch(r.key), SchemaVersions: schemas.Versions,
	}
	r.meta = withCitation(r.meta, s)
	return r, nil
}

func (r *rawRun) writeOptions(dir string, shard, shards int) raw.Options {
	return raw.Options{Selectors: r.selectors, From: r.from, To: r.to, Dir: dir, Labels: r.anon.Labels,
		Key: r.key, Buckets: r.buckets, Shard: shard, Shards: shards}
}

func (r *rawRun) noSamples() error {
	return fmt.Errorf("raw export from %s: no sample matches %s in %s..%s; nothing was published", r.source, strings.Join(r.match, " or "), r.from.Format(time.RFC3339), r.to.Format(time.RFC3339))
}
