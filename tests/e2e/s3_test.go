//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/opsdata/opsdata/internal/miniotest"
)

// runEnv runs the opsdata binary like run, with extra environment.
func runEnv(t *testing.T, e env, extra []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = filepath.Dir(e.demo)
	cmd.Env = append(os.Environ(), extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// objects reads every object under prefix/ into memory, keyed by the
// path relative to prefix.
func objects(t *testing.T, cl *minio.Client, bucket, prefix string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	for o := range cl.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s/%s: %v", bucket, prefix, o.Err)
		}
		obj, err := cl.GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatalf("read %s: %v", o.Key, err)
		}
		out[strings.TrimPrefix(o.Key, prefix+"/")] = b
	}
	return out
}

func localFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// python is the venv's interpreter (make venv), or "" when absent.
func python(t *testing.T, e env) string {
	t.Helper()
	p := os.Getenv("OPSDATA_PYTHON")
	if p == "" {
		p = filepath.Join(filepath.Dir(e.demo), ".venv", "bin", "python")
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pyarrow check: no Python venv at %s (make venv): %v", p, err)
		}
		t.Logf("SKIPPED the pyarrow read-back: no venv at %s; run `make venv`", p)
		return ""
	}
	return p
}

// TestS3Export publishes the demo to a real MinIO with --public, and checks
// it equals the filesystem publish byte for byte (read with minio-go and
// with pyarrow's S3 filesystem), that anyone can read the dataset's prefix
// and nothing else, and that inspect reads s3:// URLs.
func TestS3Export(t *testing.T) {
	e := setup(t)
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "opsdata-e2e")
	if _, err := srv.Client(t).PutObject(context.Background(), "opsdata-e2e", "private/secret.txt", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runEnv(t, e, srv.Env(), "export", "--spec", e.spec, "--output", "s3://opsdata-e2e/datasets", "--version", e.version, "--public")
	if err != nil {
		t.Fatalf("export to MinIO: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "published demo-cluster/"+e.version+" to s3://opsdata-e2e/datasets") {
		t.Errorf("export output: %s", out)
	}

	cl := srv.Client(t)
	remote := objects(t, cl, "opsdata-e2e", "datasets/demo-cluster/"+e.version)
	local := localFiles(t, e.versionDir())
	if got, want := keys(remote), keys(local); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("objects in MinIO differ from the filesystem publish:\n got %q\nwant %q", got, want)
	}
	for k, b := range local {
		if !bytes.Equal(remote[k], b) {
			t.Errorf("%s: MinIO object (%d bytes) differs from the filesystem publish (%d bytes)", k, len(remote[k]), len(b))
		}
	}
	pointers := objects(t, cl, "opsdata-e2e", "datasets/demo-cluster")
	if got := string(pointers["latest"]); got != e.version+"\n" {
		t.Errorf("latest = %q, want %q", got, e.version)
	}

	if py := python(t, e); py != "" {
		cmd := exec.Command(py, filepath.Join(filepath.Dir(e.demo), "tests", "python", "s3_readback.py"),
			"opsdata-e2e/datasets/demo-cluster/"+e.version, e.versionDir())
		cmd.Env = append(os.Environ(), srv.Env()...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("pyarrow read-back from MinIO differs from the filesystem publish: %v\n%s", err, b)
		} else {
			t.Logf("pyarrow: %s", b)
		}
	}

	get := func(path string) int {
		cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := cl.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for path, want := range map[string]int{
		"/opsdata-e2e/datasets/demo-cluster/latest":                          http.StatusOK,
		"/opsdata-e2e/datasets/demo-cluster/" + e.version + "/manifest.json": http.StatusOK,
		"/opsdata-e2e?list-type=2&prefix=datasets/demo-cluster/":             http.StatusOK,
		"/opsdata-e2e?list-type=2":                                           http.StatusForbidden,
		"/opsdata-e2e?list-type=2&prefix=private/":                           http.StatusForbidden,
		"/opsdata-e2e/private/secret.txt":                                    http.StatusForbidden,
	} {
		if got := get(path); got != want {
			t.Errorf("anonymous GET %s: HTTP %d, want %d", path, got, want)
		}
	}

	out, stderr, err = runEnv(t, e, srv.Env(), "inspect", "s3://opsdata-e2e/datasets/demo-cluster")
	if err != nil || !strings.Contains(out, "demo-cluster "+e.version) {
		t.Errorf("inspect s3://: %v\n%s%s", err, out, stderr)
	}
	// --public is refused up front, before any work, where it cannot apply.
	if _, stderr, err := run(t, e, "export", "--spec", e.spec, "--output", "file://"+t.TempDir(), "--public"); err == nil || !strings.Contains(stderr, "S3 buckets only") {
		t.Errorf("--public on file://: %v %s; want a refusal", err, stderr)
	}
	// Anonymous readers (no keys at all) can inspect the public dataset.
	anon := []string{"AWS_ENDPOINT_URL=" + srv.URL, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
	if out, stderr, err := runEnv(t, e, anon, "inspect", "s3://opsdata-e2e/datasets/demo-cluster"); err != nil || !strings.Contains(out, "demo-cluster "+e.version) {
		t.Errorf("anonymous inspect s3://: %v\n%s%s", err, out, stderr)
	}
	// ls and pull without credentials, sharing this export (pull_s3_test.go).
	t.Run("anonymous pull", func(t *testing.T) { testAnonymousPull(t, e, srv, "opsdata-e2e", "datasets") })
}

// TestS3ServerStoppedMidExport stops MinIO after the export's first data
// uploads: the export must fail saying what failed, and no version may
// become visible.
func TestS3ServerStoppedMidExport(t *testing.T) {
	e := setup(t)
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "opsdata-outage")
	cl := srv.Client(t)
	// An earlier version, copied from the filesystem publish (an export
	// would take as long and prove nothing more here).
	seed := localFiles(t, filepath.Join(e.out, "demo-cluster"))
	for _, k := range keys(seed) {
		if strings.HasPrefix(k, e.version+"/") || !strings.Contains(k, "/") {
			if _, err := cl.PutObject(context.Background(), "opsdata-outage", "ds/demo-cluster/"+k, bytes.NewReader(seed[k]), int64(len(seed[k])), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := objects(t, cl, "opsdata-outage", "ds/demo-cluster")

	// A proxy in front of MinIO that stops the server at the third PUT of
	// the new version, then refuses connections, as a dead endpoint would.
	target, _ := url.Parse(srv.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	var puts atomic.Int64
	var proxy *httptest.Server
	var once sync.Once
	proxy = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/z-kill-test/") && puts.Add(1) >= 3 {
			once.Do(func() {
				srv.Stop()
				go func() { proxy.Listener.Close(); proxy.CloseClientConnections() }()
			})
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	proxy.Start()
	defer proxy.Close()
	penv := append(srv.Env(), "AWS_ENDPOINT_URL="+proxy.URL)
	_, stderr, err := runEnv(t, e, penv, "export", "--spec", e.spec, "--output", "s3://opsdata-outage/ds", "--version", "z-kill-test")
	if err == nil {
		t.Fatalf("export succeeded although MinIO was stopped")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Errorf("exit: %v, want a non-zero exit code", err)
	}
	for _, want := range []string{"publish demo-cluster/z-kill-test", "ds/demo-cluster/z-kill-test/", "s3 bucket opsdata-outage at " + proxy.URL, "connection refused"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	if puts.Load() < 3 {
		t.Fatalf("only %d PUTs reached the proxy; the outage was not mid-export", puts.Load())
	}
	t.Logf("stderr: %s", stderr)

	srv.Restart(t)
	after := objects(t, cl, "opsdata-outage", "ds/demo-cluster")
	if _, ok := after["z-kill-test/manifest.json"]; ok {
		t.Errorf("the interrupted version has a manifest: it is visible")
	}
	for _, k := range []string{"catalog.json", "latest", "latest.json"} {
		if !bytes.Equal(before[k], after[k]) {
			t.Errorf("%s changed by the interrupted export:\nbefore %s\nafter  %s", k, before[k], after[k])
		}
	}
}
