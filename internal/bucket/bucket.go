package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/providers/filesystem"
)

// OpenBucket parses an output URL and opens its bucket. "file://./out",
// "file://out" (relative to the working directory) and "file:///abs/dir"
// open a filesystem bucket rooted there, created if missing, with prefix "".
// "s3://BUCKET/PREFIX" opens an S3 bucket (s3.go: settings from WithS3 and
// the AWS_* environment). It returns the bucket and the key prefix inside it.
func OpenBucket(ctx context.Context, url string, opts ...BucketOption) (objstore.Bucket, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return nil, "", fmt.Errorf("output %q: not a URL; use file://DIR (e.g. file://./out) or s3://BUCKET/PREFIX", url)
	}
	switch scheme {
	case "file":
		if rest == "" {
			return nil, "", fmt.Errorf("output %q: empty directory; use file://./out or file:///abs/dir", url)
		}
		dir, err := filepath.Abs(filepath.FromSlash(rest))
		if err != nil {
			return nil, "", fmt.Errorf("output %q: %w", url, err)
		}
		if applyOptions(opts).readOnly {
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return nil, "", fmt.Errorf("%s: no such directory (check the URL; nothing was created): %w", url, ErrNotFound)
			}
		} else if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", fmt.Errorf("output %q: create directory: %w", url, err)
		}
		b, err := filesystem.NewBucket(dir)
		if err != nil {
			return nil, "", fmt.Errorf("output %q: %w", url, err)
		}
		return &atomicFS{Bucket: b, root: dir}, "", nil
	case "s3":
		return openS3(ctx, url, opts)
	case "http", "https":
		if !applyOptions(opts).readOnly {
			return nil, "", fmt.Errorf("output %q: %w", url, errReadOnly)
		}
		return openHTTP(url)
	default:
		return nil, "", fmt.Errorf("output %q: unknown scheme %q; use file://DIR, s3://BUCKET/PREFIX or (to read) https://HOST/PATH", url, scheme)
	}
}

// atomicFS is the objstore filesystem bucket with atomic uploads: the
// provider writes objects in place, so a reader (or a crash) could see a
// half-written manifest or latest pointer. S3 PUTs are atomic; this makes
// the filesystem behave the same by writing a temporary file and renaming it.
type atomicFS struct {
	*filesystem.Bucket
	root string
}

func (b *atomicFS) Upload(ctx context.Context, name string, r io.Reader, _ ...objstore.ObjectUploadOption) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	dst := filepath.Join(b.root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, ContextReader{Ctx: ctx, R: r}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600; published data is world-readable
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// ContextReader reads R until Ctx is cancelled, so that a long copy stops
// then (publish's uploads and pull's downloads use it).
type ContextReader struct {
	Ctx context.Context
	R   io.Reader
}

func (c ContextReader) Read(p []byte) (int, error) {
	if err := c.Ctx.Err(); err != nil {
		return 0, err
	}
	return c.R.Read(p)
}

// tempGrace is how old a stray upload temp file must be before it is
// removed: an upload in flight in another process is younger.
const tempGrace = time.Hour

// isUploadTemp reports whether name is one of atomicFS's temporary files.
func isUploadTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}

// SweepTempFiles removes the upload temp files a crash between writing and
// renaming left under a file:// output (.catalog.json.tmp-123), older
// than an hour so an upload in flight elsewhere is spared. Other outputs
// have none (an S3 PUT is atomic). A run calls it once, at its start: it
// walks the whole output directory.
func SweepTempFiles(url string) error {
	rest, ok := strings.CutPrefix(url, "file://")
	if !ok || rest == "" {
		return nil
	}
	dir, err := filepath.Abs(filepath.FromSlash(rest))
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return sweepTempFiles(dir, tempGrace, time.Now())
}

// sweepTempFiles removes upload temp files older than grace under root.
func sweepTempFiles(root string, grace time.Duration, now time.Time) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if d.IsDir() || !isUploadTemp(d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil || now.Sub(info.ModTime()) < grace {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}
