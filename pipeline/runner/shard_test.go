package runner_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/internal/miniotest"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/spec"
)

// rawOpts is one raw export (shards == 0), shard or commit of the demo.
func rawOpts(sp *spec.Spec, b []byte, out string, shard, shards int) runner.RawOptions {
	return runner.RawOptions{Spec: sp, SpecBytes: b, Output: out, CodeVersion: "test", Components: components(),
		Source: "tsdb", To: sp.Range.From.Add(2 * time.Hour), Buckets: 8, Shard: shard, Shards: shards}
}

// versionSums is every object of the published version (path → sha256).
func versionSums(t *testing.T, bkt objstore.Bucket, dataset, version string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	dir := dataset + "/" + version + "/"
	err := bkt.Iter(ctx, dir, func(name string) error {
		b, _, err := bucket.GetBytes(ctx, bkt, name)
		if err != nil {
			return err
		}
		s := sha256.Sum256(b)
		out[strings.TrimPrefix(name, dir)] = hex.EncodeToString(s[:])
		return nil
	}, objstore.WithRecursiveIter())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sharded is one kind of sharded export: its one-process run, its shard
// and its commit, over output out with spec bytes b.
type sharded struct {
	one    func(t *testing.T, out string) (dataset, version string)
	shard  func(out string, b []byte, i, n int) error
	commit func(out string, b []byte, n int) (already bool, err error)
	b      []byte
}

// rawSharded is the raw export of the demo in shards.
func rawSharded(t *testing.T) sharded {
	sp, b := demoSpec(t, shortDemo(t), nil)
	ctx := context.Background()
	return sharded{
		one: func(t *testing.T, out string) (string, string) {
			res, err := runner.Raw(ctx, rawOpts(sp, b, out, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			return res.Dataset, res.Version
		},
		shard: func(out string, b []byte, i, n int) error {
			_, err := runner.Raw(ctx, rawOpts(sp, b, out, i, n))
			return err
		},
		commit: func(out string, b []byte, n int) (bool, error) {
			res, err := runner.RawCommit(ctx, rawOpts(sp, b, out, 0, n))
			return res != nil && res.AlreadyPublished, err
		},
		b: b,
	}
}

// testShardsPublishOneProcessBytes: N shards and a commit publish exactly
// the bytes of one process, for N = 1, 3, 7, one shard killed mid-run
// (its receipt gone, a part truncated) and re-run; commit refuses a
// missing shard and an inconsistent receipt.
func testShardsPublishOneProcessBytes(t *testing.T, run sharded, newOutput func(t *testing.T) (string, objstore.Bucket)) {
	ctx := context.Background()
	out, bkt := newOutput(t)
	dataset, version := run.one(t, out)
	want := versionSums(t, bkt, dataset, version)
	if len(want) < 10 {
		t.Fatalf("one process published only %v", want)
	}
	for _, n := range []int{1, 3, 7} {
		out, bkt := newOutput(t)
		for i := range n {
			if err := run.shard(out, run.b, i, n); err != nil {
				t.Fatalf("N=%d shard %d: %v", n, i, err)
			}
		}
		staging := runner.StagingPrefix("", dataset, version)
		// Kill shard n-1 mid-run: no receipt, one part cut short.
		killed := staging + "/" + runner.ShardDir(n-1, n)
		var parts []string
		bkt.Iter(ctx, killed+"/", func(name string) error { parts = append(parts, name); return nil }, objstore.WithRecursiveIter())
		before, _, err := bucket.GetBytes(ctx, bkt, killed+"/"+runner.ReceiptName)
		if err != nil {
			t.Fatal(err)
		}
		if err := bkt.Delete(ctx, killed+"/"+runner.ReceiptName); err != nil {
			t.Fatal(err)
		}
		if len(parts) > 1 {
			if err := bkt.Upload(ctx, parts[0], strings.NewReader("PAR1 cut short")); err != nil {
				t.Fatal(err)
			}
		}
		_, err = run.commit(out, run.b, n)
		if !errors.Is(err, runner.ErrShardsIncomplete) || !strings.Contains(err.Error(), "shard "+strconv.Itoa(n-1)) {
			t.Fatalf("N=%d: commit with shard %d missing: want ErrShardsIncomplete naming it, got %v", n, n-1, err)
		}
		if err := run.shard(out, run.b, n-1, n); err != nil {
			t.Fatalf("N=%d: re-run shard %d: %v", n, n-1, err)
		}
		// The re-run converges to the same files: its receipt, which names
		// every file's sha256, is the first run's byte for byte.
		if after, _, err := bucket.GetBytes(ctx, bkt, killed+"/"+runner.ReceiptName); err != nil || !bytes.Equal(after, before) {
			t.Fatalf("N=%d: the re-run shard staged other files than the first run (%v):\n%s\n%s", n, err, before, after)
		}
		already, err := run.commit(out, run.b, n)
		if err != nil || already {
			t.Fatalf("N=%d: commit: already published %v, %v", n, already, err)
		}
		got := versionSums(t, bkt, dataset, version)
		if !maps.Equal(got, want) {
			for k, v := range want {
				if got[k] != v {
					t.Errorf("N=%d: %s differs from one process (%s vs %s)", n, k, got[k], v)
				}
			}
			t.Fatalf("N=%d: published %d files, one process %d", n, len(got), len(want))
		}
		var left []string
		bkt.Iter(ctx, staging+"/", func(name string) error { left = append(left, name); return nil }, objstore.WithRecursiveIter())
		if len(left) > 0 {
			t.Errorf("N=%d: staging prefix not removed: %v", n, left)
		}
		if already, err := run.commit(out, run.b, n); err != nil || !already {
			t.Fatalf("N=%d: second commit must find the version published, got %v, %v", n, already, err)
		}
	}

	// A shard run with another spec (a different digest) is refused.
	out, _ = newOutput(t)
	for i := range 2 {
		bi := run.b
		if i == 1 {
			bi = append(append([]byte(nil), run.b...), "\n# edited\n"...)
		}
		if err := run.shard(out, bi, i, 2); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := run.commit(out, run.b, 2); err == nil || errors.Is(err, runner.ErrShardsIncomplete) || !strings.Contains(err.Error(), "spec digest") {
		t.Fatalf("commit over a receipt with another spec digest: want a refusal naming it, got %v", err)
	}
}

// fileOutputs gives each call a new file:// output.
func fileOutputs(t *testing.T) (string, objstore.Bucket) {
	dir := t.TempDir()
	bkt, _, err := bucket.OpenBucket(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bkt.Close() })
	return "file://" + dir, bkt
}

// minioOutputs starts MinIO and gives each call a new bucket in it.
func minioOutputs(t *testing.T, name string) func(t *testing.T) (string, objstore.Bucket) {
	srv := miniotest.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	n := 0
	return func(t *testing.T) (string, objstore.Bucket) {
		n++
		b := name + "-" + strconv.Itoa(n)
		srv.CreateBucket(t, b)
		return "s3://" + b, srv.Open(t, "s3://"+b, bucket.S3{})
	}
}

func TestRawShardsPublishOneProcessBytes(t *testing.T) {
	testShardsPublishOneProcessBytes(t, rawSharded(t), fileOutputs)
}

func TestRawShardsPublishOneProcessBytesMinIO(t *testing.T) {
	testShardsPublishOneProcessBytes(t, rawSharded(t), minioOutputs(t, "raw-shards"))
}
