package nightly

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/schemas"
)

// ErrLeaseHeld: another run holds the dataset's lease (or won the race
// for it); nothing was written.
var ErrLeaseHeld = errors.New("lease held by another run")

// LeaseRecord is the lease object, <dataset>/_state/nightly/lease.json.
type LeaseRecord struct {
	Owner    string    `json:"owner"`
	Token    string    `json:"token"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
}

// Locker takes the one-writer lease of a dataset in a bucket without
// compare-and-swap (docs/decisions/0027-nightly-snapshots.md, "Lease"):
// read; if a live lease of another token is there, give up; else write a
// lease with a fresh random token, wait Wait, read it back and proceed
// only if it still carries our token. Whoever wrote last in a race wins;
// the others see its token on read-back and give up.
type Locker struct {
	Bkt   objstore.Bucket
	Key   string
	Owner string
	TTL   time.Duration
	Wait  time.Duration
	// Clock is the wall clock (default time.Now); leases use real time,
	// never the run's --now.
	Clock func() time.Time
}

// Lease is a lease this run holds.
type Lease struct {
	l  *Locker
	mu sync.Mutex
	// rec is the lease as last written (KeepAlive moves Expires).
	rec LeaseRecord
}

// LeaseKey is the lease object of a dataset.
func LeaseKey(prefix, dataset string) string {
	return schemas.Key(prefix, dataset, schemas.StateDir, "nightly", "lease.json")
}

func (l *Locker) now() time.Time {
	if l.Clock != nil {
		return l.Clock().UTC()
	}
	return time.Now().UTC()
}

func (l *Locker) read(ctx context.Context) (*LeaseRecord, error) {
	b, found, err := bucket.GetBytes(ctx, l.Bkt, l.Key)
	if err != nil {
		return nil, fmt.Errorf("lease: read %s: %w", l.Key, err)
	}
	if !found {
		return nil, nil
	}
	var r LeaseRecord
	if err := json.Unmarshal(b, &r); err != nil {
		// A torn or foreign object is treated as no lease: a later
		// writer replaces it, and the read-back settles the race.
		return nil, nil
	}
	return &r, nil
}

// Acquire takes the lease or returns an error wrapping ErrLeaseHeld.
func (l *Locker) Acquire(ctx context.Context) (*Lease, error) {
	cur, err := l.read(ctx)
	if err != nil {
		return nil, err
	}
	now := l.now()
	if cur != nil && now.Before(cur.Expires) {
		return nil, fmt.Errorf("%w: %s until %s", ErrLeaseHeld, cur.Owner, cur.Expires.Format(time.RFC3339))
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("lease: token: %w", err)
	}
	rec := LeaseRecord{Owner: l.Owner, Token: hex.EncodeToString(tok), Acquired: now, Expires: now.Add(l.TTL)}
	b, err := schemas.EncodeJSON(rec)
	if err != nil {
		return nil, err
	}
	if err := l.Bkt.Upload(ctx, l.Key, bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("lease: write %s: %w", l.Key, err)
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(l.Wait):
	}
	got, err := l.read(ctx)
	if err != nil {
		return nil, err
	}
	if got == nil || got.Token != rec.Token {
		owner := "unknown"
		if got != nil {
			owner = got.Owner
		}
		return nil, fmt.Errorf("%w: lost the race to %s", ErrLeaseHeld, owner)
	}
	return &Lease{l: l, rec: rec}, nil
}

// Check confirms the lease is still ours and unexpired, with a margin of
// Wait: the run calls it just before its commit point (the snapshot
// manifest), so a run that outlived its lease never commits.
func (h *Lease) Check(ctx context.Context) error {
	rec := h.Record()
	got, err := h.l.read(ctx)
	if err != nil {
		return err
	}
	if got == nil || got.Token != rec.Token {
		return fmt.Errorf("%w: taken over while this run worked", ErrLeaseHeld)
	}
	if !h.l.now().Add(h.l.Wait).Before(rec.Expires) {
		return fmt.Errorf("%w: this run's lease expired at %s (raise nightly.lease_ttl)", ErrLeaseHeld, rec.Expires.Format(time.RFC3339))
	}
	return nil
}

// KeepAlive renews the lease every TTL/3 (read it back, still ours: write
// it with a new expiry) until stop is called or a renewal finds the lease
// gone; Check then fails, so a run that lost its lease never commits.
// Renewing without CAS is safe while the lease has not expired: no other
// run may take a live lease.
func (h *Lease) KeepAlive(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(h.l.TTL/3, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := h.renew(ctx); err != nil {
					return
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (h *Lease) renew(ctx context.Context) error {
	rec := h.Record()
	got, err := h.l.read(ctx)
	if err != nil {
		return err
	}
	if got == nil || got.Token != rec.Token || !h.l.now().Before(rec.Expires) {
		return ErrLeaseHeld
	}
	rec.Expires = h.l.now().Add(h.l.TTL)
	b, err := schemas.EncodeJSON(rec)
	if err != nil {
		return err
	}
	if err := h.l.Bkt.Upload(ctx, h.l.Key, bytes.NewReader(b)); err != nil {
		return err
	}
	h.mu.Lock()
	h.rec = rec
	h.mu.Unlock()
	return nil
}

// Record is the lease as last written.
func (h *Lease) Record() LeaseRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rec
}

// Release deletes the lease if it is still ours, even when ctx is
// cancelled (a killed run frees the dataset at once, not after the TTL).
func (h *Lease) Release(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	got, err := h.l.read(ctx)
	if err != nil {
		return err
	}
	if got == nil || got.Token != h.Record().Token {
		return nil
	}
	if err := h.l.Bkt.Delete(ctx, h.l.Key); err != nil && !h.l.Bkt.IsObjNotFoundErr(err) {
		return fmt.Errorf("lease: release: %w", err)
	}
	return nil
}
