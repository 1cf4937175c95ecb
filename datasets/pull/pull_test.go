package pull_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/datasets/pull"
	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/publish/publishtest"
	"github.com/opsdata/opsdata/schemas"
)

const (
	dataset = publishtest.Dataset
	version = "2026-01-05"
)

// published publishes a small version with two windows partitions into a
// fresh filesystem bucket and returns the bucket and its root directory.
func published(t *testing.T) (objstore.Bucket, string) {
	t.Helper()
	stage := t.TempDir()
	publishtest.WriteStaging(t, stage, 0)
	src := filepath.Join(stage, "windows", "date=2026-01-05", "part-00000.parquet")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(stage, "windows", "date=2026-01-06"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stage, "windows", "date=2026-01-06", "part-00000.parquet"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	meta := publishtest.Meta(version)
	meta.To = meta.From.Add(48 * time.Hour) // the two days of windows
	m, err := publish.Prepare(stage, meta)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	bkt, prefix, err := bucket.OpenBucket(context.Background(), "file://"+root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bkt.Close() })
	if err := publish.Publish(context.Background(), bkt, prefix, stage, m); err != nil {
		t.Fatal(err)
	}
	return bkt, root
}

// sha256sumCheck runs the real coreutils check in dir.
func sha256sumCheck(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("sha256sum"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("sha256sum missing under CI: %v", err)
		}
		t.Skip("sha256sum not installed (coreutils)")
	}
	cmd := exec.Command("sha256sum", "--strict", "-c", schemas.SumsFile)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sha256sum -c in %s: %v\n%s", dir, err, out)
	}
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestPullSelections(t *testing.T) {
	bkt, _ := published(t)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	top := []string{"CITATION.cff", "LICENSE", "README.md", "SHA256SUMS", "croissant.json", "manifest.json"}
	tests := []struct {
		name        string
		version     string
		opts        pull.Options
		wantData    []string
		wantPartial bool
		wantErr     error
	}{
		{name: "everything, latest", wantData: []string{"incidents/part-00000.parquet", "windows/date=2026-01-05/part-00000.parquet", "windows/date=2026-01-06/part-00000.parquet"}},
		{name: "explicit version, serial", version: version, opts: pull.Options{Parallel: 1}, wantData: []string{"incidents/part-00000.parquet", "windows/date=2026-01-05/part-00000.parquet", "windows/date=2026-01-06/part-00000.parquet"}},
		{name: "one table", opts: pull.Options{Tables: []string{"windows"}}, wantData: []string{"windows/date=2026-01-05/part-00000.parquet", "windows/date=2026-01-06/part-00000.parquet"}, wantPartial: true},
		{name: "from", opts: pull.Options{From: day(6)}, wantData: []string{"incidents/part-00000.parquet", "windows/date=2026-01-06/part-00000.parquet"}, wantPartial: true},
		{name: "to mid-day", opts: pull.Options{To: day(5).Add(6 * time.Hour)}, wantData: []string{"incidents/part-00000.parquet", "windows/date=2026-01-05/part-00000.parquet"}, wantPartial: true},
		{name: "range after the version", opts: pull.Options{Tables: []string{"windows"}, From: day(9), To: day(10)}, wantErr: pull.ErrOutOfRange},
		{name: "range before the version", opts: pull.Options{To: day(5)}, wantErr: pull.ErrOutOfRange},
		{name: "from at the version's end", opts: pull.Options{From: day(7)}, wantErr: pull.ErrOutOfRange},
		{name: "unknown table", opts: pull.Options{Tables: []string{"nope"}}, wantErr: pull.ErrUnknownTable},
		{name: "missing version", version: "2030-01-01", wantErr: bucket.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "target")
			res, err := pull.Pull(context.Background(), bkt, "", dataset, tc.version, dir, tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]string(nil), top...), tc.wantData...)
			if tc.wantPartial {
				want = append(want, pull.FullSumsFile)
			}
			sort.Strings(want)
			if got := listFiles(t, dir); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("files:\n got %v\nwant %v", got, want)
			}
			if res.Partial != tc.wantPartial || res.Version != version || res.Fetched != res.Files || res.Skipped != 0 {
				t.Errorf("result %+v", res)
			}
			sha256sumCheck(t, dir)

			// A second pull resumes: everything is already there.
			res2, err := pull.Pull(context.Background(), bkt, "", dataset, tc.version, dir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res2.Skipped != res2.Files || res2.Fetched != 0 || res2.Downloaded != 0 {
				t.Errorf("re-pull %+v, want all skipped", res2)
			}
		})
	}
}

func TestPullFullAfterPartialDropsFullSums(t *testing.T) {
	bkt, _ := published(t)
	dir := t.TempDir()
	if _, err := pull.Pull(context.Background(), bkt, "", dataset, "", dir, pull.Options{Tables: []string{"incidents"}}); err != nil {
		t.Fatal(err)
	}
	res, err := pull.Pull(context.Background(), bkt, "", dataset, "", dir, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// CITATION.cff, LICENSE, incidents kept; the partial README and croissant replaced.
	if res.Partial || res.Skipped != 3 || res.Fetched != 4 {
		t.Errorf("result %+v", res)
	}
	if _, err := os.Stat(filepath.Join(dir, pull.FullSumsFile)); !os.IsNotExist(err) {
		t.Errorf("%s left after a full pull: %v", pull.FullSumsFile, err)
	}
	sha256sumCheck(t, dir)
}

func TestPullDamaged(t *testing.T) {
	const victim = "windows/date=2026-01-05/part-00000.parquet"
	tests := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"tampered", func(b []byte) []byte { c := bytes.Clone(b); c[len(c)/2] ^= 0xff; return c }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }},
		{"empty", func(b []byte) []byte { return nil }},
	}
	for _, tc := range tests {
		t.Run("bucket "+tc.name, func(t *testing.T) {
			bkt, root := published(t)
			p := filepath.Join(root, dataset, version, filepath.FromSlash(victim))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, tc.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			_, err = pull.Pull(context.Background(), bkt, "", dataset, "", dir, pull.Options{})
			if !errors.Is(err, pull.ErrChecksum) || !strings.Contains(err.Error(), victim) || !strings.Contains(err.Error(), "refetch") {
				t.Fatalf("err = %v, want ErrChecksum naming %s after a refetch", err, victim)
			}
			// Neither the damaged file nor its .part is left behind, and no sums claim it.
			for _, f := range listFiles(t, dir) {
				if strings.HasPrefix(f, victim) || f == schemas.SumsFile {
					t.Errorf("left behind: %s", f)
				}
			}
		})
		t.Run("local "+tc.name, func(t *testing.T) {
			bkt, _ := published(t)
			dir := t.TempDir()
			if _, err := pull.Pull(context.Background(), bkt, "", dataset, "", dir, pull.Options{}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, filepath.FromSlash(victim))
			b, _ := os.ReadFile(p)
			os.WriteFile(p, tc.damage(b), 0o644)
			res, err := pull.Pull(context.Background(), bkt, "", dataset, "", dir, pull.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Fetched != 1 || res.Skipped != res.Files-1 {
				t.Errorf("result %+v; want the damaged file fetched again, the rest skipped", res)
			}
			sha256sumCheck(t, dir)
		})
	}
}

// flakyBucket corrupts the first read of one object, like a bad transfer.
type flakyBucket struct {
	objstore.Bucket
	victim string
	hits   atomic.Int64
}

func (b *flakyBucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := b.Bucket.Get(ctx, name)
	if err != nil || !strings.HasSuffix(name, b.victim) || b.hits.Add(1) > 1 {
		return rc, err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data[:len(data)/2])), nil
}

func TestPullRefetchesOnce(t *testing.T) {
	bkt, _ := published(t)
	fb := &flakyBucket{Bucket: bkt, victim: "incidents/part-00000.parquet"}
	dir := t.TempDir()
	res, err := pull.Pull(context.Background(), fb, "", dataset, "", dir, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Refetched != 1 || fb.hits.Load() != 2 {
		t.Errorf("refetched %d, gets %d; want 1 and 2", res.Refetched, fb.hits.Load())
	}
	sha256sumCheck(t, dir)
}

// rewrite replaces the published manifest (and SHA256SUMS, catalog) so the
// version is self-consistent but names path p.
func rewriteManifest(t *testing.T, root, p string) {
	t.Helper()
	vdir := filepath.Join(root, dataset, version)
	var m map[string]any
	b, err := os.ReadFile(filepath.Join(vdir, schemas.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	files := m["files"].([]any)
	files[0].(map[string]any)["path"] = p
	nb, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(vdir, schemas.ManifestFile), nb, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, dataset, schemas.CatalogFile))
}

func TestPullRefusesUnsafeManifest(t *testing.T) {
	for _, p := range []string{"../escape.parquet", "../../etc/cron.d/x", "windows/../../x", "/tmp/abs.parquet", "a//b", "./a", `a\..\b`, "", "SHA256SUMS", "x.part"} {
		t.Run(p, func(t *testing.T) {
			bkt, root := published(t)
			rewriteManifest(t, root, p)
			parent := t.TempDir()
			dir := filepath.Join(parent, "target")
			_, err := pull.Pull(context.Background(), bkt, "", dataset, "", dir, pull.Options{})
			if !errors.Is(err, pull.ErrUnsafePath) {
				t.Fatalf("err = %v, want ErrUnsafePath", err)
			}
			if got := listFiles(t, parent); len(got) != 0 {
				t.Errorf("files written despite the refusal: %v", got)
			}
		})
	}
}

func TestPullRefusesSymlinkEscape(t *testing.T) {
	bkt, _ := published(t)
	outside := t.TempDir()
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "windows")); err != nil {
		t.Fatal(err)
	}
	_, err := pull.Pull(context.Background(), bkt, "", dataset, "", dir, pull.Options{Parallel: 1})
	if err == nil || !strings.Contains(err.Error(), "windows/") {
		t.Fatalf("err = %v, want a refusal naming the windows file", err)
	}
	if got := listFiles(t, outside); len(got) != 0 {
		t.Errorf("wrote through the symlink: %v", got)
	}
}

func TestPullRefusesOtherVersionAndInconsistency(t *testing.T) {
	bkt, root := published(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, schemas.ManifestFile), []byte(`{"dataset":"acme-ops","version":"1999-01-01"}`), 0o644)
	if _, err := pull.Pull(context.Background(), bkt, "", dataset, "", dir, pull.Options{}); !errors.Is(err, pull.ErrOtherVersion) {
		t.Errorf("other version: err = %v", err)
	}
	// A SHA256SUMS that disagrees with the manifest is refused.
	sums := filepath.Join(root, dataset, version, schemas.SumsFile)
	b, _ := os.ReadFile(sums)
	os.WriteFile(sums, bytes.Replace(b, b[:8], []byte("00000000"), 1), 0o644)
	if _, err := pull.Pull(context.Background(), bkt, "", dataset, "", t.TempDir(), pull.Options{}); !errors.Is(err, pull.ErrInconsistent) {
		t.Errorf("bad sums: err = %v", err)
	}
}

func TestPullCancelled(t *testing.T) {
	bkt, _ := published(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := pull.Pull(ctx, bkt, "", dataset, "", t.TempDir(), pull.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

type recorder struct {
	files int
	total int64
	done  []string
}

func (r *recorder) Start(files int, bytes int64)         { r.files, r.total = files, bytes }
func (r *recorder) Done(p string, n int64, skipped bool) { r.done = append(r.done, p) }

func TestPullProgress(t *testing.T) {
	bkt, _ := published(t)
	rec := &recorder{}
	res, err := pull.Pull(context.Background(), bkt, "", dataset, "", t.TempDir(), pull.Options{Progress: rec})
	if err != nil {
		t.Fatal(err)
	}
	if rec.files != res.Files || rec.total != res.Bytes || len(rec.done) != res.Files {
		t.Errorf("progress %+v, result %+v", rec, res)
	}
}

// countingBucket counts the bytes read from every object.
type countingBucket struct {
	objstore.Bucket
	read atomic.Int64
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (b *countingBucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := b.Bucket.Get(ctx, name)
	if err != nil {
		return rc, err
	}
	return countingReader{rc, &b.read}, nil
}

// An object longer than its manifest entry is not downloaded in full (let
// alone twice): reading stops one byte past the manifest's size.
func TestPullStopsAtManifestSize(t *testing.T) {
	const victim = "windows/date=2026-01-05/part-00000.parquet"
	bkt, root := published(t)
	p := filepath.Join(root, dataset, version, filepath.FromSlash(victim))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	const extra = 8 << 20
	if err := os.WriteFile(p, append(b, make([]byte, extra)...), 0o644); err != nil {
		t.Fatal(err)
	}
	cb := &countingBucket{Bucket: bkt}
	_, err = pull.Pull(context.Background(), cb, "", dataset, "", t.TempDir(), pull.Options{Tables: []string{"windows"}})
	if !errors.Is(err, pull.ErrChecksum) || !strings.Contains(err.Error(), "longer than the manifest") {
		t.Fatalf("err = %v, want ErrChecksum for an oversized object", err)
	}
	if got := cb.read.Load(); got > extra/2 {
		t.Errorf("read %d bytes of objects; an oversized object must stop at its manifest size", got)
	}
}

// A partial pull describes what it pulled: the card's Hugging Face configs
// and Croissant's record sets and files name only the pulled tables and
// partitions, and the range is the pulled one.
func TestPartialPullDescribesWhatWasPulled(t *testing.T) {
	bkt, _ := published(t)
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	dir := t.TempDir()
	if _, err := pull.Pull(context.Background(), bkt, "", dataset, "", dir, pull.Options{Tables: []string{"windows"}, From: day(6)}); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(dir, schemas.ReadmeFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- config_name: windows\n  default: true\n", "(partial pull)", "Not pulled: `incidents`.", "2026-01-06T00:00:00Z to 2026-01-07T00:00:00Z", "@misc{"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md lacks %q:\n%s", want, readme)
		}
	}
	if strings.Contains(string(readme), "config_name: incidents") {
		t.Error("README.md lists the incidents config, which was not pulled")
	}
	var cr struct {
		TemporalCoverage string `json:"temporalCoverage"`
		Distribution     []struct {
			Type       string `json:"@type"`
			ContentURL string `json:"contentUrl"`
		} `json:"distribution"`
		RecordSet []struct {
			Name string `json:"name"`
		} `json:"recordSet"`
	}
	b, err := os.ReadFile(filepath.Join(dir, schemas.CroissantFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cr); err != nil {
		t.Fatal(err)
	}
	var urls, sets []string
	for _, d := range cr.Distribution {
		if d.Type == "cr:FileObject" {
			urls = append(urls, d.ContentURL)
		}
	}
	for _, r := range cr.RecordSet {
		sets = append(sets, r.Name)
	}
	if strings.Join(urls, ",") != "windows/date=2026-01-06/part-00000.parquet" || strings.Join(sets, ",") != "windows" {
		t.Errorf("croissant files %v, record sets %v", urls, sets)
	}
	if cr.TemporalCoverage != "2026-01-06T00:00:00Z/2026-01-07T00:00:00Z" {
		t.Errorf("temporalCoverage %s", cr.TemporalCoverage)
	}
	sha256sumCheck(t, dir)
}

// A dataset published to a web-served directory (or a public bucket
// prefix) pulls over plain http(s):// — anonymous GETs, the manifest's
// files only — and passes sha256sum -c; a missing dataset is not found.
func TestPullOverHTTP(t *testing.T) {
	_, root := published(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer srv.Close()
	bkt, prefix, err := bucket.OpenBucket(context.Background(), srv.URL, bucket.ForReading())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := pull.Pull(context.Background(), bkt, prefix, dataset, "", dir, pull.Options{})
	if err != nil {
		t.Fatalf("pull over http: %v", err)
	}
	if res.Files == 0 {
		t.Fatal("nothing pulled")
	}
	sha256sumCheck(t, dir)
	if _, err := pull.Pull(context.Background(), bkt, prefix, "no-such-dataset", "", t.TempDir(), pull.Options{}); !errors.Is(err, bucket.ErrNotFound) {
		t.Errorf("pull of a missing dataset: %v, want ErrNotFound", err)
	}
	if _, _, err := bucket.OpenBucket(context.Background(), srv.URL); err == nil {
		t.Error("an http:// URL opened for writing")
	}
}

// largestFile is the published version's biggest table file and its bytes.
func largestFile(t *testing.T, root string) (schemas.File, []byte, int64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, dataset, version, schemas.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m schemas.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var big schemas.File
	var total int64
	for _, f := range m.Files {
		total += f.Bytes
		if f.Table != "" && f.Bytes > big.Bytes {
			big = f
		}
	}
	data, err := os.ReadFile(filepath.Join(root, dataset, version, filepath.FromSlash(big.Path)))
	if err != nil {
		t.Fatal(err)
	}
	return big, data, total
}

func writePart(t *testing.T, dir, p string, data []byte) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(p)) + ".part"
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func noParts(t *testing.T, dir string) {
	t.Helper()
	for _, f := range listFiles(t, dir) {
		if strings.HasSuffix(f, ".part") {
			t.Errorf("%s left behind", f)
		}
	}
}

// An interrupted pull's .part is resumed over HTTP with a range request for
// the rest: only the missing bytes are transferred.
func TestPullResumesOverHTTP(t *testing.T) {
	_, root := published(t)
	big, data, total := largestFile(t, root)
	var mu sync.Mutex
	ranges := map[string][]string{}
	files := http.FileServer(http.Dir(root))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges[r.URL.Path] = append(ranges[r.URL.Path], r.Header.Get("Range"))
		mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	bkt, prefix, err := bucket.OpenBucket(context.Background(), srv.URL, bucket.ForReading())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	half := int64(len(data) / 2)
	writePart(t, dir, big.Path, data[:half])
	res, err := pull.Pull(context.Background(), bkt, prefix, dataset, version, dir, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key := "/" + dataset + "/" + version + "/" + big.Path
	want := fmt.Sprintf("bytes=%d-%d", half, big.Bytes)
	if got := ranges[key]; len(got) != 1 || got[0] != want {
		t.Errorf("requests for %s: ranges %q, want one with %q", key, got, want)
	}
	if res.Resumed != 1 || res.Refetched != 0 {
		t.Errorf("resumed %d refetched %d, want 1 and 0", res.Resumed, res.Refetched)
	}
	// Everything but the resumed half was transferred (the partial card is not part of a full pull).
	if res.Downloaded != total-half {
		t.Errorf("downloaded %d bytes, want %d (all %d but the %d already there)", res.Downloaded, total-half, total, half)
	}
	sha256sumCheck(t, dir)
	noParts(t, dir)
}

// A .part that is not the object's start fails verification and the file
// is fetched again from the start; a complete .part needs no transfer.
func TestPullResumeWrongOrCompletePart(t *testing.T) {
	bkt, root := published(t)
	big, data, _ := largestFile(t, root)
	dir := t.TempDir()
	writePart(t, dir, big.Path, bytes.Repeat([]byte{'x'}, len(data)/2))
	res, err := pull.Pull(context.Background(), bkt, "", dataset, version, dir, pull.Options{})
	if err != nil {
		t.Fatalf("pull over a wrong .part: %v", err)
	}
	if res.Resumed != 0 || res.Refetched != 0 {
		t.Errorf("wrong .part: resumed %d refetched %d, want 0 and 0", res.Resumed, res.Refetched)
	}
	sha256sumCheck(t, dir)
	noParts(t, dir)

	dir = t.TempDir()
	writePart(t, dir, big.Path, data)
	res, err = pull.Pull(context.Background(), bkt, "", dataset, version, dir, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed != 1 {
		t.Errorf("complete .part: resumed %d, want 1", res.Resumed)
	}
	sha256sumCheck(t, dir)
}

// cutBucket ends the transfer of one object half-way with an error, like a
// dropped connection.
type cutBucket struct {
	objstore.Bucket
	victim string
}

type cutReader struct {
	r    io.Reader
	left int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= n
	return n, err
}

func (b *cutBucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := b.Bucket.Get(ctx, name)
	if err != nil || !strings.HasSuffix(name, b.victim) {
		return rc, err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	return io.NopCloser(&cutReader{r: bytes.NewReader(data), left: len(data) / 2}), nil
}

// A transfer cut short keeps its .part, and the next pull resumes it (here
// from a file:// bucket: GetRange of objstore's filesystem).
func TestPullKeepsPartAndResumes(t *testing.T) {
	bkt, root := published(t)
	big, data, _ := largestFile(t, root)
	dir := t.TempDir()
	_, err := pull.Pull(context.Background(), &cutBucket{Bucket: bkt, victim: big.Path}, "", dataset, version, dir, pull.Options{})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut transfer: err = %v, want io.ErrUnexpectedEOF", err)
	}
	part, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(big.Path)) + ".part")
	if err != nil || !bytes.Equal(part, data[:len(data)/2]) {
		t.Fatalf(".part after the cut: %d bytes, %v; want the first %d bytes", len(part), err, len(data)/2)
	}
	// Transfers run side by side: one cut short stops the others, and
	// those that had begun keep their .part too. Every one holding bytes is
	// resumed (an empty one is fetched from the start).
	parts := 0
	for _, f := range listFiles(t, dir) {
		if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err == nil && strings.HasSuffix(f, ".part") && st.Size() > 0 {
			parts++
		}
	}
	res, err := pull.Pull(context.Background(), bkt, "", dataset, version, dir, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if parts < 1 || res.Resumed != parts {
		t.Errorf("resumed %d, want the %d non-empty .part files the cut left", res.Resumed, parts)
	}
	sha256sumCheck(t, dir)
	noParts(t, dir)
}
