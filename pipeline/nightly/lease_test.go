package nightly

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
)

func TestLease(t *testing.T) {
	ctx := context.Background()
	bkt, _, err := bucket.OpenBucket(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	lk := func(owner string) *Locker {
		return &Locker{Bkt: bkt, Key: LeaseKey("", "d"), Owner: owner, TTL: time.Hour, Wait: 10 * time.Millisecond, Clock: clock}
	}
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"free then held", func(t *testing.T) {
			a, err := lk("a").Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lk("b").Acquire(ctx); !errors.Is(err, ErrLeaseHeld) {
				t.Fatalf("second acquire: %v, want ErrLeaseHeld", err)
			}
			if err := a.Check(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			b, err := lk("b").Acquire(ctx)
			if err != nil {
				t.Fatalf("after release: %v", err)
			}
			b.Release(ctx)
		}},
		{"expired lease is taken over and its holder cannot commit", func(t *testing.T) {
			a, err := lk("a").Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			now = now.Add(2 * time.Hour)
			b, err := lk("b").Acquire(ctx)
			if err != nil {
				t.Fatalf("expired lease not taken over: %v", err)
			}
			if err := a.Check(ctx); !errors.Is(err, ErrLeaseHeld) {
				t.Fatalf("old holder's check: %v", err)
			}
			if err := a.Release(ctx); err != nil { // not ours any more: a no-op
				t.Fatal(err)
			}
			if err := b.Check(ctx); err != nil {
				t.Fatalf("release by the old holder removed the new lease: %v", err)
			}
			b.Release(ctx)
		}},
		{"race: exactly one of many wins", func(t *testing.T) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			won, held := 0, 0
			var leases []*Lease
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					l, err := (&Locker{Bkt: bkt, Key: LeaseKey("", "race"), Owner: string(rune('a' + i)), TTL: time.Hour, Wait: 200 * time.Millisecond, Clock: clock}).Acquire(ctx)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won++
						leases = append(leases, l)
					case errors.Is(err, ErrLeaseHeld):
						held++
					default:
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if won != 1 || held != 7 {
				t.Fatalf("%d won, %d saw the lease held; want 1 and 7", won, held)
			}
			leases[0].Release(ctx)
		}},
		{"kept alive beyond its TTL", func(t *testing.T) {
			l, err := (&Locker{Bkt: bkt, Key: LeaseKey("", "alive"), Owner: "a", TTL: 150 * time.Millisecond, Wait: time.Millisecond}).Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			stop := l.KeepAlive(ctx)
			time.Sleep(500 * time.Millisecond)
			if err := l.Check(ctx); err != nil {
				t.Errorf("renewed lease: %v", err)
			}
			if _, err := (&Locker{Bkt: bkt, Key: LeaseKey("", "alive"), Owner: "b", TTL: time.Hour, Wait: time.Millisecond}).Acquire(ctx); !errors.Is(err, ErrLeaseHeld) {
				t.Errorf("a renewed lease was taken: %v", err)
			}
			stop()
			time.Sleep(200 * time.Millisecond)
			if err := l.Check(ctx); !errors.Is(err, ErrLeaseHeld) {
				t.Errorf("after stop the lease should expire: %v", err)
			}
			l.Release(ctx)
		}},
		{"torn lease object counts as free", func(t *testing.T) {
			if err := bkt.Upload(ctx, LeaseKey("", "torn"), strings.NewReader("{not json")); err != nil {
				t.Fatal(err)
			}
			l, err := (&Locker{Bkt: bkt, Key: LeaseKey("", "torn"), Owner: "a", TTL: time.Hour, Wait: time.Millisecond, Clock: clock}).Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			l.Release(ctx)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}
