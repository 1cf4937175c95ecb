package scratch

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A crashed run's directory (owner gone, old) is removed; a live run's, a
// fresh one, an unmarked one and other programs' directories are kept.
func TestSweep(t *testing.T) {
	parent := t.TempDir()
	mk := func(name, owner string, age time.Duration) string {
		dir := filepath.Join(parent, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			p := filepath.Join(dir, ownerFile)
			if err := os.WriteFile(p, []byte(owner), 0o600); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-age)
			os.Chtimes(p, old, old)
		}
		return dir
	}
	const deadPID = "2147483646" // beyond any pid_max: no such process
	crashed := mk("opsdata-staging-1", deadPID, 2*time.Hour)
	live := mk("opsdata-staging-2", "1", 2*time.Hour) // pid 1 is alive
	fresh := mk("opsdata-tsdb-3", deadPID, time.Minute)
	unmarked := mk("opsdata-promfile-4", "", 0)
	other := mk("someone-else-5", deadPID, 2*time.Hour)
	n, err := Sweep(parent, Grace, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("removed %d directories, want 1", n)
	}
	if _, err := os.Stat(crashed); !os.IsNotExist(err) {
		t.Error("the crashed run's directory is still there")
	}
	for _, d := range []string{live, fresh, unmarked, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(d), err)
		}
	}
	d, err := Dir(parent, "opsdata-staging-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, ownerFile)); err != nil {
		t.Errorf("Dir wrote no owner file: %v", err)
	}
}
