package bucket_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/internal/miniotest"
)

// CheckOutput against a real MinIO: a missing bucket, wrong keys or a dead
// endpoint fail before any work, with the endpoint, the bucket and advice.
func TestCheckOutputMinIO(t *testing.T) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "present")
	// a port nothing listens on
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	env := func(over map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := over[k]; ok {
				return v
			}
			return srv.Getenv(k)
		}
	}
	tests := []struct {
		name     string
		url      string
		env      map[string]string
		public   bool
		wantErr  []string // substrings; none = success
		notFound bool
	}{
		{name: "bucket exists", url: "s3://present/prefix"},
		{name: "bucket exists, public", url: "s3://present/prefix", public: true},
		{name: "missing bucket", url: "s3://missing-bucket/prefix", notFound: true,
			wantErr: []string{`output "s3://missing-bucket/prefix"`, "s3 bucket missing-bucket at " + srv.URL, "credentials: environment", "bucket does not exist", "create the bucket first"}},
		{name: "wrong secret", url: "s3://present/prefix", env: map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong-secret"},
			wantErr: []string{"s3 bucket present at " + srv.URL, "check the credentials"}},
		{name: "unknown key id", url: "s3://present/prefix", env: map[string]string{"AWS_ACCESS_KEY_ID": "nobody"},
			wantErr: []string{"s3 bucket present", "check the credentials"}},
		{name: "dead endpoint", url: "s3://present/prefix", env: map[string]string{"AWS_ENDPOINT_URL": dead},
			wantErr: []string{"checking the bucket before the export", "s3 bucket present at " + dead}},
		{name: "settings error before the network", url: "s3://Bad/prefix", wantErr: []string{"not a valid S3 bucket name"}},
		{name: "file output never probes", url: "file://" + t.TempDir()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := bucket.CheckOutput(context.Background(), tc.url, tc.public, bucket.WithGetenv(env(tc.env)))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("CheckOutput(%s) = %v, want nil", tc.url, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckOutput(%s) = nil, want an error containing %q", tc.url, tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckOutput(%s) = %v\nwant it to contain %q", tc.url, err, w)
				}
			}
			if got := errors.Is(err, bucket.ErrBucketNotFound); got != tc.notFound {
				t.Errorf("errors.Is(err, ErrBucketNotFound) = %v, want %v", got, tc.notFound)
			}
		})
	}
}

// A cancelled context stops the probe.
func TestCheckOutputCancelled(t *testing.T) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "present")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := bucket.CheckOutput(ctx, "s3://present/p", false, bucket.WithGetenv(srv.Getenv))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("CheckOutput with a cancelled context = %v, want context.Canceled", err)
	}
}
