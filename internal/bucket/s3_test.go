package bucket_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
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
		s3      bucket.S3
		env     map[string]string
		want    bucket.S3Settings // only the fields compared below
		wantErr string
	}{
		{name: "aws defaults anonymous", url: "s3://my-bucket/a/b", env: map[string]string{},
			want: bucket.S3Settings{Bucket: "my-bucket", Prefix: "a/b", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "env endpoint url http", url: "s3://b1b/", env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1"},
			want: bucket.S3Settings{Bucket: "b1b", Endpoint: "127.0.0.1:9000", Secure: false, Region: "eu-west-1", Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "s3-specific endpoint wins over generic", url: "s3://bkt", env: map[string]string{"AWS_ENDPOINT_URL": "http://generic:1", "AWS_ENDPOINT_URL_S3": "https://s3only:2", "AWS_DEFAULT_REGION": "us-west-2"},
			want: bucket.S3Settings{Bucket: "bkt", Endpoint: "s3only:2", Secure: true, Region: "us-west-2", Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "spec wins over env", url: "s3://bkt/p", s3: bucket.S3{Endpoint: "minio.internal:9000", Insecure: &yes, Region: "r1", BucketLookup: "path", PartSizeMiB: 5},
			env:  map[string]string{"AWS_ENDPOINT_URL": "https://other", "AWS_REGION": "r2"},
			want: bucket.S3Settings{Bucket: "bkt", Prefix: "p", Endpoint: "minio.internal:9000", Secure: false, Region: "r1", Lookup: "path", PartSize: 5 << 20, CredentialSource: "anonymous"}},
		{name: "insecure switch for bare host", url: "s3://bkt", env: map[string]string{"AWS_ENDPOINT_URL_S3": "minio:9000", "OPSDATA_S3_INSECURE": "true"},
			want: bucket.S3Settings{Bucket: "bkt", Endpoint: "minio:9000", Secure: false, Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "scheme wins over insecure switch", url: "s3://bkt", env: map[string]string{"AWS_ENDPOINT_URL_S3": "https://minio:9000", "OPSDATA_S3_INSECURE": "1"},
			want: bucket.S3Settings{Bucket: "bkt", Endpoint: "minio:9000", Secure: true, Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "env credentials", url: "s3://bkt", env: awsEnv,
			want: bucket.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", AccessKeyID: "AKIDENV", SecretAccessKey: "SECRETENV", SessionToken: "TOKENENV", CredentialSource: "environment"}},
		{name: "spec files win over env", url: "s3://bkt", s3: bucket.S3{Credentials: bucket.S3Credentials{AccessKeyIDFile: idFile, SecretAccessKeyFile: secretFile}}, env: awsEnv,
			want: bucket.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", AccessKeyID: "AKIDFILE", SecretAccessKey: "SECRETFILE", CredentialSource: "spec"}},
		{name: "spec env names", url: "s3://bkt", s3: bucket.S3{Credentials: bucket.S3Credentials{AccessKeyIDEnv: "MY_ID", SecretAccessKeyEnv: "MY_SECRET"}}, env: map[string]string{"MY_ID": "A", "MY_SECRET": "S"},
			want: bucket.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", AccessKeyID: "A", SecretAccessKey: "S", CredentialSource: "spec"}},
		{name: "anonymous wins over env", url: "s3://bkt", s3: bucket.S3{Credentials: bucket.S3Credentials{Anonymous: true}}, env: awsEnv,
			want: bucket.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", CredentialSource: "anonymous"}},
		{name: "shared credentials file profile", url: "s3://bkt", env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": shared, "AWS_PROFILE": "other"},
			want: bucket.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", AccessKeyID: "AKIDOTHER", SecretAccessKey: "SECRETOTHER", CredentialSource: "shared credentials file " + shared}},
		{name: "ca bundle from env", url: "s3://bkt", env: map[string]string{"AWS_CA_BUNDLE": ca},
			want: bucket.S3Settings{Bucket: "bkt", Endpoint: "s3.amazonaws.com", Secure: true, Lookup: "auto", CAFile: ca, CredentialSource: "anonymous"}},
		{name: "env ca bundle ignored for http", url: "s3://bkt", env: map[string]string{"AWS_CA_BUNDLE": ca, "AWS_ENDPOINT_URL": "http://h:1"},
			want: bucket.S3Settings{Bucket: "bkt", Endpoint: "h:1", Lookup: "auto", CredentialSource: "anonymous"}},

		{name: "bad bucket", url: "s3://Bad_Bucket/x", env: map[string]string{}, wantErr: "not a valid S3 bucket name"},
		{name: "bad prefix", url: "s3://bkt/a/../b", env: map[string]string{}, wantErr: "prefix"},
		{name: "half env credentials", url: "s3://bkt", env: map[string]string{"AWS_ACCESS_KEY_ID": "A"}, wantErr: "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{name: "named env empty", url: "s3://bkt", s3: bucket.S3{Credentials: bucket.S3Credentials{AccessKeyIDEnv: "MY_ID", SecretAccessKeyEnv: "MY_SECRET"}}, env: map[string]string{"MY_ID": "A"}, wantErr: "secret_access_key_env: environment variable MY_SECRET is empty"},
		{name: "missing key file", url: "s3://bkt", s3: bucket.S3{Credentials: bucket.S3Credentials{AccessKeyIDFile: filepath.Join(dir, "nope"), SecretAccessKeyFile: secretFile}}, env: map[string]string{}, wantErr: "access_key_id_file"},
		{name: "missing ca file", url: "s3://bkt", s3: bucket.S3{CAFile: filepath.Join(dir, "nope.pem")}, env: map[string]string{}, wantErr: "s3 CA file"},
		{name: "ca with plain http", url: "s3://bkt", s3: bucket.S3{CAFile: ca, Endpoint: "http://h:1"}, env: map[string]string{}, wantErr: "plain-HTTP"},
		{name: "contradicting insecure", url: "s3://bkt", s3: bucket.S3{Endpoint: "https://h", Insecure: &yes}, env: map[string]string{}, wantErr: "s3.insecure: contradicts"},
		{name: "bad env endpoint", url: "s3://bkt", env: map[string]string{"AWS_ENDPOINT_URL": "ftp://h"}, wantErr: "$AWS_ENDPOINT_URL"},
		{name: "part size too small", url: "s3://bkt", s3: bucket.S3{PartSizeMiB: 1, Insecure: &no}, env: map[string]string{}, wantErr: "part_size_mib"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bucket.ResolveS3(tc.url, bucket.WithS3(tc.s3), bucket.WithGetenv(envOf(tc.env)))
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
				tc.want.PartSize = bucket.DefaultPartSizeMiB << 20
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("settings:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// minioBucket starts MinIO with a bucket and opens s3://bucket/prefix on it.
func minioBucket(t *testing.T, name string, c bucket.S3) (*miniotest.Server, objstore.Bucket) {
	t.Helper()
	srv := miniotest.Start(t)
	srv.CreateBucket(t, name)
	return srv, srv.Open(t, "s3://"+name+"/prefix", c)
}

func TestMinIOMultipart(t *testing.T) {
	srv, bkt := minioBucket(t, "multipart", bucket.S3{PartSizeMiB: 5})
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
	bkt := srv.Open(t, "s3://no-such-bucket/p", bucket.S3{})
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
	bad, _, err := bucket.OpenBucket(ctx, "s3://b-errors", bucket.WithGetenv(wrong))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Upload(ctx, "x", strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "credentials: environment") || !strings.Contains(err.Error(), "check the credentials") {
		t.Errorf("upload with a wrong secret: %v; want the credential source and advice", err)
	}
	good := srv.Open(t, "s3://b-errors", bucket.S3{})
	if _, err := good.Get(ctx, "missing"); err == nil || !good.IsObjNotFoundErr(err) {
		t.Errorf("get of a missing object: %v; want a not-found error", err)
	}
}

func TestValidateOutput(t *testing.T) {
	keys := bucket.WithGetenv(envOf(map[string]string{"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S"}))
	none := bucket.WithGetenv(envOf(map[string]string{}))
	tests := []struct {
		url     string
		public  bool
		opt     bucket.BucketOption
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
			err := bucket.ValidateOutput(tc.url, tc.public, tc.opt)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("ValidateOutput(%q, public=%v) = %v, want %q", tc.url, tc.public, err, tc.wantErr)
			}
		})
	}
}
