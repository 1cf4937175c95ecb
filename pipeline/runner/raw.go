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
// through the same leakage gate and publish protocol as Export.
func Raw(ctx context.Context, o RawOptions) (*RawResult, error) {
	s := o.Spec
	log := runLogger(o.Logger)
	from, to, err := runRange(s, o.From, o.To)
	if err != nil {
		return nil, err
	}
	from, to = from.UTC(), to.UTC()
	if !to.After(from) {
		return nil, fmt.Errorf("empty range: --to %s is not after --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	match := o.Match
	if len(match) == 0 {
		match = []string{`{__name__=~".+"}`}
	}
	selectors := make([][]*labels.Matcher, 0, len(match))
	for _, m := range match {
		ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(m)
		if err != nil {
			return nil, fmt.Errorf("--match %q: %w", m, err)
		}
		selectors = append(selectors, ms)
	}
	plan, err := Resolve(s, o.Components)
	if err != nil {
		return nil, err
	}
	rawSrc, rawCfg, source, err := plan.RawSource(o.Source)
	if err != nil {
		return nil, err
	}
	sweepScratch(log, o.TempDir)
	version := o.Version
	if version == "" {
		version = DefaultVersion(pipeline.Grid{Start: from, End: to})
	}
	output, key, anon, err := runOutput(ctx, s, o.Output, o.Public)
	if err != nil {
		return nil, err
	}

	q, closeQ, err := rawSrc.OpenRaw(ctx, rawCfg, from, to)
	if err != nil {
		return nil, fmt.Errorf("raw export from %s: %w", source, err)
	}
	defer closeQ()

	staging, cleanup, err := makeStaging(o.TempDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// Labels are anonymized as series are met; Labels learns every raw
	// value it replaces, so the leakage gate scans for all of them.
	st, err := raw.Write(ctx, q, raw.Options{Selectors: selectors, From: from, To: to, Dir: staging, Labels: anon.Labels})
	if err != nil {
		return nil, fmt.Errorf("raw export from %s: %w", source, err)
	}
	if st.Samples == 0 {
		return nil, fmt.Errorf("raw export from %s: no sample matches %s in %s..%s; nothing was published", source, strings.Join(match, " or "), from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	log.Info("raw tables staged", "series", st.Series, "samples", st.Samples, "stale", st.Stale)

	sum := sha256.Sum256(o.SpecBytes)
	dataset := s.Dataset + RawDatasetSuffix
	desc := strings.TrimSpace(s.Description)
	if desc != "" {
		desc += " "
	}
	desc += "Raw export: every sample of the series matching " + strings.Join(match, " or ") + " (tables samples and raw_series; no aggregation)."
	meta := publish.Meta{
		Dataset: dataset, Version: version, Title: s.Title + " (raw samples)", Description: desc,
		Licence: s.Licence, Citation: s.Citation, From: from, To: to, EntityKind: s.Entity.Kind,
		// The manifest requires a window; a raw version records the spec's grid
		// (that of the windowed dataset beside it). Samples keep their own times.
		Window:     time.Duration(s.Window),
		SpecDigest: "sha256:" + hex.EncodeToString(sum[:]), CodeVersion: o.CodeVersion,
		KeyEpoch: anonymize.Epoch(key), SchemaVersions: schemas.Versions,
		Anonymization: anon.Report(),
	}
	meta = withCitation(meta, s)
	man, already, err := finish(ctx, staged{dir: staging, meta: meta, anon: anon, spec: s, output: output, public: o.Public})
	if err != nil {
		return nil, err
	}
	return &RawResult{Dataset: dataset, Version: version, Output: output, Manifest: man, AlreadyPublished: already, Stats: st}, nil
}
