package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/schemas"
	"github.com/thanos-io/objstore"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrAlreadyPublished: the version exists with byte-identical content.
	// The runner treats it as success (an idempotent re-run).
	ErrAlreadyPublished = errors.New("version already published with identical content")
	// ErrVersionExists: the version exists with different content.
	ErrVersionExists = errors.New("version already exists with different content")
)

// cleanupTimeout bounds the best-effort removal of a failed upload, which
// runs even when ctx was cancelled.
const cleanupTimeout = 2 * time.Minute

// Publish uploads the staging directory dir, prepared by Prepare into m, as
// <prefix>/<dataset>/<version>/: data files first, then the card, licence
// and checksums, and manifest.json last, each re-read and verified. Only
// then are catalog.json, latest and latest.json rewritten. On a failure
// before the manifest is written, every object uploaded so far is removed.
//
// If the version's manifest exists with the same bytes, Publish repairs the
// pointers if needed and returns an error wrapping ErrAlreadyPublished; with
// different bytes, one wrapping ErrVersionExists. Publish assumes one writer
// per dataset at a time (objstore has no conditional put).
func Publish(ctx context.Context, bkt objstore.Bucket, prefix, dir string, m *schemas.Manifest) error {
	if m == nil {
		return errors.New("publish: nil manifest; call Prepare first")
	}
	if err := errors.Join(schemas.ValidatePrefix(prefix), schemas.ValidateName("dataset", m.Dataset), schemas.ValidateName("version", m.Version)); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	mb, err := m.Encode()
	if err != nil {
		return fmt.Errorf("publish: encode manifest: %w", err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, schemas.ManifestFile))
	if err != nil {
		return fmt.Errorf("publish: %w; run Prepare on the staging directory first", err)
	}
	if !bytes.Equal(onDisk, mb) {
		return fmt.Errorf("publish: %s does not match the manifest passed in; run Prepare again", filepath.Join(dir, schemas.ManifestFile))
	}

	vdir := schemas.Key(prefix, m.Dataset, m.Version)
	mkey := vdir + "/" + schemas.ManifestFile
	existing, found, err := bucket.GetBytes(ctx, bkt, mkey)
	if err != nil {
		return fmt.Errorf("publish: check %s: %w", mkey, err)
	}
	if found {
		if !bytes.Equal(existing, mb) {
			return fmt.Errorf("publish: version %s already exists with different content at %s; versions are immutable — choose a new --version: %w", m.Version, mkey, ErrVersionExists)
		}
		// A previous run may have died between the manifest and the pointers.
		if err := updatePointers(ctx, bkt, prefix, m.Dataset); err != nil {
			return fmt.Errorf("publish: version %s exists; repairing pointers: %w", m.Version, err)
		}
		return fmt.Errorf("publish: version %s at %s: %w", m.Version, mkey, ErrAlreadyPublished)
	}

	if err := uploadVersion(ctx, bkt, vdir, dir, m, mb); err != nil {
		return err
	}
	if err := updatePointers(ctx, bkt, prefix, m.Dataset); err != nil {
		// The version is complete and visible; a re-run repairs the pointers.
		return fmt.Errorf("publish: version %s written but pointers not updated (re-run to repair): %w", m.Version, err)
	}
	return nil
}

type upload struct {
	rel    string // path inside the version
	sha256 string
	bytes  int64
}

// uploadPlan orders the version's objects: table files, then top-level
// files (README, LICENSE, ...), then SHA256SUMS, then manifest.json.
func uploadPlan(dir string, m *schemas.Manifest, mb []byte) ([]upload, error) {
	var data, top []upload
	for _, f := range m.Files {
		if err := validatePath(f.Path); err != nil {
			return nil, fmt.Errorf("manifest file list: %w", err)
		}
		u := upload{rel: f.Path, sha256: f.SHA256, bytes: f.Bytes}
		if strings.Contains(f.Path, "/") {
			data = append(data, u)
		} else {
			top = append(top, u)
		}
	}
	sort.Slice(data, func(i, j int) bool { return data[i].rel < data[j].rel })
	sort.Slice(top, func(i, j int) bool { return top[i].rel < top[j].rel })
	sums, err := os.ReadFile(filepath.Join(dir, schemas.SumsFile))
	if err != nil {
		return nil, fmt.Errorf("%w; run Prepare on the staging directory first", err)
	}
	plan := append(data, top...)
	for _, f := range []schemas.File{fileOf(schemas.SumsFile, sums), fileOf(schemas.ManifestFile, mb)} {
		plan = append(plan, upload{rel: f.Path, sha256: f.SHA256, bytes: f.Bytes})
	}
	return plan, nil
}

func uploadVersion(ctx context.Context, bkt objstore.Bucket, vdir, dir string, m *schemas.Manifest, mb []byte) (err error) {
	plan, err := uploadPlan(dir, m, mb)
	if err != nil {
		return fmt.Errorf("publish %s: %w", vdir, err)
	}
	var uploaded []string
	defer func() {
		if err == nil {
			return
		}
		if cerr := removeObjects(ctx, bkt, uploaded); cerr != nil {
			err = fmt.Errorf("%w (cleanup incomplete, remove %s/ by hand: %v)", err, vdir, cerr)
		}
	}()
	// Leftovers of an earlier failed run are invisible garbage (no manifest);
	// remove those the new version will not overwrite.
	want := map[string]bool{}
	for _, u := range plan {
		want[vdir+"/"+u.rel] = true
	}
	var stale []string
	if err := bkt.Iter(ctx, vdir+"/", func(name string) error {
		if !want[name] {
			stale = append(stale, name)
		}
		return nil
	}, objstore.WithRecursiveIter()); err != nil {
		return fmt.Errorf("publish: list %s/: %w", vdir, err)
	}
	if err := removeObjects(ctx, bkt, stale); err != nil {
		return fmt.Errorf("publish: remove leftovers of a failed run under %s/: %w", vdir, err)
	}

	for _, u := range plan {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("publish %s: cancelled before %s: %w", vdir, u.rel, err)
		}
		k := vdir + "/" + u.rel
		// Record first: a failed Upload may leave a partial object behind.
		uploaded = append(uploaded, k)
		if err := UploadFileVerified(ctx, bkt, k, filepath.Join(dir, filepath.FromSlash(u.rel)), u.sha256, u.bytes); err != nil {
			return fmt.Errorf("publish %s: object %s: %w", vdir, k, err)
		}
	}
	return nil
}

// UploadFileVerified uploads the staged file local as k, streaming: the
// file is checked against its manifest entry (sha256, bytes) first, so a
// file changed after Prepare is never published under the old checksum,
// and the object is read back and checked after.
func UploadFileVerified(ctx context.Context, bkt objstore.Bucket, k, local, sha string, size int64) error {
	sum, n, err := FileSHA256(local)
	if err != nil {
		return err
	}
	if sum != sha || n != size {
		return fmt.Errorf("staging file %s changed after Prepare (%d bytes, sha256 %s; manifest says %d bytes, %s); run Prepare again", local, n, sum, size, sha)
	}
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := bkt.Upload(ctx, k, f); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	return verifyObject(ctx, bkt, k, sha, size)
}

// UploadBytesVerified uploads b as k and reads the object back.
func UploadBytesVerified(ctx context.Context, bkt objstore.Bucket, k string, b []byte) error {
	if err := bkt.Upload(ctx, k, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	sum := sha256.Sum256(b)
	return verifyObject(ctx, bkt, k, hex.EncodeToString(sum[:]), int64(len(b)))
}

// verifyObject reads k back and checks its length and sha256.
func verifyObject(ctx context.Context, bkt objstore.Bucket, k, sha string, size int64) error {
	rc, err := bkt.Get(ctx, k)
	if err != nil {
		return fmt.Errorf("verify: read back: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	got, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("verify: read back: %w", err)
	}
	if gs := hex.EncodeToString(h.Sum(nil)); gs != sha || got != size {
		return fmt.Errorf("verify: stored object has %d bytes, sha256 %s; want %d bytes, %s", got, gs, size, sha)
	}
	return nil
}

// FileSHA256 is a local file's hex sha256 and size.
func FileSHA256(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// removeObjects deletes keys in reverse order, best effort, even if ctx is
// already cancelled (that is usually why we are cleaning up).
func removeObjects(ctx context.Context, bkt objstore.Bucket, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var errs []error
	for i := len(keys) - 1; i >= 0; i-- {
		if err := bkt.Delete(cctx, keys[i]); err != nil && !bkt.IsObjNotFoundErr(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", keys[i], err))
		}
	}
	return errors.Join(errs...)
}

// UpdatePointers rebuilds catalog.json, latest, latest.json and the catalog
// pages from the manifests in the bucket, as Publish does after a version.
// Nightly snapshots (pipeline/nightly) and gc call it after their own commits.
func UpdatePointers(ctx context.Context, bkt objstore.Bucket, prefix, dataset string) error {
	return updatePointers(ctx, bkt, prefix, dataset)
}

// updatePointers rebuilds catalog.json from the manifests in the bucket and
// points latest and latest.json at the newest version. Objects whose bytes
// would not change are not rewritten.
func updatePointers(ctx context.Context, bkt objstore.Bucket, prefix, dataset string) error {
	cat, err := buildCatalog(ctx, bkt, prefix, dataset)
	if err != nil {
		return err
	}
	cb, err := schemas.EncodeJSON(cat)
	if err != nil {
		return err
	}
	writes := []struct {
		name string
		data []byte
	}{{schemas.CatalogFile, cb}}
	if cat.Latest != "" {
		last := cat.Versions[len(cat.Versions)-1]
		lb, err := schemas.EncodeJSON(schemas.LatestPointer{Dataset: dataset, Version: last.Version, Manifest: last.Manifest, ManifestSHA256: last.ManifestSHA256})
		if err != nil {
			return err
		}
		writes = append(writes, struct {
			name string
			data []byte
		}{schemas.LatestJSONFile, lb}, struct {
			name string
			data []byte
		}{schemas.LatestFile, []byte(cat.Latest + "\n")})
	}
	for _, w := range writes {
		k := schemas.Key(prefix, dataset, w.name)
		old, found, err := bucket.GetBytes(ctx, bkt, k)
		if err != nil {
			return fmt.Errorf("read %s: %w", k, err)
		}
		if found && bytes.Equal(old, w.data) {
			continue
		}
		if err := bkt.Upload(ctx, k, bytes.NewReader(w.data)); err != nil {
			return fmt.Errorf("upload %s: %w", k, err)
		}
	}
	// The static pages (catalogpage.go) move last, with the catalog they show.
	return writeCatalogPages(ctx, bkt, prefix, dataset, cat)
}

// buildCatalog lists the dataset's version directories and summarizes each
// one that has a manifest; directories without one are incomplete uploads.
func buildCatalog(ctx context.Context, bkt objstore.Bucket, prefix, dataset string) (*schemas.Catalog, error) {
	ddir := schemas.Key(prefix, dataset) + "/"
	var versions []string
	if err := bkt.Iter(ctx, ddir, func(name string) error {
		if v, ok := strings.CutSuffix(name, "/"); ok {
			v = path.Base(v)
			if !schemas.IsReservedDir(v) && schemas.ValidateName("version", v) == nil {
				versions = append(versions, v)
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list %s: %w", ddir, err)
	}
	sort.Slice(versions, func(i, j int) bool { return versionLess(versions[i], versions[j]) })
	cat := &schemas.Catalog{FormatVersion: schemas.FormatVersion, Dataset: dataset, Versions: []schemas.CatalogEntry{}}
	for _, v := range versions {
		mk := schemas.Key(prefix, dataset, v, schemas.ManifestFile)
		b, found, err := bucket.GetBytes(ctx, bkt, mk)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", mk, err)
		}
		if !found {
			continue
		}
		var m schemas.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("decode %s: %w", mk, err)
		}
		sum := sha256.Sum256(b)
		cat.Versions = append(cat.Versions, schemas.CatalogEntry{
			Version: v, From: m.From, To: m.To, Window: m.Window,
			Rows: m.Rows, Bytes: m.Bytes, Licence: m.Licence, KeyEpoch: m.KeyEpoch,
			SchemaVersions: nonNil(m.SchemaVersions),
			Manifest:       v + "/" + schemas.ManifestFile, ManifestSHA256: hex.EncodeToString(sum[:]),
			Changelog: m.Changelog,
		})
		cat.Title = m.Title
		cat.Latest = v
	}
	return cat, nil
}

// RepairPointers rewrites catalog.json, latest and latest.json from the
// versions' manifests if they differ (a run killed after its manifest).
func RepairPointers(ctx context.Context, bkt objstore.Bucket, prefix, dataset string) error {
	return updatePointers(ctx, bkt, prefix, dataset)
}
