//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/opsdata/opsdata/internal/miniotest"
)

// anonEnv is the process environment with every AWS_* variable removed and
// HOME pointing at an empty directory (no ~/.aws/credentials): only the
// endpoint is given, so opsdata can only make unsigned requests.
func anonEnv(t *testing.T, endpoint string) []string {
	t.Helper()
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || name == "HOME" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "HOME="+t.TempDir(), "AWS_ENDPOINT_URL="+endpoint)
}

// runAnon runs the opsdata binary with anonEnv.
func runAnon(t *testing.T, e env, endpoint string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = anonEnv(t, endpoint)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// listFiles lists the regular files under dir, slash-separated and relative.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// testAnonymousPull runs inside TestS3Export, after the demo was exported
// to s3://bucket/prefix with --public, so it shares that export. With no
// credentials at all, `opsdata ls` and `opsdata pull` (full and partial)
// read the public dataset and the pulled directory passes the real
// `sha256sum -c`; the same dataset copied under a prefix the policy does
// not open fails to pull, saying it is not public and what to do.
func testAnonymousPull(t *testing.T, e env, srv *miniotest.Server, bucket, prefix string) {
	ds := "s3://" + bucket + "/" + prefix + "/demo-cluster"
	if out, stderr, err := runAnon(t, e, srv.URL, "ls", ds); err != nil || !strings.Contains(out, e.version+" (latest)") {
		t.Errorf("anonymous ls %s: %v\n%s%s", ds, err, out, stderr)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		ref     string
		want    []string
		wantNot []string
	}{
		{"full at latest", nil, ds,
			[]string{"windows/date=2026-01-05/", "metrics/", "incidents/", "croissant.json", "README.md", "LICENSE"},
			[]string{"SHA256SUMS.full", ".part"}},
		{"windows and incidents, one day", []string{"--tables", "windows,incidents", "--from", "2026-01-06", "--to", "2026-01-07"}, ds + "@" + e.version,
			[]string{"windows/date=2026-01-06/", "incidents/", "SHA256SUMS.full"},
			[]string{"windows/date=2026-01-05/", "windows/date=2026-01-07/", "metrics/", "logs/", ".part"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pulled")
			args := append(append([]string{"pull"}, tc.args...), tc.ref, dir)
			out, stderr, err := runAnon(t, e, srv.URL, args...)
			if err != nil {
				t.Fatalf("anonymous pull %v: %v\n%s%s", args, err, out, stderr)
			}
			if !strings.Contains(out, "pulled demo-cluster@"+e.version) {
				t.Errorf("pull output: %s", out)
			}
			cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sha256sum -c after an anonymous pull: %v\n%s", err, b)
			}
			all := strings.Join(listFiles(t, dir), "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("pulled files lack %s:\n%s", w, all)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(all, w) {
					t.Errorf("pulled files include %s:\n%s", w, all)
				}
			}
			// The pulled bytes are the published bytes.
			local := localFiles(t, e.versionDir())
			for k, b := range localFiles(t, dir) {
				if (k == "SHA256SUMS" || k == "README.md" || k == "croissant.json") && tc.args != nil {
					// A partial pull's list covers what it pulled, and its card and
					// Croissant describe it (decision 0030); sha256sum -c checked them above.
					continue
				}
				if want, ok := local[k]; ok && !bytes.Equal(b, want) {
					t.Errorf("%s: pulled %d bytes differ from the filesystem publish (%d bytes)", k, len(b), len(want))
				}
			}
		})
	}

	// The same dataset under a prefix the public policy does not cover
	// (server-side copies: cheap, and the objects really are there).
	cl := srv.Client(t)
	ctx := context.Background()
	src := prefix + "/demo-cluster/"
	n := 0
	for o := range cl.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: src, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list %s/%s: %v", bucket, src, o.Err)
		}
		dst := minio.CopyDestOptions{Bucket: bucket, Object: "private-datasets/demo-cluster/" + strings.TrimPrefix(o.Key, src)}
		if _, err := cl.CopyObject(ctx, dst, minio.CopySrcOptions{Bucket: bucket, Object: o.Key}); err != nil {
			t.Fatalf("copy %s: %v", o.Key, err)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("nothing under %s/%s to copy", bucket, src)
	}
	private := "s3://" + bucket + "/private-datasets/demo-cluster"
	// With the keys the private copy pulls: the refusal below is the policy's.
	withKeys := filepath.Join(t.TempDir(), "with-keys")
	if out, stderr, err := runEnv(t, e, srv.Env(), "pull", "--tables", "incidents", private+"@"+e.version, withKeys); err != nil {
		t.Fatalf("pull of the private copy with credentials: %v\n%s%s", err, out, stderr)
	}
	for _, ref := range []string{private, private + "@" + e.version} {
		dir := filepath.Join(t.TempDir(), "denied")
		out, stderr, err := runAnon(t, e, srv.URL, "pull", ref, dir)
		if err == nil {
			t.Errorf("anonymous pull of non-public %s succeeded:\n%s", ref, out)
			continue
		}
		for _, want := range []string{"credentials: anonymous", "Access Denied", "not public", "AWS_ACCESS_KEY_ID", "--public"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("anonymous pull of non-public %s: stderr does not say %q:\n%s", ref, want, stderr)
			}
		}
		if files := listFiles(t, filepath.Dir(dir)); len(files) != 0 {
			t.Errorf("a refused pull left files: %v", files)
		}
	}
}
