package benchutil

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const fixtureTestEnv = "OPSDATA_BENCHUTIL_FIXTURE_TEST"

// TestGenerateFixtureChild is ChildFixture's generator in this test; it
// does nothing unless run as the child.
func TestGenerateFixtureChild(t *testing.T) {
	dir := os.Getenv(fixtureTestEnv)
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestChildFixture(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	for _, tc := range []struct {
		name     string
		generate bool // whether the child must run this time
	}{
		{"first call generates", true},
		{"second call uses the cache", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(os.TempDir(), "fx", "done")
			before, _ := os.ReadFile(marker)
			dir := ChildFixture(t, "fx", "done", "TestGenerateFixtureChild", fixtureTestEnv)
			if dir != filepath.Join(os.TempDir(), "fx") {
				t.Fatalf("dir = %s", dir)
			}
			after, err := os.ReadFile(marker)
			if err != nil {
				t.Fatalf("marker not written: %v", err)
			}
			if pid := strconv.Itoa(os.Getpid()); string(after) == pid {
				t.Fatalf("the generator ran in this process, not a child")
			}
			if generated := string(before) != string(after); generated != tc.generate {
				t.Errorf("generated = %v, want %v", generated, tc.generate)
			}
		})
	}
}
