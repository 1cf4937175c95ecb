package benchutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ChildFixture returns the cached fixture directory os.TempDir()/name,
// generating it first when its file marker (relative to the directory) is
// missing. Generation re-runs the test binary with -test.run=^test$ and the
// env variable env set to the directory, so the generator's memory does not
// count in the benchmark's peak RSS; the test named test generates into
// os.Getenv(env) and does nothing when it is unset (a normal test run).
func ChildFixture(b testing.TB, name, marker, test, env string) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), name)
	if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env+"="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("generate the benchmark fixture %s (%s): %v\n%s", dir, test, err, out)
	}
	return dir
}
