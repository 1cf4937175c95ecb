package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// staged is a version written into a private staging directory, ready for
// the steps every command that publishes shares (finish): the
// anonymization report, the manifest, the leakage gate, then publishing.
type staged struct {
	dir    string
	meta   publish.Meta
	anon   *anonymize.Anonymizer
	spec   *spec.Spec
	output string
	public bool
	// publish replaces the upload when set (Options.Publish).
	publish func(ctx context.Context, dir string, m *schemas.Manifest) error
	clock   *stageClock // nil: not timed
}

// finish writes the anonymization report into the staged version,
// prepares its manifest, refuses to publish if the leakage gate finds a
// raw identifier the anonymizer saw (or a canary) in any staged byte, and
// publishes the version to output. already is true when the identical
// version was published before (nothing was done).
func finish(ctx context.Context, v staged) (man *schemas.Manifest, already bool, err error) {
	s := v.spec
	// The report (counts per rule and type, no values) is part of the
	// version: written before Prepare so it is checksummed, and gated.
	if err := v.anon.WriteReport(v.dir); err != nil {
		return nil, false, err
	}
	if _, err := publish.Prepare(v.dir, v.meta); err != nil {
		return nil, false, fmt.Errorf("prepare version: %w", err)
	}
	t0 := time.Now()
	leaks, err := v.anon.ScanDir(ctx, v.dir, 10)
	v.clock.since(stageGate, t0)
	if err != nil {
		return nil, false, fmt.Errorf("leakage gate: %w", err)
	}
	if len(leaks) > 0 {
		var b strings.Builder
		for _, l := range leaks {
			fmt.Fprintf(&b, "\n  %s column %q row %d: %s", l.File, l.Column, l.Row, l.Needle)
		}
		return nil, false, fmt.Errorf("%w: %d raw identifier(s) found, first:%s\nfix the anonymization policy (anonymize: in %s); nothing was published", ErrLeak, len(leaks), b.String(), s.Path)
	}
	defer v.clock.since(stagePublish, time.Now())
	// Prepare again: the manifest must describe the files exactly as gated.
	man, err = publish.Prepare(v.dir, v.meta)
	if err != nil {
		return nil, false, fmt.Errorf("prepare version: %w", err)
	}
	if v.publish != nil {
		if err := v.publish(ctx, v.dir, man); err != nil {
			return nil, false, err
		}
		return man, false, nil
	}
	bkt, prefix, err := bucket.OpenBucket(ctx, v.output, bucket.WithS3(s.S3))
	if err != nil {
		return nil, false, fmt.Errorf("output %s: %w", v.output, err)
	}
	defer bkt.Close()
	if v.public {
		if err := bucket.SetPublicRead(ctx, v.output, v.meta.Dataset, bucket.WithS3(s.S3)); err != nil {
			return nil, false, fmt.Errorf("publish %s/%s: nothing published: %w", v.meta.Dataset, v.meta.Version, err)
		}
	}
	if err := publish.Publish(ctx, bkt, prefix, v.dir, man); err != nil {
		if errors.Is(err, publish.ErrAlreadyPublished) {
			return man, true, nil
		}
		return nil, false, fmt.Errorf("publish %s/%s: %w", v.meta.Dataset, v.meta.Version, err)
	}
	return man, false, nil
}

// runRange is the range a run covers: the spec's, each end overridden
// when from or to is set.
func runRange(s *spec.Spec, from, to time.Time) (time.Time, time.Time, error) {
	if from.IsZero() {
		from = s.Range.From
	}
	if to.IsZero() {
		to = s.Range.To
	}
	if from.IsZero() || to.IsZero() {
		return from, to, fmt.Errorf("no export range: set range.from and range.to in %s or pass --from and --to", s.Path)
	}
	return from, to, nil
}

// runOutput resolves the output URL (the spec's unless override is set),
// refusing a bad one (or --public on file://) before the work rather than
// after, and builds the anonymizer from the spec's key and policy.
func runOutput(ctx context.Context, s *spec.Spec, override string, public bool) (output string, key []byte, anon *anonymize.Anonymizer, err error) {
	output = s.Output
	if override != "" {
		output = override
	}
	if err := bucket.CheckOutput(ctx, output, public, bucket.WithS3(s.S3)); err != nil {
		return "", nil, nil, err
	}
	if err := bucket.SweepTempFiles(output); err != nil {
		return "", nil, nil, fmt.Errorf("output %s: removing stray upload temp files: %w", output, err)
	}
	if key, err = anonymize.LoadKey(s.Anonymize.Key); err != nil {
		return "", nil, nil, fmt.Errorf("anonymization key: %w", err)
	}
	if anon, err = anonymize.New(key, s.Anonymize, s.Entity.Label); err != nil {
		return "", nil, nil, fmt.Errorf("anonymization policy: %w", err)
	}
	// The dataset's own words (feature and label names, the spec's names)
	// never count as distinctive identifiers: a log line cannot turn one
	// into a value that blocks publishing.
	vocab := []string{s.Dataset, s.Entity.Kind, s.Entity.Label}
	for _, f := range s.Metrics.Features {
		vocab = append(vocab, f.Name)
	}
	for _, l := range s.Logs {
		vocab = append(vocab, l.Name)
	}
	for _, t := range s.Tickets {
		vocab = append(vocab, t.Name)
	}
	anon.AddVocabulary(vocab...)
	return output, key, anon, nil
}
