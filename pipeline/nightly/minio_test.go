package nightly

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/datasets/pull"
	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/internal/miniotest"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/schemas"
)

// Four nights on a real MinIO: a late ticket republishes its day, parts
// are written once (S3 LastModified), the pull has each window once, two
// concurrent runs leave one snapshot, and the last snapshot equals the
// one-shot export.
func TestNightsOnMinIO(t *testing.T) { nightsOnMinIO(t, 6, 4, nil, 0) }

// TestTenNightsOnMinIO replays TestTenNights' scenario on a real MinIO
// (late tickets, an edit, the missed night 5, night 7 killed before its
// commit, the late log file, the midnight incident), two runs racing
// every other night; nights resume from the checkpoint but the first and
// the late log file's.
func TestTenNightsOnMinIO(t *testing.T) {
	if testing.Short() {
		t.Skip("ten exports of up to ten days")
	}
	if raceEnabled && os.Getenv("OPSDATA_NIGHTLY_RACE") == "" {
		t.Skip("minutes under -race: make test-go runs it without -race (OPSDATA_NIGHTLY_RACE=1 to run it here)")
	}
	nightsOnMinIO(t, 10, 10, map[int]bool{5: true}, 7)
}

// nightsOnMinIO replays nights 1..nights but the missed ones; night killed
// (0: none) is cancelled just before its commit, after uploading its parts.
func nightsOnMinIO(t *testing.T, days, nights int, missed map[int]bool, killed int) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "datasets")
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	sc := newScenario(t, days, "{lease_wait: 300ms, settle: 3h}")
	sc.spec, sc.bytes = sc.specFor(t, "s3://datasets/nightly", "{lease_wait: 300ms, settle: 3h}")
	late := sc.plan.LateLogs[0].Available
	var prevNow, prevWatermark time.Time
	lateTickets := 0 // late tickets for published days checked
	ctx := context.Background()
	bkt, prefix, err := bucket.OpenBucket(ctx, "s3://datasets/nightly")
	if err != nil {
		t.Fatal(err)
	}
	defer bkt.Close()
	seen := map[string]time.Time{}
	var last *Report
	for n := 1; n <= nights; n++ {
		now := day0(n).Add(4 * time.Hour)
		if missed[n] {
			continue
		}
		if n == killed {
			sc.killedNight(t, now)
			if v, _ := bucket.Latest(ctx, bkt, prefix, "demo-cluster"); v != last.Snapshot {
				t.Fatalf("night %d: the killed run moved latest to %s", n, v)
			}
			continue
		}
		if err := sc.plan.Apply(sc.dir, now); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		reps := make([]*Report, 2)
		for i := range 2 { // every night, two runs race for the lease
			wg.Add(1)
			go func() {
				defer wg.Done()
				reps[i], _ = Run(ctx, Options{Spec: sc.spec, SpecBytes: sc.bytes, Components: (&counted{}).components(), Now: now, TempDir: t.TempDir(), Owner: string(rune('a' + i))})
			}()
		}
		wg.Wait()
		var pub *Report
		for _, r := range reps {
			switch r.Outcome {
			case Published:
				pub = r
			case LeaseHeld:
			default:
				t.Fatalf("night %d: %s: %s", n, r.Outcome, r.Error)
			}
		}
		if pub == nil || reps[0].Outcome == reps[1].Outcome {
			t.Fatalf("night %d: outcomes %s, %s; want one published, one lease_held", n, reps[0].Outcome, reps[1].Outcome)
		}
		last = pub
		lateNight := late.After(prevNow) && !late.After(now)
		if want := map[bool]string{true: ModeFull, false: ModeResumed}[n == 1 || lateNight]; pub.Mode != want {
			t.Errorf("night %d: export %s (%s), want %s", n, pub.Mode, pub.ModeReason, want)
		}
		// A late ticket republishes its (already published) day, and says so.
		for _, v := range sc.plan.Tickets {
			if strings.HasPrefix(v.Note, "filed on time") || v.Note == "first version" || strings.Contains(v.Note, "midnight") ||
				!v.Available.After(prevNow) || v.Available.After(now) {
				continue
			}
			date := impactDate(t, v.Ticket)
			if date >= prevWatermark.Format(time.DateOnly) {
				continue // its day is published tonight for the first time
			}
			lateTickets++
			if dc := findChange(&schemas.Changelog{Changed: pub.DaysChanged}, date); dc == nil || !mentions(dc.Reasons, v.ID) {
				t.Errorf("night %d: the late ticket %s (%s) did not republish %s: %+v", n, v.ID, v.Note, date, pub.DaysChanged)
			}
		}
		prevWatermark = pub.Watermark
		err := bkt.Iter(ctx, prefix+"/demo-cluster/parts/", func(name string) error {
			a, err := bkt.Attributes(ctx, name)
			if err != nil {
				return err
			}
			if old, ok := seen[name]; ok && !old.Equal(a.LastModified) {
				t.Errorf("night %d: part %s rewritten", n, name)
			}
			seen[name] = a.LastModified
			return nil
		}, objstore.WithRecursiveIter())
		if err != nil {
			t.Fatal(err)
		}
		pd := filepath.Join(t.TempDir(), "pulled")
		if _, err := pull.Pull(ctx, bkt, prefix, "demo-cluster", "", pd, pull.Options{}); err != nil {
			t.Fatalf("night %d: pull: %v", n, err)
		}
		windowKeys(t, pd)
		checkSums(t, pd)
		prevNow = now
	}
	if lateTickets == 0 {
		t.Error("no late ticket arrived for a published day: the scenario checks nothing")
	}
	// The inputs are those of the last night: the one-shot export reads the same.
	res, err := runner.Export(ctx, runner.Options{Spec: sc.spec, SpecBytes: sc.bytes, From: day0(0), To: day0(nights), Output: "file://" + t.TempDir(), Components: (&counted{}).components(), TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := bucket.ReadManifest(ctx, bkt, prefix, "demo-cluster", last.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Manifest.Files {
		if f.Table != "" {
			if got := fileAt(m, f.Path); got == nil || got.SHA256 != f.SHA256 {
				t.Errorf("%s: snapshot differs from the one-shot export", f.Path)
			}
		}
	}
	if a, b := countTableFiles(m), countTableFiles(res.Manifest); a != b {
		t.Errorf("snapshot has %d table files, the one-shot export %d", a, b)
	}
}
