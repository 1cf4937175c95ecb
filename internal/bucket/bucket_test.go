package bucket_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

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
