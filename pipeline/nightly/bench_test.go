package nightly

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline/runner"
)

// BenchmarkNightly measures, for a dataset that already holds N days of
// the demo (6 services, one instance each, 1-minute scrapes), the nightly
// run that adds day N+1 (s/night), a re-run with nothing new (s/noop) and
// a one-shot export of the same N+1 days (s/oneshot). Run with
// -benchtime=1x: setting up 30 days takes minutes.
func BenchmarkNightly(b *testing.B) {
	for _, n := range []int{1, 10, 30} {
		b.Run(fmt.Sprintf("days=%d", n), func(b *testing.B) {
			days := max(n+1, 6)
			sc := newScenario(b, days, fmt.Sprintf("{lease_wait: 10ms, settle: 3h, max_days: %d}", n+1))
			sc.plan.Apply(sc.dir, day0(days+30)) // final inputs: no late truth, cost only
			ctx := context.Background()
			if _, err := Run(ctx, Options{Spec: sc.spec, SpecBytes: sc.bytes, Components: (&counted{}).components(), Now: day0(n).Add(4 * time.Hour), TempDir: b.TempDir()}); err != nil {
				b.Fatal(err)
			}
			template := sc.out + ".template"
			if err := os.Rename(sc.out, template); err != nil {
				b.Fatal(err)
			}
			var night, noop, oneshot time.Duration
			var uploaded int64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				os.RemoveAll(sc.out)
				if out, err := exec.Command("cp", "-a", template, sc.out).CombinedOutput(); err != nil {
					b.Fatalf("cp: %v %s", err, out)
				}
				b.StartTimer()
				stop := profileNight(b)
				t0 := time.Now()
				rep, err := Run(ctx, Options{Spec: sc.spec, SpecBytes: sc.bytes, Components: (&counted{}).components(), Now: day0(n + 1).Add(4 * time.Hour), TempDir: b.TempDir()})
				if err != nil || rep.Outcome != Published {
					b.Fatalf("night: %v %v", rep.Outcome, err)
				}
				night += time.Since(t0)
				stop()
				if rep.Mode != ModeResumed {
					b.Fatalf("night: export %s (%s), want resumed", rep.Mode, rep.ModeReason)
				}
				b.Logf("days=%d night: %.2fs %v", n, rep.DurationSeconds, rep.StageSeconds)
				uploaded += rep.BytesUploaded
				t0 = time.Now()
				if rep, err := Run(ctx, Options{Spec: sc.spec, SpecBytes: sc.bytes, Components: (&counted{}).components(), Now: day0(n + 1).Add(5 * time.Hour), TempDir: b.TempDir()}); err != nil || rep.Outcome != NothingToDo {
					b.Fatalf("noop: %v %v", rep.Outcome, err)
				}
				noop += time.Since(t0)
				t0 = time.Now()
				if _, err := runner.Export(ctx, runner.Options{Spec: sc.spec, SpecBytes: sc.bytes, From: day0(0), To: day0(n + 1), Output: "file://" + filepath.Join(b.TempDir(), "oneshot"), Components: (&counted{}).components(), TempDir: b.TempDir()}); err != nil {
					b.Fatal(err)
				}
				oneshot += time.Since(t0)
			}
			b.StopTimer()
			f := float64(b.N)
			b.ReportMetric(night.Seconds()/f, "s/night")
			b.ReportMetric(noop.Seconds()/f, "s/noop")
			b.ReportMetric(oneshot.Seconds()/f, "s/oneshot")
			b.ReportMetric(float64(uploaded)/f/(1<<20), "MiB-uploaded/night")
		})
	}
}

// profileNight writes a CPU profile of the nightly run alone to
// $OPSDATA_NIGHT_CPUPROFILE (the setup and the one-shot export are not in
// it); the returned func stops it.
func profileNight(b *testing.B) func() {
	p := os.Getenv("OPSDATA_NIGHT_CPUPROFILE")
	if p == "" {
		return func() {}
	}
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
