package publish_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/publish/publishtest"
)

// A version killed mid-upload (objects, no manifest) is found once older
// than the grace period and removed; complete versions are never touched.
func TestAbandonedUploads(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	bkt, prefix, err := bucket.OpenBucket(ctx, "file://"+root)
	if err != nil {
		t.Fatal(err)
	}
	dir, m := publishtest.Stage(t, "2026-01-05", 0)
	if err := publish.Publish(ctx, bkt, prefix, dir, m); err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(root, publishtest.Dataset, "2026-01-06", "windows", "date=2026-01-06")
	if err := os.MkdirAll(cut, 0o755); err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(cut, "part-00000.parquet")
	if err := os.WriteFile(part, []byte("half a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if got, err := publish.FindAbandoned(ctx, bkt, prefix, publishtest.Dataset, time.Hour, now); err != nil || len(got) != 0 {
		t.Fatalf("a young upload (maybe in flight) must not be abandoned: %v, %v", got, err)
	}
	old := now.Add(-2 * time.Hour)
	os.Chtimes(part, old, old)
	got, err := publish.FindAbandoned(ctx, bkt, prefix, publishtest.Dataset, time.Hour, now)
	if err != nil || len(got) != 1 || got[0].Version != "2026-01-06" || len(got[0].Objects) != 1 {
		t.Fatalf("FindAbandoned = %+v, %v; want version 2026-01-06 with its one object", got, err)
	}
	if err := publish.RemoveAbandoned(ctx, bkt, got); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(part); !os.IsNotExist(err) {
		t.Fatalf("abandoned object still there: %v", err)
	}
	if _, err := bucket.ReadManifest(ctx, bkt, prefix, publishtest.Dataset, "2026-01-05"); err != nil {
		t.Fatalf("the complete version was touched: %v", err)
	}

	// Shards that staged and were never committed: found once stale.
	shard := filepath.Join(root, publishtest.Dataset, "_state", "staging", "2026-01-07", "shard-0000-of-0002")
	if err := os.MkdirAll(filepath.Join(shard, "pieces"), 0o755); err != nil {
		t.Fatal(err)
	}
	staged := []string{filepath.Join(shard, "pieces", "f0-s0.sealed"), filepath.Join(shard, "receipt.json")}
	for _, p := range staged {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := publish.FindAbandoned(ctx, bkt, prefix, publishtest.Dataset, time.Hour, now); err != nil || len(got) != 0 {
		t.Fatalf("young shards (their commit may still come) must be kept: %v, %v", got, err)
	}
	for _, p := range staged {
		os.Chtimes(p, old, old)
	}
	got, err = publish.FindAbandoned(ctx, bkt, prefix, publishtest.Dataset, time.Hour, now)
	if err != nil || len(got) != 1 || got[0].Version != "staging of 2026-01-07" || len(got[0].Objects) != 2 {
		t.Fatalf("FindAbandoned = %+v, %v; want the staging of 2026-01-07 with its two objects", got, err)
	}
	if err := publish.RemoveAbandoned(ctx, bkt, got); err != nil {
		t.Fatal(err)
	}
	for _, p := range staged {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("stale staged object still there: %v", err)
		}
	}
}
