package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/thanos-io/objstore"
)

// errHTTPNotFound is the error of a GET answered 404.
var errHTTPNotFound = errors.New("404 not found")

// errReadOnly: an https:// dataset is read with anonymous GETs only.
var errReadOnly = errors.New("https:// datasets are read-only (anonymous GETs): publish to s3:// or file://")

// httpBucket reads a public dataset over plain HTTP(S): what a researcher
// without the binary's S3 settings, or behind a proxy, has — the public
// URL of a bucket prefix (MinIO or S3 anonymous read, a static web server).
// Objects are named by the paths the manifest and catalog give; there is
// no listing, so only the documented read paths (latest, catalog.json,
// manifest.json and the files it names) work.
type httpBucket struct {
	base   *neturl.URL
	client *http.Client
}

func openHTTP(rawURL string) (objstore.Bucket, string, error) {
	u, err := neturl.Parse(strings.TrimSuffix(rawURL, "/"))
	if err != nil || u.Host == "" {
		return nil, "", fmt.Errorf("%q: not an http(s) URL of a bucket prefix", rawURL)
	}
	return &httpBucket{base: u, client: &http.Client{Timeout: 10 * time.Minute}}, "", nil
}

func (b *httpBucket) url(name string) string { return b.base.JoinPath(name).String() }

func (b *httpBucket) get(ctx context.Context, name, rng string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url(name), nil)
	if err != nil {
		return nil, err
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", b.url(name), err)
	}
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent:
		return resp, nil
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %w", b.url(name), errHTTPNotFound)
	case resp.StatusCode == http.StatusForbidden:
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: 403 forbidden (is the dataset's prefix public? the publisher exports it with --public)", b.url(name))
	default:
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", b.url(name), resp.Status)
	}
}

func (b *httpBucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	resp, err := b.get(ctx, name, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (b *httpBucket) GetRange(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	rng := "bytes=" + strconv.FormatInt(off, 10) + "-"
	if length > 0 {
		rng += strconv.FormatInt(off+length-1, 10)
	}
	resp, err := b.get(ctx, name, rng)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK && off > 0 { // the server ignored the range
		if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
			resp.Body.Close()
			return nil, err
		}
	}
	if length > 0 {
		return struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, length), resp.Body}, nil
	}
	return resp.Body, nil
}

func (b *httpBucket) Exists(ctx context.Context, name string) (bool, error) {
	rc, err := b.GetRange(ctx, name, 0, 1)
	if b.IsObjNotFoundErr(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rc.Close()
	return true, nil
}

func (b *httpBucket) Attributes(ctx context.Context, name string) (objstore.ObjectAttributes, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, b.url(name), nil)
	if err != nil {
		return objstore.ObjectAttributes{}, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return objstore.ObjectAttributes{}, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return objstore.ObjectAttributes{}, fmt.Errorf("HEAD %s: %w", b.url(name), errHTTPNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return objstore.ObjectAttributes{}, fmt.Errorf("HEAD %s: %s", b.url(name), resp.Status)
	}
	lm, _ := http.ParseTime(resp.Header.Get("Last-Modified"))
	return objstore.ObjectAttributes{Size: resp.ContentLength, LastModified: lm}, nil
}

func (b *httpBucket) IsObjNotFoundErr(err error) bool { return errors.Is(err, errHTTPNotFound) }
func (b *httpBucket) IsAccessDeniedErr(err error) bool {
	return err != nil && strings.Contains(err.Error(), "403")
}

func (b *httpBucket) Iter(context.Context, string, func(string) error, ...objstore.IterOption) error {
	return fmt.Errorf("%s: listing: %w", b.base, errReadOnly)
}

func (b *httpBucket) IterWithAttributes(context.Context, string, func(objstore.IterObjectAttributes) error, ...objstore.IterOption) error {
	return fmt.Errorf("%s: listing: %w", b.base, errReadOnly)
}

func (b *httpBucket) SupportedIterOptions() []objstore.IterOptionType { return nil }
func (b *httpBucket) Provider() objstore.ObjProvider                  { return "HTTP" }
func (b *httpBucket) Name() string                                    { return b.base.String() }
func (b *httpBucket) Close() error                                    { return nil }

func (b *httpBucket) Upload(context.Context, string, io.Reader, ...objstore.ObjectUploadOption) error {
	return errReadOnly
}

func (b *httpBucket) Delete(context.Context, string) error { return errReadOnly }
