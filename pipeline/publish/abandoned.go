package publish

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/schemas"
)

// Abandoned is a version directory without a manifest: an upload that was
// killed before it finished (Publish removes its objects on an error it
// sees, but not when the process dies).
type Abandoned struct {
	Version string
	Objects []string  // keys, sorted
	Newest  time.Time // the newest object's modification time
}

// FindAbandoned lists the version directories of a dataset that have no
// manifest and whose newest object is older than grace: an upload in flight
// in another process is younger. They are never reachable by the documented
// read paths (the catalog, latest, ls and pull name only versions with a
// manifest); FindAbandoned is for gc. It also lists the staging
// directories of sharded runs older than grace.
func FindAbandoned(ctx context.Context, bkt objstore.Bucket, prefix, dataset string, grace time.Duration, now time.Time) ([]Abandoned, error) {
	ddir := schemas.Key(prefix, dataset) + "/"
	var versions []string
	if err := bkt.Iter(ctx, ddir, func(name string) error {
		if v, ok := strings.CutSuffix(name, "/"); ok {
			if v = path.Base(v); !schemas.IsReservedDir(v) && schemas.ValidateName("version", v) == nil {
				versions = append(versions, v)
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list %s: %w", ddir, err)
	}
	sort.Strings(versions)
	var out []Abandoned
	for _, v := range versions {
		vdir := schemas.Key(prefix, dataset, v)
		ok, err := bkt.Exists(ctx, vdir+"/"+schemas.ManifestFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", vdir, err)
		}
		if ok {
			continue
		}
		if a, err := staleUnder(ctx, bkt, vdir, v, grace, now); err != nil {
			return nil, err
		} else if a != nil {
			out = append(out, *a)
		}
	}
	// The staging directories of sharded runs (opsdata raw/export
	// --shards): the commit removes them when it publishes; one left past
	// grace is a run whose commit never published, or could not clean up.
	staging := schemas.Key(prefix, dataset, schemas.StateDir, "staging")
	var staged []string
	if err := bkt.Iter(ctx, staging+"/", func(name string) error {
		if v, ok := strings.CutSuffix(name, "/"); ok {
			staged = append(staged, path.Base(v))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list %s: %w", staging, err)
	}
	sort.Strings(staged)
	for _, v := range staged {
		if a, err := staleUnder(ctx, bkt, staging+"/"+v, "staging of "+v, grace, now); err != nil {
			return nil, err
		} else if a != nil {
			out = append(out, *a)
		}
	}
	return out, nil
}

// staleUnder lists the objects under dir; nil when there are none or the
// newest is younger than grace.
func staleUnder(ctx context.Context, bkt objstore.Bucket, dir, name string, grace time.Duration, now time.Time) (*Abandoned, error) {
	a := Abandoned{Version: name}
	err := bkt.Iter(ctx, dir+"/", func(key string) error {
		attr, err := bkt.Attributes(ctx, key)
		if err != nil {
			return err
		}
		a.Objects = append(a.Objects, key)
		if attr.LastModified.After(a.Newest) {
			a.Newest = attr.LastModified
		}
		return nil
	}, objstore.WithRecursiveIter())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(a.Objects) == 0 || now.Sub(a.Newest) < grace {
		return nil, nil
	}
	sort.Strings(a.Objects)
	return &a, nil
}

// RemoveAbandoned deletes the objects of abandoned versions.
func RemoveAbandoned(ctx context.Context, bkt objstore.Bucket, abandoned []Abandoned) error {
	for _, a := range abandoned {
		if err := removeObjects(ctx, bkt, a.Objects); err != nil {
			return fmt.Errorf("remove abandoned version %s: %w", a.Version, err)
		}
	}
	return nil
}
