package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/oklog/ulid/v2"
	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/spec"
)

// windowedSharded is the windowed export of the demo in shards: the
// shards evaluate the features' pieces, the commit runs the rest.
func windowedSharded(t *testing.T) sharded {
	sp, b := demoSpec(t, shortDemo(t), nil)
	return windowedShardedSpec(t, sp, b)
}

func windowedShardedSpec(t *testing.T, sp *spec.Spec, b []byte) sharded {
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
			if err == nil && (res.AlreadyPublished || res.Pieces == 0) {
				t.Fatalf("shard %d/%d staged nothing: %+v", i, n, res)
			}
			return err
		},
		commit: func(out string, b []byte, n int) (bool, error) {
			res, err := runner.ExportCommit(ctx, opts(sp, b, out), n)
			// 8 features over 6 hours: 2 slices each; with more than one
			// shard every demo feature (sum by (service) ...) is split
			// into one piece per shard's entity bucket too.
			want := 16
			if n > 1 {
				want *= n
			}
			if err == nil && !res.AlreadyPublished && (res.Pieces != want || res.PiecesEvaluated != 0) {
				t.Fatalf("commit of %d shards read %d pieces and evaluated %d, not the %d of the range", n, res.Pieces, res.PiecesEvaluated, want)
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

// TestWindowedShardsFromBlocksOnMinIO: the demo's TSDB blocks in a MinIO
// bucket, read by the blocks source (metrics.source: blocks), and the
// output in MinIO too: shards and commit publish one process's bytes.
func TestWindowedShardsFromBlocksOnMinIO(t *testing.T) {
	outputs := minioOutputs(t, "windowed-blocks")
	blocksURL, blocks := outputs(t)
	tsdbDir := filepath.Join(shortDemo(t), "demo-data", "tsdb")
	entries, err := os.ReadDir(tsdbDir)
	if err != nil {
		t.Fatal(err)
	}
	uploaded := 0
	for _, e := range entries {
		if _, err := ulid.ParseStrict(e.Name()); err != nil || !e.IsDir() {
			continue // the WAL is not in a Thanos bucket
		}
		if err := objstore.UploadDir(context.Background(), log.NewNopLogger(), blocks, filepath.Join(tsdbDir, e.Name()), e.Name()); err != nil {
			t.Fatal(err)
		}
		uploaded++
	}
	if uploaded == 0 {
		t.Fatalf("no block in %s", tsdbDir)
	}
	sp, b := demoSpec(t, shortDemo(t), func(s string) string {
		return strings.Replace(s, "  source: tsdb\n", fmt.Sprintf("  source: blocks\n  blocks: {bucket: %q, cache_dir: %q}\n", blocksURL, t.TempDir()), 1)
	})
	if sp.Metrics.Source != "blocks" {
		t.Fatalf("metrics.source %q", sp.Metrics.Source)
	}
	testShardsPublishOneProcessBytes(t, windowedShardedSpec(t, sp, b), outputs)
}
