package miniotest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/internal/miniotest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStartStopRestart(t *testing.T) {
	srv := miniotest.Start(t)
	if !strings.HasPrefix(srv.Host, "127.0.0.1:") {
		t.Fatalf("MinIO listens on %s, want 127.0.0.1 only", srv.Host)
	}
	ctx := context.Background()
	srv.CreateBucket(t, "bkt")
	cl := srv.Client(t)
	if _, err := cl.PutObject(ctx, "bkt", "k", strings.NewReader("data"), 4, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := hc.Get(srv.URL + "/minio/health/live"); err == nil {
		resp.Body.Close()
		t.Fatalf("server still answers after Stop")
	}
	srv.Restart(t)
	obj, err := cl.GetObject(ctx, "bkt", "k", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if b, err := io.ReadAll(obj); err != nil || string(b) != "data" {
		t.Errorf("after restart: %q, %v; want the object written before", b, err)
	}
	// Anonymous requests are refused: credentials are required.
	resp, err := hc.Get(srv.URL + "/bkt/k")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET: HTTP %d, want 403", resp.StatusCode)
	}
	if srv.Getenv("AWS_ACCESS_KEY_ID") != srv.AccessKey || len(srv.SecretKey) < 16 {
		t.Errorf("Env/credentials inconsistent")
	}
}
