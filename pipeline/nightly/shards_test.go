package nightly

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline/runner"
)

// TestNightsFromShards: three nights run as 3 shards and a night from
// them publish the snapshots of nights run as one process, byte for byte
// (every file but the sealed and per-run state), the first night (every
// day) and the resumed ones (the new day, the rules from their warm-up)
// alike; with a shard missing the night reads and writes nothing.
func TestNightsFromShards(t *testing.T) {
	if raceEnabled && os.Getenv("OPSDATA_NIGHTLY_RACE") == "" {
		t.Skip("minutes under -race: make test-go runs it without -race (OPSDATA_NIGHTLY_RACE=1 to run it here)")
	}
	sc := newScenario(t, 6, "{lease_wait: 10ms, settle: 3h}")
	ctx := context.Background()
	one, sharded := filepath.Join(filepath.Dir(sc.out), "one"), filepath.Join(filepath.Dir(sc.out), "sharded")
	const n = 3
	for night := 1; night <= 3; night++ {
		now := day0(night).Add(4 * time.Hour)
		if err := sc.plan.Apply(sc.dir, now); err != nil {
			t.Fatal(err)
		}
		o := Options{Spec: sc.spec, SpecBytes: sc.bytes, Components: (&counted{}).components(), Now: now, TempDir: t.TempDir()}
		o.Output = "file://" + one
		if rep, err := Run(ctx, o); err != nil || rep.Outcome != Published {
			t.Fatalf("night %d in one process: %s %v", night, rep.Outcome, err)
		}
		o.Output = "file://" + sharded
		for i := range n - 1 {
			if res, err := Shard(ctx, o, i, n); err != nil || res == nil || res.Pieces == 0 {
				t.Fatalf("night %d shard %d: %+v %v", night, i, res, err)
			}
		}
		runs := countFiles(t, filepath.Join(sharded, "demo-cluster", "_state", "runs"))
		o.FromShards = n
		rep, err := Run(ctx, o)
		if !errors.Is(err, runner.ErrShardsIncomplete) || rep.Outcome != ShardsIncomplete || !strings.Contains(err.Error(), "shard 2") {
			t.Fatalf("night %d with shard 2 missing: %s %v", night, rep.Outcome, err)
		}
		if got := countFiles(t, filepath.Join(sharded, "demo-cluster", "_state", "runs")); got != runs {
			t.Fatalf("night %d: a night that found shards missing wrote a run report", night)
		}
		o.FromShards = 0
		if _, err := Shard(ctx, o, n-1, n); err != nil {
			t.Fatal(err)
		}
		o.FromShards = n
		rep, err = Run(ctx, o)
		if err != nil || rep.Outcome != Published {
			t.Fatalf("night %d from shards: %s %v", night, rep.Outcome, err)
		}
		sh := rep.Shards
		if sh == nil || sh.Pieces == 0 || sh.PiecesEvaluated != 0 || sh.SlicesEvaluated != 0 || sh.Slices == 0 {
			t.Fatalf("night %d (%s): read from the shards %+v; want every piece and slice from them", night, rep.Mode, sh)
		}
		t.Logf("night %d (%s): %+v", night, rep.Mode, *sh)
		if night > 1 && rep.Mode != ModeResumed {
			t.Fatalf("night %d: %s (%s), want resumed", night, rep.Mode, rep.ModeReason)
		}
		if left := countFiles(t, filepath.Join(sharded, "demo-cluster", "_state", "staging")); left != 0 {
			t.Errorf("night %d: %d staged files left after publishing", night, left)
		}
		sameTree(t, filepath.Join(one, "demo-cluster"), filepath.Join(sharded, "demo-cluster"))
	}

	// A night whose shards' results are damaged evaluates everything
	// itself: the same snapshot, and the report says why.
	now := day0(4).Add(4 * time.Hour)
	if err := sc.plan.Apply(sc.dir, now); err != nil {
		t.Fatal(err)
	}
	o := Options{Spec: sc.spec, SpecBytes: sc.bytes, Components: (&counted{}).components(), Now: now, TempDir: t.TempDir(), Output: "file://" + one}
	if rep, err := Run(ctx, o); err != nil || rep.Outcome != Published {
		t.Fatalf("night 4 in one process: %s %v", rep.Outcome, err)
	}
	o.Output = "file://" + sharded
	for i := range n {
		if _, err := Shard(ctx, o, i, n); err != nil {
			t.Fatal(err)
		}
	}
	pieces, _ := filepath.Glob(filepath.Join(sharded, "demo-cluster", "_state", "staging", "*", "shard-0001-of-0003", "pieces", "*", "*.sealed"))
	if len(pieces) == 0 {
		t.Fatal("shard 1 staged no piece")
	}
	if err := os.WriteFile(pieces[0], []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.FromShards = n
	rep, err := Run(ctx, o)
	if err != nil || rep.Outcome != Published || rep.Shards == nil || !strings.Contains(rep.Shards.Unused, "shard 1/3") || rep.Shards.Pieces != 0 {
		t.Fatalf("night 4 from damaged shards: %s %v %+v", rep.Outcome, err, rep.Shards)
	}
	sameTree(t, filepath.Join(one, "demo-cluster"), filepath.Join(sharded, "demo-cluster"))
}

// sameTree fails unless a and b hold the same files with the same bytes,
// but for _state (leases, run reports, sealed state with random nonces).
func sameTree(t *testing.T, a, b string) {
	t.Helper()
	files := func(root string) map[string][]byte {
		out := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if d.IsDir() {
				if rel == "_state" {
					return filepath.SkipDir
				}
				return nil
			}
			b, err := os.ReadFile(p)
			out[rel] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	fa, fb := files(a), files(b)
	t.Logf("%d files compared", len(fa))
	if len(fa) < 20 || len(fa) != len(fb) {
		t.Fatalf("%d files in one process's dataset, %d from shards", len(fa), len(fb))
	}
	for k, v := range fa {
		if !bytes.Equal(v, fb[k]) {
			t.Errorf("%s differs between the nights in one process and from shards", k)
		}
	}
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}
