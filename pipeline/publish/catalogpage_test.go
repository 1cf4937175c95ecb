package publish_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/publish/publishtest"
	"github.com/opsdata/opsdata/schemas"
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

// With a public_url, the page's DuckDB and Hugging Face snippets read the
// latest version over HTTPS; every URL they list is served, with the bytes
// the manifest names. Without one (the golden page) they are absent.
func TestCatalogPageHTTPSReads(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer srv.Close()
	bkt, _, err := bucket.OpenBucket(ctx, "file://"+root)
	if err != nil {
		t.Fatal(err)
	}
	defer bkt.Close()
	dir := t.TempDir()
	publishtest.WriteStaging(t, dir, 0)
	meta := publishtest.Meta("2026-01-05")
	meta.PublicURL = srv.URL + "/pub/"
	test := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	meta.Split = &schemas.SplitPolicy{Test: &test, Embargo: "30m0s", EmbargoSeconds: 1800, Straddling: []string{}}
	m, err := publish.Prepare(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish.Publish(ctx, bkt, "pub", dir, m); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(root, "pub", publishtest.Dataset, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	text := html.UnescapeString(string(page))
	for _, want := range []string{"DuckDB over HTTPS", "FROM read_parquet([", "Hugging Face datasets over HTTPS",
		`load_dataset("parquet", data_files={`, `"test": [`, `r["split"] != "gap"`} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(text, `"train": [`) {
		t.Error("the HF snippet lists a train split, but the only day is in test")
	}
	want := srv.URL + "/pub/" + publishtest.Dataset + "/2026-01-05/windows/date=2026-01-05/part-00000.parquet"
	duck := regexp.MustCompile(`'(http://[^']+\.parquet)'`).FindAllStringSubmatch(text, -1)
	hf := regexp.MustCompile(`"(http://[^"]+\.parquet)"`).FindAllStringSubmatch(text, -1)
	if len(duck) != 1 || duck[0][1] != want || len(hf) != 1 || hf[0][1] != want {
		t.Fatalf("snippet URLs: duckdb %v, hf %v; want [%s] in each", duck, hf, want)
	}
	resp, err := http.Get(want)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(body)
	var wantSum string
	for _, f := range m.Files {
		if f.Table == schemas.TableWindows {
			wantSum = f.SHA256
		}
	}
	if resp.StatusCode != http.StatusOK || hex.EncodeToString(sum[:]) != wantSum {
		t.Errorf("GET %s: %s, sha256 %x, want 200 and %s", want, resp.Status, sum, wantSum)
	}
}
