package nightly

import (
	"context"
	"fmt"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/runner"
)

// A night in shards (decision 0041): `nightly --shards N` on N machines
// evaluates the night's PromQL the way `export --shards N` does, for the
// days the night will export, and `nightly --from-shards N` runs the night
// with it. The shards read the dataset's state but take no lease and
// write only under <dataset>/_state/staging/nightly-<watermark>/. What the
// night needs and no shard staged (the night did not resume where the
// shards expected, or another run moved the watermark) is evaluated by
// the night itself: the shards save time, never decide a value.

// ShardsReport says what a night read from its shards.
type ShardsReport struct {
	Shards          int `json:"shards"`
	Pieces          int `json:"pieces"`
	PiecesEvaluated int `json:"pieces_evaluated"`
	Slices          int `json:"slices"`
	SlicesEvaluated int `json:"slices_evaluated"`
	// Unused says why the night could not read the shards' results and
	// evaluated everything itself.
	Unused string `json:"unused,omitempty"`
}

// shardOptions are the export options a night's shards run with, from the
// dataset's state without its lease; ok is false when there is no new
// complete day to evaluate.
func shardOptions(ctx context.Context, o Options) (eo runner.Options, ok bool, err error) {
	s := o.Spec
	output := outputOf(o)
	bkt, prefix, err := bucket.OpenBucket(ctx, output, bucket.WithS3(s.S3))
	if err != nil {
		return eo, false, fmt.Errorf("output %s: %w", output, err)
	}
	defer bkt.Close()
	prev, _, err := loadState(ctx, bkt, prefix, s.Dataset)
	if err != nil {
		return eo, false, fmt.Errorf("read state: %w", err)
	}
	start, prevWM, err := watermarkOf(s, prev)
	if err != nil {
		return eo, false, err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	wm := nextWatermark(prevWM, now.UTC(), time.Duration(s.Nightly.Settle), s.Nightly.MaxDays)
	if !wm.After(prevWM) {
		return eo, false, nil
	}
	eo = runner.Options{Spec: s, SpecBytes: o.SpecBytes, From: start, To: wm, Version: "nightly-" + wm.Format(time.DateOnly),
		CodeVersion: o.CodeVersion, Components: o.Components, Logger: o.Logger, TempDir: o.TempDir, Output: output}
	// The night resumes at the watermark when nothing in the state stops
	// it (resumePoint); then only the new days are evaluated, and the rule
	// labeler from its warm-up.
	key, err := anonymize.LoadKey(s.Anonymize.Key)
	if err != nil {
		return eo, false, fmt.Errorf("anonymization key: %w", err)
	}
	if resumeBlocker(prev, o.Full, specFingerprint(o.SpecBytes), anonymize.Epoch(key)) == "" {
		eo.Resume = &runner.Resume{At: prevWM}
	}
	return eo, true, nil
}

// Shard runs shard i of n of the night: nil result when the night has no
// new day to evaluate.
func Shard(ctx context.Context, o Options, i, n int) (*runner.ShardResult, error) {
	eo, ok, err := shardOptions(ctx, o)
	if err != nil || !ok {
		return nil, err
	}
	return runner.ExportShard(ctx, eo, i, n)
}

// fetchShards checks and downloads what the night's shards staged; nil
// when the night has no new day to evaluate.
func fetchShards(ctx context.Context, o Options) (*runner.StagedPieces, error) {
	eo, ok, err := shardOptions(ctx, o)
	if err != nil || !ok {
		return nil, err
	}
	return runner.FetchPieces(ctx, eo, o.FromShards)
}
