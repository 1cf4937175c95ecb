package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/schemas"
)

// ErrNotFound: the manifest, catalog or latest pointer does not exist.
var ErrNotFound = errors.New("not found")

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
func ReadManifest(ctx context.Context, bkt objstore.BucketReader, prefix, dataset, version string) (*schemas.Manifest, error) {
	if err := errors.Join(schemas.ValidatePrefix(prefix), schemas.ValidateName("dataset", dataset), schemas.ValidateName("version", version)); err != nil {
		return nil, err
	}
	k := schemas.Key(prefix, dataset, version, schemas.ManifestFile)
	var m schemas.Manifest
	if err := ReadJSON(ctx, bkt, k, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// ReadCatalog reads a dataset's catalog.json; the error wraps ErrNotFound
// if nothing has been published.
func ReadCatalog(ctx context.Context, bkt objstore.BucketReader, prefix, dataset string) (*schemas.Catalog, error) {
	if err := errors.Join(schemas.ValidatePrefix(prefix), schemas.ValidateName("dataset", dataset)); err != nil {
		return nil, err
	}
	var c schemas.Catalog
	if err := ReadJSON(ctx, bkt, schemas.Key(prefix, dataset, schemas.CatalogFile), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Latest returns the newest complete version of a dataset; the error wraps
// ErrNotFound if nothing has been published.
func Latest(ctx context.Context, bkt objstore.BucketReader, prefix, dataset string) (string, error) {
	if err := errors.Join(schemas.ValidatePrefix(prefix), schemas.ValidateName("dataset", dataset)); err != nil {
		return "", err
	}
	k := schemas.Key(prefix, dataset, schemas.LatestFile)
	b, found, err := GetBytes(ctx, bkt, k)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", k, err)
	}
	if !found {
		return "", fmt.Errorf("%s: %w (nothing published yet?)", k, ErrNotFound)
	}
	v := strings.TrimSuffix(string(b), "\n")
	if err := schemas.ValidateName("version", v); err != nil {
		return "", fmt.Errorf("%s: corrupt pointer: %w", k, err)
	}
	return v, nil
}

// ReadJSON decodes the JSON object at k; a missing object wraps ErrNotFound.
func ReadJSON(ctx context.Context, bkt objstore.BucketReader, k string, v any) error {
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

// DownloadVerified copies object k to the local file path (its directories
// created) and checks that it has size bytes with the given sha256: a
// damaged object is an error, never a silently wrong file. A missing
// object wraps ErrNotFound.
func DownloadVerified(ctx context.Context, bkt objstore.BucketReader, k, path, sha string, size int64) error {
	rd, err := bkt.Get(ctx, k)
	if err != nil {
		if bkt.IsObjNotFoundErr(err) {
			return fmt.Errorf("%s: %w", k, ErrNotFound)
		}
		return err
	}
	defer rd.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), ContextReader{Ctx: ctx, R: rd})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha || n != size {
		return fmt.Errorf("%s has %d bytes, sha256 %s; want %d bytes, %s", k, n, got, size, sha)
	}
	return nil
}
