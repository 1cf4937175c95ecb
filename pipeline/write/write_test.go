package write

import (
	"os"
	"path/filepath"
	"testing"
)

type row struct {
	A int64  `parquet:"a"`
	B string `parquet:"b"`
}

// A failed Create leaves a nil file that callers abort on their error
// path (the logs stage does): that must be safe, and nothing is left.
func TestCreateFailsAbortNil(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "logs")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create[row](dir, PartPath("logs", "2026-01-05", 0))
	if err == nil {
		t.Fatal("Create under a file succeeded")
	}
	f.Abort() // must not panic
	var d *Dynamic
	d.Abort()
}

// Nothing is visible under the final name until Close; Abort leaves nothing.
func TestStagedVisibility(t *testing.T) {
	dir := t.TempDir()
	rel := PartPath("t", "", 0)
	f, err := Create[row](dir, rel, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write([]row{{1, "x"}, {2, "y"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, rel)); !os.IsNotExist(err) {
		t.Fatalf("final file visible before Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	g, err := Create[row](dir, PartPath("u", "", 0))
	if err != nil {
		t.Fatal(err)
	}
	g.Abort()
	entries, _ := os.ReadDir(filepath.Join(dir, "u"))
	if len(entries) != 0 {
		t.Fatalf("Abort left %d files", len(entries))
	}
}
