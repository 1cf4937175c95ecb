package nightly

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// GCResult says what gc kept and deleted.
type GCResult struct {
	Kept, Deleted []string // snapshots
	// PartsDeleted are unreferenced part objects removed; PartsKept the rest.
	PartsDeleted, PartsKept int
	BytesFreed              int64
}

// Retention picks the snapshots to keep: the newest keep_last, every
// named release, and with keep_monthly the last snapshot of each month.
// The newest snapshot is always kept. One-off export versions are not
// snapshots and gc never touches them.
func Retention(snapshots []string, n spec.Nightly) map[string]bool {
	keep := map[string]bool{}
	for i := len(snapshots) - 1; i >= 0 && len(snapshots)-i <= max(n.KeepLast, 1); i-- {
		keep[snapshots[i]] = true
	}
	for _, r := range n.Releases {
		keep[r] = true
	}
	if n.KeepMonthly {
		last := map[string]string{}
		for _, s := range snapshots { // oldest first: the last write per month wins
			if len(s) >= 7 {
				last[s[:7]] = s
			}
		}
		for _, s := range last {
			keep[s] = true
		}
	}
	return keep
}

// GC applies the spec's retention to the dataset's nightly snapshots and
// deletes every part no kept snapshot references. It holds the dataset's
// lease, so no nightly run uploads parts meanwhile. A snapshot is deleted
// manifest first (it disappears at once), then its files and state.
func GC(ctx context.Context, s *spec.Spec, output, owner string, dryRun bool) (*GCResult, error) {
	if output == "" {
		output = s.Output
	}
	bkt, prefix, err := bucket.OpenBucket(ctx, output, bucket.WithS3(s.S3))
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	defer bkt.Close()
	lk := &Locker{Bkt: bkt, Key: LeaseKey(prefix, s.Dataset), Owner: owner, TTL: time.Duration(s.Nightly.LeaseTTL), Wait: time.Duration(s.Nightly.LeaseWait)}
	lease, err := lk.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer lease.Release(ctx)
	stop := lease.KeepAlive(ctx)
	defer stop()
	ds := schemas.Key(prefix, s.Dataset)
	versions, err := listVersions(ctx, bkt, prefix, s.Dataset)
	if err != nil {
		return nil, err
	}
	var snaps []string
	manifests := map[string]*schemas.Manifest{}
	for _, v := range versions {
		m, err := bucket.ReadManifest(ctx, bkt, prefix, s.Dataset, v)
		if errors.Is(err, bucket.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m.Changelog != nil {
			snaps = append(snaps, v)
			manifests[v] = m
		}
	}
	keep := Retention(snaps, s.Nightly)
	res := &GCResult{}
	refs := map[string]bool{}
	for _, v := range snaps {
		if !keep[v] {
			res.Deleted = append(res.Deleted, v)
			continue
		}
		res.Kept = append(res.Kept, v)
		for _, f := range manifests[v].Files {
			if f.Object != "" {
				refs[ds+"/"+f.Object] = true
			}
		}
	}
	if dryRun {
		return res, countParts(ctx, bkt, ds, refs, res, true)
	}
	if err := lease.Check(ctx); err != nil {
		return nil, err
	}
	for _, v := range res.Deleted {
		vdir := ds + "/" + v
		if err := bkt.Delete(ctx, vdir+"/"+schemas.ManifestFile); err != nil && !bkt.IsObjNotFoundErr(err) {
			return res, fmt.Errorf("gc: delete %s: %w", v, err)
		}
		var rest []string
		if err := bkt.Iter(ctx, vdir+"/", func(n string) error { rest = append(rest, n); return nil }, objstore.WithRecursiveIter()); err != nil {
			return res, err
		}
		rest = append(rest, stateKey(prefix, s.Dataset, v), checkpointKey(prefix, s.Dataset, v))
		for _, k := range rest {
			if err := bkt.Delete(ctx, k); err != nil && !bkt.IsObjNotFoundErr(err) {
				return res, fmt.Errorf("gc: delete %s: %w", k, err)
			}
		}
	}
	if err := countParts(ctx, bkt, ds, refs, res, false); err != nil {
		return res, err
	}
	// State of deleted snapshots and of snapshots that never committed
	// (a run killed before its manifest): only kept snapshots keep theirs.
	kept := map[string]bool{}
	for _, v := range res.Kept {
		kept[v] = true
	}
	err = bkt.Iter(ctx, schemas.Key(prefix, s.Dataset, schemas.StateDir, "nightly")+"/", func(n string) error {
		if n == LeaseKey(prefix, s.Dataset) || kept[strings.TrimSuffix(strings.TrimSuffix(path.Base(n), ".json"), checkpointExt)] {
			return nil
		}
		if err := bkt.Delete(ctx, n); err != nil && !bkt.IsObjNotFoundErr(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("gc: state: %w", err)
	}
	if err := publish.UpdatePointers(ctx, bkt, prefix, s.Dataset); err != nil {
		return res, fmt.Errorf("gc: pointers: %w", err)
	}
	return res, nil
}

func countParts(ctx context.Context, bkt objstore.Bucket, ds string, refs map[string]bool, res *GCResult, dryRun bool) error {
	var unref []string
	err := bkt.Iter(ctx, ds+"/parts/", func(n string) error {
		if strings.HasSuffix(n, "/") {
			return nil
		}
		if refs[n] {
			res.PartsKept++
		} else {
			unref = append(unref, n)
		}
		return nil
	}, objstore.WithRecursiveIter())
	if err != nil {
		return fmt.Errorf("gc: list parts: %w", err)
	}
	for _, k := range unref {
		if a, err := bkt.Attributes(ctx, k); err == nil {
			res.BytesFreed += a.Size
		}
		res.PartsDeleted++
		if dryRun {
			continue
		}
		if err := bkt.Delete(ctx, k); err != nil && !bkt.IsObjNotFoundErr(err) {
			return fmt.Errorf("gc: delete %s: %w", k, err)
		}
	}
	return nil
}
