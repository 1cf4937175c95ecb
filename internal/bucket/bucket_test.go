package bucket_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
)

// Reading a file:// URL that does not exist is an error and creates
// nothing; writing creates the directory.
func TestOpenForReadingCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no", "such", "out")
	if _, _, err := bucket.OpenBucket(context.Background(), "file://"+dir, bucket.ForReading()); !errors.Is(err, bucket.ErrNotFound) {
		t.Fatalf("OpenBucket(missing, ForReading) = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "..")); !os.IsNotExist(err) {
		t.Fatalf("reading a missing URL created directories: %v", err)
	}
	b, _, err := bucket.OpenBucket(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("an output URL is created: %v", err)
	}
}

// A stray upload temp file older than the grace period (a crash between
// write and rename) is removed by the sweep a run makes at its start;
// a young one (an upload in flight) and objects are kept.
func TestStrayUploadTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	for _, f := range []string{"d/.catalog.json.tmp-1", "d/.latest.tmp-2", "d/v/.manifest.json.tmp-3"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
		os.Chtimes(p, old, old)
	}
	os.WriteFile(filepath.Join(dir, "d/.young.tmp-4"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "d/catalog.json"), []byte("{}"), 0o644)
	if _, _, err := bucket.OpenBucket(context.Background(), "file://"+dir, bucket.ForReading()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "d/.latest.tmp-2")); err != nil {
		t.Fatal("opening for reading removed files")
	}
	if err := bucket.SweepTempFiles("file://" + dir); err != nil {
		t.Fatal(err)
	}
	for f, keep := range map[string]bool{"d/.catalog.json.tmp-1": false, "d/.latest.tmp-2": false, "d/v/.manifest.json.tmp-3": false, "d/.young.tmp-4": true, "d/catalog.json": true} {
		_, err := os.Stat(filepath.Join(dir, f))
		if (err == nil) != keep {
			t.Errorf("%s: exists=%v, want %v", f, err == nil, keep)
		}
	}
}
