package publish

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "", fmt.Errorf("output %q: create directory: %w", url, err)
		}
		b, err := filesystem.NewBucket(dir)
		if err != nil {
			return nil, "", fmt.Errorf("output %q: %w", url, err)
		}
		return &atomicFS{Bucket: b, root: dir}, "", nil
	case "s3":
		return openS3(ctx, url, opts)
	default:
		return nil, "", fmt.Errorf("output %q: unknown scheme %q; use file://DIR or s3://BUCKET/PREFIX", url, scheme)
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
	if _, err = io.Copy(tmp, ctxReader{ctx, r}); err != nil {
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

// ctxReader stops a long copy when the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
