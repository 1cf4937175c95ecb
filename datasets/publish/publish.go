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

	"github.com/thanos-io/objstore"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrAlreadyPublished: the version exists with byte-identical content.
	// The runner treats it as success (an idempotent re-run).
	ErrAlreadyPublished = errors.New("version already published with identical content")
	// ErrVersionExists: the version exists with different content.
	ErrVersionExists = errors.New("version already exists with different content")
	// ErrNotFound: the manifest, catalog or latest pointer does not exist.
	ErrNotFound = errors.New("not found")
)

// Names of the pointer objects under <prefix>/<dataset>/.
const (
	CatalogFile    = "catalog.json"
	LatestFile     = "latest"
	LatestJSONFile = "latest.json"
)

// cleanupTimeout bounds the best-effort removal of a failed upload, which
// runs even when ctx was cancelled.
const cleanupTimeout = 2 * time.Minute

// Catalog lists every visible version of a dataset.
type Catalog struct {
	FormatVersion int    `json:"format_version"`
	Dataset       string `json:"dataset"`
	Title         string `json:"title"`
	// Latest is the newest version, the last of Versions.
	Latest   string         `json:"latest"`
	Versions []CatalogEntry `json:"versions"`
}

// CatalogEntry summarizes one version from its manifest.
type CatalogEntry struct {
	Version        string            `json:"version"`
	From           time.Time         `json:"from"`
	To             time.Time         `json:"to"`
	Window         string            `json:"window"`
	Rows           int64             `json:"rows"`
	Bytes          int64             `json:"bytes"`
	Licence        string            `json:"licence"`
	KeyEpoch       string            `json:"key_epoch"`
	SchemaVersions map[string]string `json:"schema_versions"`
	// Manifest is the manifest's key relative to the dataset directory.
	Manifest       string `json:"manifest"`
	ManifestSHA256 string `json:"manifest_sha256"`
}

// LatestPointer is latest.json.
type LatestPointer struct {
	Dataset        string `json:"dataset"`
	Version        string `json:"version"`
	Manifest       string `json:"manifest"`
	ManifestSHA256 string `json:"manifest_sha256"`
}

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
func Publish(ctx context.Context, bkt objstore.Bucket, prefix, dir string, m *Manifest) error {
	if m == nil {
		return errors.New("publish: nil manifest; call Prepare first")
	}
	if err := errors.Join(validatePrefix(prefix), ValidateName("dataset", m.Dataset), ValidateName("version", m.Version)); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	mb, err := m.Encode()
	if err != nil {
		return fmt.Errorf("publish: encode manifest: %w", err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return fmt.Errorf("publish: %w; run Prepare on the staging directory first", err)
	}
	if !bytes.Equal(onDisk, mb) {
		return fmt.Errorf("publish: %s does not match the manifest passed in; run Prepare again", filepath.Join(dir, ManifestFile))
	}

	vdir := key(prefix, m.Dataset, m.Version)
	mkey := vdir + "/" + ManifestFile
	existing, found, err := GetBytes(ctx, bkt, mkey)
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
func uploadPlan(dir string, m *Manifest, mb []byte) ([]upload, error) {
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
	sums, err := os.ReadFile(filepath.Join(dir, SumsFile))
	if err != nil {
		return nil, fmt.Errorf("%w; run Prepare on the staging directory first", err)
	}
	plan := append(data, top...)
	for _, f := range []File{fileOf(SumsFile, sums), fileOf(ManifestFile, mb)} {
		plan = append(plan, upload{rel: f.Path, sha256: f.SHA256, bytes: f.Bytes})
	}
	return plan, nil
}

func uploadVersion(ctx context.Context, bkt objstore.Bucket, vdir, dir string, m *Manifest, mb []byte) (err error) {
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
		if err := uploadVerified(ctx, bkt, k, filepath.Join(dir, filepath.FromSlash(u.rel)), u); err != nil {
			return fmt.Errorf("publish %s: object %s: %w", vdir, k, err)
		}
	}
	return nil
}

func uploadVerified(ctx context.Context, bkt objstore.Bucket, k, local string, u upload) error {
	// Check the staging copy first, so a file changed after Prepare is
	// never published under the old checksum.
	sum, n, err := hashLocal(local)
	if err != nil {
		return err
	}
	if sum != u.sha256 || n != u.bytes {
		return fmt.Errorf("staging file %s changed after Prepare (%d bytes, sha256 %s; manifest says %d bytes, %s); run Prepare again", local, n, sum, u.bytes, u.sha256)
	}
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := bkt.Upload(ctx, k, f); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
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
	if gs := hex.EncodeToString(h.Sum(nil)); gs != u.sha256 || got != u.bytes {
		return fmt.Errorf("verify: stored object has %d bytes, sha256 %s; want %d bytes, %s", got, gs, u.bytes, u.sha256)
	}
	return nil
}

func hashLocal(p string) (string, int64, error) {
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

// updatePointers rebuilds catalog.json from the manifests in the bucket and
// points latest and latest.json at the newest version. Objects whose bytes
// would not change are not rewritten.
func updatePointers(ctx context.Context, bkt objstore.Bucket, prefix, dataset string) error {
	cat, err := buildCatalog(ctx, bkt, prefix, dataset)
	if err != nil {
		return err
	}
	cb, err := encodeJSON(cat)
	if err != nil {
		return err
	}
	writes := []struct {
		name string
		data []byte
	}{{CatalogFile, cb}}
	if cat.Latest != "" {
		last := cat.Versions[len(cat.Versions)-1]
		lb, err := encodeJSON(LatestPointer{Dataset: dataset, Version: last.Version, Manifest: last.Manifest, ManifestSHA256: last.ManifestSHA256})
		if err != nil {
			return err
		}
		writes = append(writes, struct {
			name string
			data []byte
		}{LatestJSONFile, lb}, struct {
			name string
			data []byte
		}{LatestFile, []byte(cat.Latest + "\n")})
	}
	for _, w := range writes {
		k := key(prefix, dataset, w.name)
		old, found, err := GetBytes(ctx, bkt, k)
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
func buildCatalog(ctx context.Context, bkt objstore.Bucket, prefix, dataset string) (*Catalog, error) {
	ddir := key(prefix, dataset) + "/"
	var versions []string
	if err := bkt.Iter(ctx, ddir, func(name string) error {
		if v, ok := strings.CutSuffix(name, "/"); ok {
			v = path.Base(v)
			if ValidateName("version", v) == nil {
				versions = append(versions, v)
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list %s: %w", ddir, err)
	}
	sort.Slice(versions, func(i, j int) bool { return versionLess(versions[i], versions[j]) })
	cat := &Catalog{FormatVersion: FormatVersion, Dataset: dataset, Versions: []CatalogEntry{}}
	for _, v := range versions {
		mk := key(prefix, dataset, v, ManifestFile)
		b, found, err := GetBytes(ctx, bkt, mk)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", mk, err)
		}
		if !found {
			continue
		}
		var m Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("decode %s: %w", mk, err)
		}
		sum := sha256.Sum256(b)
		cat.Versions = append(cat.Versions, CatalogEntry{
			Version: v, From: m.From, To: m.To, Window: m.Window,
			Rows: m.Rows, Bytes: m.Bytes, Licence: m.Licence, KeyEpoch: m.KeyEpoch,
			SchemaVersions: nonNil(m.SchemaVersions),
			Manifest:       v + "/" + ManifestFile, ManifestSHA256: hex.EncodeToString(sum[:]),
		})
		cat.Title = m.Title
		cat.Latest = v
	}
	return cat, nil
}

// GetBytes reads a whole object; found is false if it does not exist
// (publish and pull use it).
func GetBytes(ctx context.Context, bkt objstore.BucketReader, k string) (data []byte, found bool, err error) {
	rc, err := bkt.Get(ctx, k)
	if err != nil {
		if bkt.IsObjNotFoundErr(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	defer rc.Close()
	data, err = io.ReadAll(rc)
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// ReadManifest reads a published version's manifest. A version without a
// manifest is not published: the error wraps ErrNotFound.
func ReadManifest(ctx context.Context, bkt objstore.BucketReader, prefix, dataset, version string) (*Manifest, error) {
	if err := errors.Join(validatePrefix(prefix), ValidateName("dataset", dataset), ValidateName("version", version)); err != nil {
		return nil, err
	}
	k := key(prefix, dataset, version, ManifestFile)
	var m Manifest
	if err := readJSON(ctx, bkt, k, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// ReadCatalog reads a dataset's catalog.json; the error wraps ErrNotFound
// if nothing has been published.
func ReadCatalog(ctx context.Context, bkt objstore.BucketReader, prefix, dataset string) (*Catalog, error) {
	if err := errors.Join(validatePrefix(prefix), ValidateName("dataset", dataset)); err != nil {
		return nil, err
	}
	var c Catalog
	if err := readJSON(ctx, bkt, key(prefix, dataset, CatalogFile), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Latest returns the newest complete version of a dataset; the error wraps
// ErrNotFound if nothing has been published.
func Latest(ctx context.Context, bkt objstore.BucketReader, prefix, dataset string) (string, error) {
	if err := errors.Join(validatePrefix(prefix), ValidateName("dataset", dataset)); err != nil {
		return "", err
	}
	k := key(prefix, dataset, LatestFile)
	b, found, err := GetBytes(ctx, bkt, k)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", k, err)
	}
	if !found {
		return "", fmt.Errorf("%s: %w (nothing published yet?)", k, ErrNotFound)
	}
	v := strings.TrimSuffix(string(b), "\n")
	if err := ValidateName("version", v); err != nil {
		return "", fmt.Errorf("%s: corrupt pointer: %w", k, err)
	}
	return v, nil
}

func readJSON(ctx context.Context, bkt objstore.BucketReader, k string, v any) error {
	b, found, err := GetBytes(ctx, bkt, k)
	if err != nil {
		return fmt.Errorf("read %s: %w", k, err)
	}
	if !found {
		return fmt.Errorf("%s: %w", k, ErrNotFound)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", k, err)
	}
	return nil
}
