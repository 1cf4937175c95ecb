package ordered

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDo(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name       string
		n, workers int
		failWork   int // index whose work fails, -1: none
		failUse    int // index whose consume fails, -1: none
		wantErr    error
		wantUsed   int
	}{
		{"empty", 0, 4, -1, -1, nil, 0},
		{"sequential", 50, 1, -1, -1, nil, 50},
		{"parallel", 200, 4, -1, -1, nil, 200},
		{"more workers than work", 3, 16, -1, -1, nil, 3},
		{"work fails", 100, 4, 37, -1, boom, 37},
		{"consume fails", 100, 4, -1, 12, boom, 12},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var running, peak atomic.Int32
			var used []int
			err := Do(context.Background(), c.n, c.workers, func(ctx context.Context, i int) (int, error) {
				now := running.Add(1)
				defer running.Add(-1)
				for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
				}
				time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
				if i == c.failWork {
					return 0, boom
				}
				return i * i, nil
			}, func(i, v int) error {
				if i == c.failUse {
					return boom
				}
				if v != i*i || i != len(used) {
					t.Fatalf("consumed %d=%d after %d results", i, v, len(used))
				}
				used = append(used, i)
				return nil
			})
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if len(used) != c.wantUsed {
				t.Fatalf("consumed %d, want %d", len(used), c.wantUsed)
			}
			if int(peak.Load()) > max(c.workers, 1) {
				t.Fatalf("%d pieces ran at once, limit %d", peak.Load(), c.workers)
			}
		})
	}
}

func TestDoStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	err := Do(ctx, 1000, 2, func(ctx context.Context, i int) (int, error) {
		if started.Add(1) == 2 {
			cancel()
		}
		<-ctx.Done()
		return 0, ctx.Err()
	}, func(int, int) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if n := started.Load(); n > 10 {
		t.Fatalf("%d pieces started after the cancel", n)
	}
}

// TestDoCancelledBeforeStart: a context cancelled before Do returns its
// error without waiting for pieces that never start.
func TestDoCancelledBeforeStart(t *testing.T) {
	for i := 0; i < 200; i++ { // the dispatcher's choice between a free slot and the cancel is random
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := Do(ctx, 10, 2, func(ctx context.Context, i int) (int, error) { return 0, ctx.Err() }, func(int, int) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	}
}

type serves int

func (s serves) QueryConcurrency() int { return int(s) }

func TestWorkersFor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	cases := []struct {
		v    any
		want int
	}{
		{struct{}{}, 1},                // says nothing: one at a time
		{serves(1), 1},                 // a head: one at a time
		{serves(2), 2},                 // what the storage serves
		{serves(1 << 30), maxInFlight}, // never more than maxInFlight in memory
	}
	for _, c := range cases {
		if got := WorkersFor(c.v); got != c.want {
			t.Errorf("WorkersFor(%T %v) = %d, want %d", c.v, c.v, got, c.want)
		}
	}
}
