package runner_test

import (
	"context"
	"testing"

	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/spec"
)

// windowedSharded is the windowed export of the demo in shards: the
// shards evaluate the features' pieces, the commit runs the rest.
func windowedSharded(t *testing.T) sharded {
	sp, b := demoSpec(t, shortDemo(t), nil)
	ctx := context.Background()
	opts := func(sp *spec.Spec, b []byte, out string) runner.Options {
		return runner.Options{Spec: sp, SpecBytes: b, Output: out, CodeVersion: "test", Components: components()}
	}
	return sharded{
		one: func(t *testing.T, out string) (string, string) {
			res, err := runner.Export(ctx, opts(sp, b, out))
			if err != nil {
				t.Fatal(err)
			}
			return res.Dataset, res.Version
		},
		shard: func(out string, b []byte, i, n int) error {
			res, err := runner.ExportShard(ctx, opts(sp, b, out), i, n)
			if err == nil && (res.AlreadyPublished || res.Pieces == 0 || res.Points == 0) {
				t.Fatalf("shard %d/%d staged nothing: %+v", i, n, res)
			}
			return err
		},
		commit: func(out string, b []byte, n int) (bool, error) {
			res, err := runner.ExportCommit(ctx, opts(sp, b, out), n)
			// 8 features over 6 hours: 2 slices each.
			if err == nil && !res.AlreadyPublished && res.Pieces != 16 {
				t.Fatalf("commit of %d shards read %d pieces, not the 16 of the range", n, res.Pieces)
			}
			return res != nil && res.AlreadyPublished, err
		},
		b: b,
	}
}

func TestWindowedShardsPublishOneProcessBytes(t *testing.T) {
	testShardsPublishOneProcessBytes(t, windowedSharded(t), fileOutputs)
}

func TestWindowedShardsPublishOneProcessBytesMinIO(t *testing.T) {
	testShardsPublishOneProcessBytes(t, windowedSharded(t), minioOutputs(t, "windowed-shards"))
}
