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
// manifest); FindAbandoned is for gc.
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
		a := Abandoned{Version: v}
		err = bkt.Iter(ctx, vdir+"/", func(name string) error {
			attr, err := bkt.Attributes(ctx, name)
			if err != nil {
				return err
			}
			a.Objects = append(a.Objects, name)
			if attr.LastModified.After(a.Newest) {
				a.Newest = attr.LastModified
			}
			return nil
		}, objstore.WithRecursiveIter())
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", vdir, err)
		}
		if len(a.Objects) == 0 || now.Sub(a.Newest) < grace {
			continue
		}
		sort.Strings(a.Objects)
		out = append(out, a)
	}
	return out, nil
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
