package publish_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/publish/publishtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestCatalogPagesGolden publishes two versions and compares the dataset
// page and the prefix index with golden files (go test -update rewrites them).
func TestCatalogPagesGolden(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	bkt, _, err := bucket.OpenBucket(ctx, "file://"+root)
	if err != nil {
		t.Fatal(err)
	}
	defer bkt.Close()
	for i, v := range []string{"2026-01-05", "2026-01-06"} {
		dir, m := publishtest.Stage(t, v, i)
		if err := publish.Publish(ctx, bkt, "pub", dir, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ object, golden string }{
		{"pub/" + publishtest.Dataset + "/index.html", "catalogpage.golden.html"},
		{"pub/index.html", "catalogindex.golden.html"},
	} {
		got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(tc.object)))
		if err != nil {
			t.Fatal(err)
		}
		gp := filepath.Join("testdata", tc.golden)
		if *update {
			if err := os.WriteFile(gp, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(gp)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (go test ./pipeline/publish -run CatalogPages -update, then review the diff)", tc.object, gp)
		}
		low := strings.ToLower(string(got))
		if strings.Contains(low, "<script") || strings.Contains(low, "javascript:") || strings.Contains(low, " on") && strings.Contains(low, "onclick") {
			t.Errorf("%s contains JavaScript", tc.object)
		}
	}
	page, _ := os.ReadFile(filepath.Join(root, "pub", publishtest.Dataset, "index.html"))
	for _, want := range []string{
		`data-version="2026-01-06"`, `data-version="2026-01-05"`, "latest</span>",
		`id="table-windows"`, `id="table-incidents"`, "timestamp[ms, UTC]", "CC-BY-4.0",
		"import pandas as pd", "read_parquet(", "hive_partitioning = true", "import polars as pl",
		`id="incidents"`, "Known gaps", "1.20260105.20260106&#43;2026-01-06",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("dataset page lacks %q", want)
		}
	}
	// Re-publishing the same version leaves the pages byte-identical.
	dir, m := publishtest.Stage(t, "2026-01-06", 1)
	before, _ := os.ReadFile(filepath.Join(root, "pub", publishtest.Dataset, "index.html"))
	publish.Publish(ctx, bkt, "pub", dir, m)
	after, _ := os.ReadFile(filepath.Join(root, "pub", publishtest.Dataset, "index.html"))
	if !bytes.Equal(before, after) {
		t.Error("page changed on an idempotent re-publish")
	}
}
