package publish_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/internal/miniotest"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/publish/publishtest"
	"github.com/opsdata/opsdata/schemas"
)

func TestAcceptanceMinIO(t *testing.T) {
	_, bkt := minioBucket(t, "acceptance", bucket.S3{})
	publishtest.AcceptanceTest(t, bkt)
}

// anonGet fetches a path-style URL without credentials.
func anonGet(t *testing.T, srv *miniotest.Server, path string) int {
	t.Helper()
	cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestMinIOPublicPrefix(t *testing.T) {
	srv, bkt := minioBucket(t, "public", bucket.S3{})
	ctx := context.Background()
	// Something private in the same bucket, and an existing policy statement to keep.
	if err := bkt.Upload(ctx, "private/secret.txt", strings.NewReader("secret")); err != nil {
		t.Fatal(err)
	}
	keep := `{"Version":"2012-10-17","Statement":[{"Sid":"Keep","Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::public/keep/*"]}]}`
	if err := srv.Client(t).SetBucketPolicy(ctx, "public", keep); err != nil {
		t.Fatal(err)
	}
	dir, m := publishtest.Stage(t, "2026-01-05", 0)
	if err := publish.Publish(ctx, bkt, "prefix", dir, m); err != nil {
		t.Fatal(err)
	}
	manifest := "/public/prefix/" + publishtest.Dataset + "/2026-01-05/manifest.json"
	anon := srv.Open(t, "s3://public/prefix", bucket.S3{Credentials: bucket.S3Credentials{Anonymous: true}})
	if code := anonGet(t, srv, manifest); code != http.StatusForbidden {
		t.Fatalf("anonymous GET before --public: HTTP %d, want 403", code)
	}
	if _, err := bucket.Latest(ctx, anon, "prefix", publishtest.Dataset); err == nil || !strings.Contains(err.Error(), "AccessDenied") && !strings.Contains(err.Error(), "Access Denied") {
		t.Fatalf("anonymous Latest before --public: %v, want access denied", err)
	}

	url := "s3://public/prefix"
	for range 2 { // twice: the second run replaces, not duplicates, our statements
		if err := bucket.SetPublicRead(ctx, url, publishtest.Dataset, bucket.WithGetenv(srv.Getenv)); err != nil {
			t.Fatal(err)
		}
	}
	pol, err := srv.Client(t).GetBucketPolicy(ctx, "public")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(pol, "OpsdataPublic"); n != 2 || !strings.Contains(pol, `"Keep"`) {
		t.Errorf("policy %s: want the Keep statement and our 2 statements once", pol)
	}

	// Anonymous readers see the dataset, through the bucket API and plain HTTP...
	if code := anonGet(t, srv, manifest); code != http.StatusOK {
		t.Errorf("anonymous GET manifest: HTTP %d, want 200", code)
	}
	if v, err := bucket.Latest(ctx, anon, "prefix", publishtest.Dataset); err != nil || v != "2026-01-05" {
		t.Errorf("anonymous Latest = %q, %v", v, err)
	}
	// ...and as an http:// dataset URL, what a researcher without S3 settings uses.
	web, webPrefix, err := bucket.OpenBucket(ctx, srv.URL+"/public/prefix", bucket.ForReading())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := bucket.Latest(ctx, web, webPrefix, publishtest.Dataset); err != nil || v != "2026-01-05" {
		t.Errorf("Latest over http:// = %q, %v", v, err)
	}
	if _, err := bucket.ReadManifest(ctx, web, webPrefix, publishtest.Dataset, "2026-01-05"); err != nil {
		t.Errorf("manifest over http://: %v", err)
	}
	got, err := bucket.ReadManifest(ctx, anon, "prefix", publishtest.Dataset, "2026-01-05")
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("anonymous ReadManifest: %v", err)
	}
	local := t.TempDir()
	publishtest.Download(t, anon, "prefix/"+publishtest.Dataset, local)
	if _, err := os.Stat(filepath.Join(local, "2026-01-05", "windows", "date=2026-01-05", "part-00000.parquet")); err != nil {
		t.Errorf("anonymous listing and download of the dataset: %v", err)
	}
	// ...and nothing else: no other prefix, no bucket listing, no writes.
	if code := anonGet(t, srv, "/public/private/secret.txt"); code != http.StatusForbidden {
		t.Errorf("anonymous GET outside the dataset: HTTP %d, want 403", code)
	}
	if code := anonGet(t, srv, "/public?list-type=2&prefix=private/"); code != http.StatusForbidden {
		t.Errorf("anonymous list of another prefix: HTTP %d, want 403", code)
	}
	if code := anonGet(t, srv, "/public?list-type=2"); code != http.StatusForbidden {
		t.Errorf("anonymous list of the whole bucket: HTTP %d, want 403", code)
	}
	if err := anon.Upload(ctx, "prefix/"+publishtest.Dataset+"/evil", strings.NewReader("x")); err == nil {
		t.Errorf("anonymous upload into the public prefix succeeded")
	}

	// Errors: file:// outputs and anonymous callers cannot set policies.
	if err := bucket.SetPublicRead(ctx, "file://"+t.TempDir(), "d"); err == nil || !strings.Contains(err.Error(), "S3 buckets only") {
		t.Errorf("SetPublicRead on file://: %v", err)
	}
	if err := bucket.SetPublicRead(ctx, url, "d", bucket.WithGetenv(envOf(map[string]string{"AWS_ENDPOINT_URL": srv.URL}))); err == nil || !strings.Contains(err.Error(), "needs credentials") {
		t.Errorf("SetPublicRead anonymous: %v", err)
	}
}

// stopAfter stops the MinIO server before the Nth upload, as an outage
// in the middle of a publish would.
type stopAfter struct {
	objstore.Bucket
	srv     *miniotest.Server
	n       int64
	uploads atomic.Int64
}

func TestMinIOStoppedMidPublish(t *testing.T) {
	srv, bkt := minioBucket(t, "outage", bucket.S3{})
	ctx := context.Background()
	dir1, m1 := publishtest.Stage(t, "2026-01-05", 0)
	if err := publish.Publish(ctx, bkt, "prefix", dir1, m1); err != nil {
		t.Fatal(err)
	}
	before := publishtest.Snapshot(t, bkt, "prefix/"+publishtest.Dataset)

	dir2, m2 := publishtest.Stage(t, "2026-01-06", 0)
	err := publish.Publish(ctx, &stopAfter{Bucket: bkt, srv: srv, n: 2}, "prefix", dir2, m2)
	if err == nil {
		t.Fatal("Publish succeeded with the server stopped")
	}
	for _, want := range []string{"2026-01-06/windows/date=2026-01-05/part-00000.parquet", "s3 bucket outage at http://" + srv.Host, "connection refused", "cleanup incomplete"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	t.Logf("error: %v", err)

	srv.Restart(t)
	if _, err := bucket.ReadManifest(ctx, bkt, "prefix", publishtest.Dataset, "2026-01-06"); !errors.Is(err, bucket.ErrNotFound) {
		t.Errorf("manifest of the interrupted version: %v, want ErrNotFound", err)
	}
	after := publishtest.Snapshot(t, bkt, "prefix/"+publishtest.Dataset)
	for _, k := range []string{schemas.CatalogFile, schemas.LatestFile, schemas.LatestJSONFile} {
		k = "prefix/" + publishtest.Dataset + "/" + k
		if !reflect.DeepEqual(before[k], after[k]) {
			t.Errorf("%s changed by the interrupted publish", k)
		}
	}
	// The re-run after the outage publishes the version.
	if err := publish.Publish(ctx, bkt, "prefix", dir2, m2); err != nil {
		t.Fatalf("re-run after the outage: %v", err)
	}
	if v, err := bucket.Latest(ctx, bkt, "prefix", publishtest.Dataset); err != nil || v != "2026-01-06" {
		t.Errorf("Latest after re-run = %q, %v", v, err)
	}
}

func (b *stopAfter) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	if b.uploads.Add(1) == b.n {
		b.srv.Stop()
	}
	return b.Bucket.Upload(ctx, name, r, opts...)
}

func minioBucket(t *testing.T, name string, c bucket.S3) (*miniotest.Server, objstore.Bucket) {
	t.Helper()
	srv := miniotest.Start(t)
	srv.CreateBucket(t, name)
	return srv, srv.Open(t, "s3://"+name+"/prefix", c)
}

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}
