//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLsAndPull runs the built binary against the published demo output:
// ls lists the version; a full and a partial pull into empty directories
// pass the real `sha256sum -c SHA256SUMS`.
func TestLsAndPull(t *testing.T) {
	e := setup(t)
	ds := filepath.Join(e.out, "demo-cluster")
	out, err := exec.Command(e.bin, "ls", "file://"+ds).CombinedOutput()
	if err != nil || !strings.Contains(string(out), e.version+" (latest)") || !strings.Contains(string(out), "CDLA-Permissive-2.0") {
		t.Fatalf("ls: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string
		wantNot []string
	}{
		{"full", nil, []string{"windows/", "metrics/", "croissant.json"}, []string{"SHA256SUMS.full"}},
		{"windows one day", []string{"--tables", "windows", "--from", "2026-01-06", "--to", "2026-01-07"},
			[]string{"windows/date=2026-01-06/", "SHA256SUMS.full"}, []string{"windows/date=2026-01-05/", "metrics/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pulled")
			args := append(append([]string{"pull"}, tc.args...), ds+"@"+e.version, dir)
			out, err := exec.Command(e.bin, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("pull: %v\n%s", err, out)
			}
			if strings.Contains(string(out), "\r") {
				t.Errorf("progress bar drawn without a terminal:\n%q", out)
			}
			cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sha256sum -c: %v\n%s", err, out)
			}
			var files []string
			filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					files = append(files, filepath.ToSlash(rel))
				}
				return nil
			})
			all := strings.Join(files, "\n")
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
		})
	}
}
