//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/internal/miniotest"
)

// TestS3ExportMissingBucketFailsFast: an export to a bucket the real MinIO
// does not have fails before any work (bucket.CheckOutput probes the bucket
// before staging): non-zero exit, the bucket, endpoint and advice on stderr,
// no staging directory ever made, nothing in the bucket's place.
func TestS3ExportMissingBucketFailsFast(t *testing.T) {
	e := setup(t)
	srv := miniotest.Start(t)
	tmp := t.TempDir()
	extra := append(srv.Env(), "TMPDIR="+tmp)
	stdout, stderr, err := runEnv(t, e, extra, "export", "--spec", e.spec, "--output", "s3://missing-bucket/datasets")
	if err == nil {
		t.Fatalf("export to a missing bucket succeeded:\n%s", stdout)
	}
	for _, want := range []string{`output "s3://missing-bucket/datasets"`, "s3 bucket missing-bucket at " + srv.URL, "bucket does not exist", "create the bucket first"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	// Before the probe, the export ran to the end and failed in publish.
	if strings.Contains(stderr, "publish") {
		t.Errorf("export failed while publishing, i.e. after all the work, not at the output check:\n%s", stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Errorf("export staged before checking the bucket: %v", left)
	}
	if strings.TrimSpace(stdout) != "" {
		t.Errorf("export printed progress before failing: %q", stdout)
	}
	if ok, err := srv.Client(t).BucketExists(t.Context(), "missing-bucket"); err != nil || ok {
		t.Errorf("bucket missing-bucket exists=%v err=%v after the failed export", ok, err)
	}
}
