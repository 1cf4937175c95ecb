package publish_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/datasets/publish"
	"github.com/opsdata/opsdata/datasets/publish/publishtest"
	"github.com/opsdata/opsdata/datasets/spec"
	"github.com/opsdata/opsdata/internal/miniotest"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestResolveS3(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	idFile, secretFile := write("id", "AKIDFILE\n"), write("secret", "SECRETFILE\n")
	shared := write("credentials", "[default]\naws_access_key_id = AKIDSHARED\naws_secret_access_key = SECRETSHARED\n[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = SECRETOTHER\n")
	ca := write("ca.pem", "not checked here")
	yes, no := true, false
	awsEnv := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "SECRETENV", "AWS_SESSION_TOKEN": "TOKENENV"}

	tests := []struct {
		name    string
		url     string
		s3      spec.S3
		env     map[string]string
		want    publish.S3Settings // only the fields compared below
		wantErr string
	}{
		{name: "aws defaults anonymous", url: "s3://my-bucket/a/b", env: map[string]string{},
			want: publish.S3Settings{Bucket: "my-bucket", Prefix: "a/b", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "env endpoint url http", url: "s3://b1b/", env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1"},
			want: publish.S3Settings{Bucket: "b1b", Endpoint: "127.0.0.1:9000", Secure: false, Region: "eu-west-1", Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "s3-specific endpoint wins over generic", url: "s3://bkt", env: map[string]string{"AWS_ENDPOINT_URL": "http://generic:1", "AWS_ENDPOINT_URL_S3": "https://s3only:2", "AWS_DEFAULT_REGION": "us-west-2"},
			want: publish.S3Settings{Bucket: "bkt", Endpoint: "s3only:2", Secure: true, Region: "us-west-2", Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "spec wins over env", url: "s3://bkt/p", s3: spec.S3{Endpoint: "minio.internal:9000", Insecure: &yes, Region: "r1", BucketLookup: "path", PartSizeMiB: 5},
			env:  map[string]string{"AWS_ENDPOINT_URL": "https://other", "AWS_REGION": "r2"},
			want: publish.S3Settings{Bucket: "bkt", Prefix: "p", Endpoint: "minio.internal:9000", Secure: false, Region: "r1", Lookup: "path", PartSize: 5 << 20, CredentialSource: "anonymous"}},
		{name: "insecure switch for bare host", url: "s3://bkt", env: map[string]string{"AWS_ENDPOINT_URL_S3": "minio:9000", "OPSDATA_S3_INSECURE": "true"},
			want: publish.S3Settings{Bucket: "bkt", Endpoint: "minio:9000", Secure: false, Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "scheme wins over insecure switch", url: "s3://bkt", env: map[string]string{"AWS_ENDPOINT_URL_S3": "https://minio:9000", "OPSDATA_S3_INSECURE": "1"},
			want: publish.S3Settings{Bucket: "bkt", Endpoint: "minio:9000", Secure: true, Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "env credentials", url: "s3://bkt", env: awsEnv,
			want: publish.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", AccessKeyID: "AKIDENV", SecretAccessKey: "SECRETENV", SessionToken: "TOKENENV", CredentialSource: "environment"}},
		{name: "spec files win over env", url: "s3://bkt", s3: spec.S3{Credentials: spec.S3Credentials{AccessKeyIDFile: idFile, SecretAccessKeyFile: secretFile}}, env: awsEnv,
			want: publish.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", AccessKeyID: "AKIDFILE", SecretAccessKey: "SECRETFILE", CredentialSource: "spec"}},
		{name: "spec env names", url: "s3://bkt", s3: spec.S3{Credentials: spec.S3Credentials{AccessKeyIDEnv: "MY_ID", SecretAccessKeyEnv: "MY_SECRET"}}, env: map[string]string{"MY_ID": "A", "MY_SECRET": "S"},
			want: publish.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", AccessKeyID: "A", SecretAccessKey: "S", CredentialSource: "spec"}},
		{name: "anonymous wins over env", url: "s3://bkt", s3: spec.S3{Credentials: spec.S3Credentials{Anonymous: true}}, env: awsEnv,
			want: publish.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "shared credentials file profile", url: "s3://bkt", env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": shared, "AWS_PROFILE": "other"},
			want: publish.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", AccessKeyID: "AKIDOTHER", SecretAccessKey: "SECRETOTHER", CredentialSource: "shared credentials file " + shared}},
		{name: "ca bundle from env", url: "s3://bkt", env: map[string]string{"AWS_CA_BUNDLE": ca},
			want: publish.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", CAFile: ca, CredentialSource: "anonymous"}},
		{name: "env ca bundle ignored for http", url: "s3://bkt", env: map[string]string{"AWS_CA_BUNDLE": ca, "AWS_ENDPOINT_URL": "http://h:1"},
			want: publish.S3Settings{Bucket: "bkt", Endpoint: "h:1", Lookup: "auto", CredentialSource: "anonymous"}},

		{name: "bad bucket", url: "s3://Bad_Bucket/x", env: map[string]string{}, wantErr: "not a valid S3 bucket name"},
		{name: "bad prefix", url: "s3://bkt/a/../b", env: map[string]string{}, wantErr: "prefix"},
		{name: "half env credentials", url: "s3://bkt", env: map[string]string{"AWS_ACCESS_KEY_ID": "A"}, wantErr: "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{name: "named env empty", url: "s3://bkt", s3: spec.S3{Credentials: spec.S3Credentials{AccessKeyIDEnv: "MY_ID", SecretAccessKeyEnv: "MY_SECRET"}}, env: map[string]string{"MY_ID": "A"}, wantErr: "secret_access_key_env: environment variable MY_SECRET is empty"},
		{name: "missing key file", url: "s3://bkt", s3: spec.S3{Credentials: spec.S3Credentials{AccessKeyIDFile: filepath.Join(dir, "nope"), SecretAccessKeyFile: secretFile}}, env: map[string]string{}, wantErr: "access_key_id_file"},
		{name: "missing ca file", url: "s3://bkt", s3: spec.S3{CAFile: filepath.Join(dir, "nope.pem")}, env: map[string]string{}, wantErr: "s3 CA file"},
		{name: "ca with plain http", url: "s3://bkt", s3: spec.S3{CAFile: ca, Endpoint: "http://h:1"}, env: map[string]string{}, wantErr: "plain-HTTP"},
		{name: "contradicting insecure", url: "s3://bkt", s3: spec.S3{Endpoint: "https://h", Insecure: &yes}, env: map[string]string{}, wantErr: "s3.insecure: contradicts"},
		{name: "bad env endpoint", url: "s3://bkt", env: map[string]string{"AWS_ENDPOINT_URL": "ftp://h"}, wantErr: "$AWS_ENDPOINT_URL"},
		{name: "part size too small", url: "s3://bkt", s3: spec.S3{PartSizeMiB: 1, Insecure: &no}, env: map[string]string{}, wantErr: "part_size_mib"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := publish.ResolveS3(tc.url, publish.WithS3(tc.s3), publish.WithGetenv(envOf(tc.env)))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.PartSize == 0 {
				tc.want.PartSize = publish.DefaultPartSizeMiB << 20
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("settings:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// minioBucket starts MinIO with a bucket and opens s3://bucket/prefix on it.
func minioBucket(t *testing.T, bucket string, c spec.S3) (*miniotest.Server, objstore.Bucket) {
	t.Helper()
	srv := miniotest.Start(t)
	srv.CreateBucket(t, bucket)
	return srv, open(t, srv, "s3://"+bucket+"/prefix", c)
}

func open(t *testing.T, srv *miniotest.Server, url string, c spec.S3) objstore.Bucket {
	t.Helper()
	bkt, _, err := publish.OpenBucket(context.Background(), url, publish.WithS3(c), publish.WithGetenv(srv.Getenv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bkt.Close() })
	return bkt
}

func TestAcceptanceMinIO(t *testing.T) {
	_, bkt := minioBucket(t, "acceptance", spec.S3{})
	publishtest.AcceptanceTest(t, bkt)
}

func TestMinIOMultipart(t *testing.T) {
	srv, bkt := minioBucket(t, "multipart", spec.S3{PartSizeMiB: 5})
	ctx := context.Background()
	data := make([]byte, 11<<20+123)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "big.parquet")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := bkt.Upload(ctx, "big/object", f); err != nil {
		t.Fatal(err)
	}
	info, err := srv.Client(t).StatObject(ctx, "multipart", "big/object", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A multipart object's ETag ends in -<parts>: 11 MiB in 5 MiB parts is 3.
	if !strings.HasSuffix(info.ETag, "-3") || info.Size != int64(len(data)) {
		t.Errorf("ETag %q size %d; want a 3-part multipart upload of %d bytes", info.ETag, info.Size, len(data))
	}
	rc, err := bkt.Get(ctx, "big/object")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	back, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("read back %d bytes, err %v; want the uploaded bytes", len(back), err)
	}
}

func TestMinIOErrors(t *testing.T) {
	srv := miniotest.Start(t)
	ctx := context.Background()
	bkt := open(t, srv, "s3://no-such-bucket/p", spec.S3{})
	err := bkt.Upload(ctx, "x", strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "no-such-bucket") || !strings.Contains(err.Error(), "create the bucket first") {
		t.Errorf("upload to a missing bucket: %v; want the bucket named and advice", err)
	}
	srv.CreateBucket(t, "b-errors")
	wrong := func(k string) string {
		if k == "AWS_SECRET_ACCESS_KEY" {
			return "wrong-secret"
		}
		return srv.Getenv(k)
	}
	bad, _, err := publish.OpenBucket(ctx, "s3://b-errors", publish.WithGetenv(wrong))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Upload(ctx, "x", strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "credentials: environment") || !strings.Contains(err.Error(), "check the credentials") {
		t.Errorf("upload with a wrong secret: %v; want the credential source and advice", err)
	}
	good := open(t, srv, "s3://b-errors", spec.S3{})
	if _, err := good.Get(ctx, "missing"); err == nil || !good.IsObjNotFoundErr(err) {
		t.Errorf("get of a missing object: %v; want a not-found error", err)
	}
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
	srv, bkt := minioBucket(t, "public", spec.S3{})
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
	anon := open(t, srv, "s3://public/prefix", spec.S3{Credentials: spec.S3Credentials{Anonymous: true}})
	if code := anonGet(t, srv, manifest); code != http.StatusForbidden {
		t.Fatalf("anonymous GET before --public: HTTP %d, want 403", code)
	}
	if _, err := publish.Latest(ctx, anon, "prefix", publishtest.Dataset); err == nil || !strings.Contains(err.Error(), "AccessDenied") && !strings.Contains(err.Error(), "Access Denied") {
		t.Fatalf("anonymous Latest before --public: %v, want access denied", err)
	}

	url := "s3://public/prefix"
	for range 2 { // twice: the second run replaces, not duplicates, our statements
		if err := publish.SetPublicRead(ctx, url, publishtest.Dataset, publish.WithGetenv(srv.Getenv)); err != nil {
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
	if v, err := publish.Latest(ctx, anon, "prefix", publishtest.Dataset); err != nil || v != "2026-01-05" {
		t.Errorf("anonymous Latest = %q, %v", v, err)
	}
	got, err := publish.ReadManifest(ctx, anon, "prefix", publishtest.Dataset, "2026-01-05")
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
	if err := publish.SetPublicRead(ctx, "file://"+t.TempDir(), "d"); err == nil || !strings.Contains(err.Error(), "S3 buckets only") {
		t.Errorf("SetPublicRead on file://: %v", err)
	}
	if err := publish.SetPublicRead(ctx, url, "d", publish.WithGetenv(envOf(map[string]string{"AWS_ENDPOINT_URL": srv.URL}))); err == nil || !strings.Contains(err.Error(), "needs credentials") {
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

func (b *stopAfter) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	if b.uploads.Add(1) == b.n {
		b.srv.Stop()
	}
	return b.Bucket.Upload(ctx, name, r, opts...)
}

func TestMinIOStoppedMidPublish(t *testing.T) {
	srv, bkt := minioBucket(t, "outage", spec.S3{})
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
	if _, err := publish.ReadManifest(ctx, bkt, "prefix", publishtest.Dataset, "2026-01-06"); !errors.Is(err, publish.ErrNotFound) {
		t.Errorf("manifest of the interrupted version: %v, want ErrNotFound", err)
	}
	after := publishtest.Snapshot(t, bkt, "prefix/"+publishtest.Dataset)
	for _, k := range []string{publish.CatalogFile, publish.LatestFile, publish.LatestJSONFile} {
		k = "prefix/" + publishtest.Dataset + "/" + k
		if !reflect.DeepEqual(before[k], after[k]) {
			t.Errorf("%s changed by the interrupted publish", k)
		}
	}
	// The re-run after the outage publishes the version.
	if err := publish.Publish(ctx, bkt, "prefix", dir2, m2); err != nil {
		t.Fatalf("re-run after the outage: %v", err)
	}
	if v, err := publish.Latest(ctx, bkt, "prefix", publishtest.Dataset); err != nil || v != "2026-01-06" {
		t.Errorf("Latest after re-run = %q, %v", v, err)
	}
}

func TestValidateOutput(t *testing.T) {
	keys := publish.WithGetenv(envOf(map[string]string{"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S"}))
	none := publish.WithGetenv(envOf(map[string]string{}))
	tests := []struct {
		url     string
		public  bool
		opt     publish.BucketOption
		wantErr string
	}{
		{url: "file://./out", opt: none},
		{url: "file://./out", public: true, opt: none, wantErr: "S3 buckets only"},
		{url: "s3://bucket/p", opt: none},
		{url: "s3://bucket/p", public: true, opt: keys},
		{url: "s3://bucket/p", public: true, opt: none, wantErr: "needs credentials"},
		{url: "s3://B/p", opt: none, wantErr: "not a valid S3 bucket name"},
		{url: "gs://x", opt: none, wantErr: "unknown scheme"},
		{url: "out", opt: none, wantErr: "not a URL"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			err := publish.ValidateOutput(tc.url, tc.public, tc.opt)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("ValidateOutput(%q, public=%v) = %v, want %q", tc.url, tc.public, err, tc.wantErr)
			}
		})
	}
}
