package nightly

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdata/opsdata/datasets/pull"
	"github.com/opsdata/opsdata/internal/bucket"
)

// Two runs started together: one publishes, the other exits with the
// lease outcome and writes nothing; then gc applies keep_last.
func TestConcurrentRunsAndGC(t *testing.T) {
	sc := newScenario(t, 6, "{lease_wait: 300ms, settle: 3h, keep_last: 1}")
	ctx := context.Background()
	now := day0(1).Add(4 * time.Hour)
	if err := sc.plan.Apply(sc.dir, now); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	reps := make([]*Report, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = Run(ctx, Options{Spec: sc.spec, SpecBytes: sc.bytes, Components: (&counted{}).components(), Now: now, TempDir: t.TempDir(), Owner: string(rune('a' + i))})
		}()
	}
	wg.Wait()
	got := map[Outcome]int{}
	for i := range 2 {
		got[reps[i].Outcome]++
		if reps[i].Outcome == LeaseHeld && !errors.Is(errs[i], ErrLeaseHeld) {
			t.Errorf("run %d: lease held but err %v", i, errs[i])
		}
		if reps[i].Outcome == Published && errs[i] != nil {
			t.Errorf("run %d: %v", i, errs[i])
		}
	}
	if got[Published] != 1 || got[LeaseHeld] != 1 {
		t.Fatalf("outcomes %v, want one published and one lease_held", got)
	}
	ds := filepath.Join(sc.out, "demo-cluster")
	runs, _ := os.ReadDir(filepath.Join(ds, "_state", "runs"))
	if len(runs) != 1 {
		t.Errorf("%d run reports, want 1 (the lease-held run writes nothing)", len(runs))
	}
	var report Report
	if len(runs) == 1 {
		b, err := os.ReadFile(filepath.Join(ds, "_state", "runs", runs[0].Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &report); err != nil {
			t.Fatal(err)
		}
		if report.Outcome != Published || len(report.DaysAdded) != 1 || report.DaysAdded[0] != "2026-01-05" || report.Rows["windows"] == 0 || report.DurationSeconds <= 0 || len(report.Triggers) == 0 {
			t.Errorf("run report %s", b)
		}
	}
	bkt, _, err := bucket.OpenBucket(ctx, "file://"+sc.out)
	if err != nil {
		t.Fatal(err)
	}
	defer bkt.Close()
	first, err := bucket.Latest(ctx, bkt, "", "demo-cluster")
	if err != nil {
		t.Fatal(err)
	}

	// A second night, then gc with keep_last 1.
	rep, err := sc.night(t, &counted{}, day0(2).Add(4*time.Hour), nil)
	if err != nil || rep.Outcome != Published {
		t.Fatalf("night 2: %s %v", rep.Outcome, err)
	}
	// A run that died after its commit: the current view and latest lag;
	// the next run with nothing new repairs them without reading inputs.
	os.Remove(filepath.Join(ds, "current", "index.json"))
	os.Remove(filepath.Join(ds, "current", "windows", "date=2026-01-06", "part-00000.parquet"))
	os.WriteFile(filepath.Join(ds, "latest"), []byte(first+"\n"), 0o644)
	c := &counted{}
	if rep, err := sc.night(t, c, day0(2).Add(5*time.Hour), nil); err != nil || rep.Outcome != NothingToDo || c.metrics.Load()+c.logs.Load() != 0 {
		t.Fatalf("repair run: %s %v, %d sources opened", rep.Outcome, err, c.metrics.Load()+c.logs.Load())
	}
	if v, _ := bucket.Latest(ctx, bkt, "", "demo-cluster"); v != rep.Snapshot {
		t.Errorf("latest not repaired: %s", v)
	}
	checkSums(t, filepath.Join(ds, "current"))
	windowKeys(t, filepath.Join(ds, "current"))
	// An orphan part and state, as a run killed after its uploads leaves.
	os.WriteFile(filepath.Join(ds, "_state", "nightly", "2026-01-07T040000Z.json"), []byte("{}"), 0o644)
	orphan := filepath.Join(ds, "parts", "windows", "date=2026-01-05", "0000.parquet")
	if err := os.WriteFile(orphan, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := GC(ctx, sc.spec, "", "gc-test", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 1 || res.Deleted[0] != first || len(res.Kept) != 1 || res.Kept[0] != rep.Snapshot {
		t.Fatalf("gc kept %v deleted %v; want kept [%s] deleted [%s]", res.Kept, res.Deleted, rep.Snapshot, first)
	}
	if res.PartsDeleted == 0 {
		t.Error("gc deleted no part")
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Error("orphan part survived gc")
	}
	// The kept snapshot's state and checkpoint, nothing else.
	if st, _ := os.ReadDir(filepath.Join(ds, "_state", "nightly")); len(st) != 2 || st[0].Name() != rep.Snapshot+checkpointExt || st[1].Name() != rep.Snapshot+".json" {
		t.Errorf("state after gc: %v, want only the kept snapshot's", st)
	}
	if _, err := os.Stat(filepath.Join(ds, first)); !os.IsNotExist(err) {
		t.Errorf("snapshot %s still there after gc", first)
	}
	cat, err := bucket.ReadCatalog(ctx, bkt, "", "demo-cluster")
	if err != nil || len(cat.Versions) != 1 {
		t.Fatalf("catalog after gc: %v %+v", err, cat)
	}
	// Every part the kept snapshot names is still there: pull verifies them all.
	pd := filepath.Join(t.TempDir(), "p")
	if _, err := pull.Pull(ctx, bkt, "", "demo-cluster", rep.Snapshot, pd, pull.Options{}); err != nil {
		t.Fatalf("pull after gc: %v", err)
	}
	checkSums(t, pd)
	checkReaders(t, pd, int64(windowKeys(t, pd)))
	checkReaders(t, filepath.Join(ds, "current"), int64(windowKeys(t, pd)))
	// Retention keeps named and monthly releases too.
	keep := Retention([]string{"2026-01-30T040000Z", "2026-01-31T040000Z", "2026-02-01T040000Z", "2026-02-02T040000Z"}, sc.spec.Nightly)
	if len(keep) != 1 || !keep["2026-02-02T040000Z"] {
		t.Errorf("keep_last 1: %v", keep)
	}
	n := sc.spec.Nightly
	n.KeepMonthly, n.Releases = true, []string{"2026-01-30T040000Z"}
	keep = Retention([]string{"2026-01-30T040000Z", "2026-01-31T040000Z", "2026-02-01T040000Z", "2026-02-02T040000Z"}, n)
	if len(keep) != 3 || !keep["2026-01-30T040000Z"] || !keep["2026-01-31T040000Z"] || !keep["2026-02-02T040000Z"] {
		t.Errorf("keep_monthly + release: %v", keep)
	}
}

// A night whose checkpoint cannot be used exports every day from its
// inputs instead and says why: a carried part deleted by hand is stored
// again, a damaged checkpoint is ignored; --full forces it.
func TestResumeFallsBackToFull(t *testing.T) {
	if raceEnabled && os.Getenv("OPSDATA_NIGHTLY_RACE") == "" {
		t.Skip("minutes under -race: make test-go runs it without -race (OPSDATA_NIGHTLY_RACE=1 to run it here)")
	}
	sc := newScenario(t, 6, "{lease_wait: 10ms, settle: 3h}")
	ds := filepath.Join(sc.out, "demo-cluster")
	night := func(n int, full bool) *Report {
		t.Helper()
		now := day0(n).Add(4 * time.Hour)
		if err := sc.plan.Apply(sc.dir, now); err != nil {
			t.Fatal(err)
		}
		rep, err := Run(context.Background(), Options{Spec: sc.spec, SpecBytes: sc.bytes, Components: (&counted{}).components(), Now: now, TempDir: t.TempDir(), Full: full})
		if err != nil || rep.Outcome != Published {
			t.Fatalf("night %d: %s %v", n, rep.Outcome, err)
		}
		return rep
	}
	night(1, false)
	if rep := night(2, false); rep.Mode != ModeResumed {
		t.Fatalf("night 2: %s (%s), want resumed", rep.Mode, rep.ModeReason)
	}
	// A carried metrics part vanishes.
	parts, _ := filepath.Glob(filepath.Join(ds, "parts", "metrics", "date=2026-01-05", "*.parquet"))
	if len(parts) != 1 {
		t.Fatalf("metrics parts of day 1: %v", parts)
	}
	if err := os.Remove(parts[0]); err != nil {
		t.Fatal(err)
	}
	rep := night(3, false)
	if rep.Mode != ModeFull || !strings.Contains(rep.ModeReason, "missing") {
		t.Errorf("night 3 with a part gone: %s (%s), want full because of the missing part", rep.Mode, rep.ModeReason)
	}
	if _, err := os.Stat(parts[0]); err != nil {
		t.Errorf("the missing part was not stored again: %v", err)
	}
	// A damaged checkpoint.
	cps, _ := filepath.Glob(filepath.Join(ds, "_state", "nightly", "*"+checkpointExt))
	if len(cps) != 1 {
		t.Fatalf("checkpoints: %v, want the newest snapshot's only", cps)
	}
	if err := os.WriteFile(cps[0], []byte("not a sealed checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := night(4, false); rep.Mode != ModeFull || !strings.Contains(rep.ModeReason, "another key") {
		t.Errorf("night 4 with a damaged checkpoint: %s (%s), want full", rep.Mode, rep.ModeReason)
	}
	// (TestTenNights shows a night resuming again after a full one.)
	if rep := night(5, true); rep.Mode != ModeFull || rep.ModeReason != "--full" {
		t.Errorf("night 5 with --full: %s (%s)", rep.Mode, rep.ModeReason)
	}
}
