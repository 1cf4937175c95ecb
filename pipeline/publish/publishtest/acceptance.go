// Package publishtest holds the publish protocol's bucket acceptance test,
// written against objstore.Bucket only so every provider (the filesystem
// always, MinIO when available) runs the same assertions, plus helpers to
// build a small staging directory and to inject bucket faults.
package publishtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/schemas"
)

// Dataset is the dataset name the acceptance test publishes.
const Dataset = "acme-ops"

// windowRow is a cut-down windows row: the key, one feature and the labels.
type windowRow struct {
	schemas.WindowKey
	CPU *float64 `parquet:"cpu_usage,optional"`
	schemas.WindowLabels
}

// WriteStaging fills dir like the export runner does, with a tiny windows
// partition and an incidents table. Different variants give different bytes.
func WriteStaging(t testing.TB, dir string, variant int) {
	t.Helper()
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	cpu := 0.25 + float64(variant)
	sev := "critical"
	wins := []windowRow{
		{WindowKey: schemas.WindowKey{WindowStart: t0, Entity: "svc-a"}, CPU: &cpu, WindowLabels: schemas.WindowLabels{Phase: schemas.PhaseNormal, IncidentIDs: []string{}, LabelSources: []string{}}},
		{WindowKey: schemas.WindowKey{WindowStart: t0.Add(time.Minute), Entity: "svc-a"}, WindowLabels: schemas.WindowLabels{IncidentActive: true, IncidentIDs: []string{"inc-1"}, Severity: &sev, Phase: schemas.PhaseIncident, LabelSources: []string{"ticket"}}},
	}
	end := t0.Add(2 * time.Minute)
	incs := []schemas.Incident{{IncidentID: "inc-1", Entity: "svc-a", Start: t0.Add(time.Minute), End: &end, Severity: sev, Type: "outage", Source: "ticket", SourceID: "T-1", Confidence: 1, Title: "svc-a down"}}
	writeParquet(t, filepath.Join(dir, "windows", "date=2026-01-05", "part-00000.parquet"), wins)
	writeParquet(t, filepath.Join(dir, "incidents", "part-00000.parquet"), incs)
}

func writeParquet[T any](t testing.TB, p string, rows []T) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewGenericWriter[T](f)
	if _, err := w.Write(rows); err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close %s: %v", p, err)
	}
}

// Meta is the runner's metadata for a test version.
func Meta(version string) publish.Meta {
	return publish.Meta{
		Dataset: Dataset, Version: version,
		Title: "ACME ops (test)", Description: "Two windows and one incident.",
		Licence: "CC-BY-4.0", Citation: "ACME Cloud Ops Team (2026). ACME ops dataset.",
		From: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC),
		Window: time.Minute, EntityKind: "service",
		SpecDigest: strings.Repeat("ab", 32), CodeVersion: "test", KeyEpoch: "k1-0123abcd",
		SchemaVersions: schemas.Versions,
		Features:       []schemas.FeatureInfo{{Name: "cpu_usage", Expr: `sum by (service) (rate(cpu_seconds_total[5m]))`, Unit: "cores"}},
		Labels: schemas.LabelSummary{
			Labelers: []string{"ticket"}, Incidents: 1, IncidentsBySource: map[string]int64{"ticket": 1},
			Windows: 2, LabelledWindows: 1, WindowsByPhase: map[string]int64{"normal": 1, "incident": 1},
			Gaps: []string{"No alert source configured."},
		},
		BadInput:      map[string]schemas.InputProblems{"app-logs": {Count: 2, Reasons: map[string]int64{"bad json": 2}, Examples: []string{"app.log:3: bad json"}}},
		Anonymization: map[string]int64{"ip": 3, "user": 1},
	}
}

// Stage writes a staging directory for version (content picked by
// variant), runs Prepare and returns the directory and manifest.
func Stage(t testing.TB, version string, variant int) (string, *schemas.Manifest) {
	t.Helper()
	dir := t.TempDir()
	WriteStaging(t, dir, variant)
	m, err := publish.Prepare(dir, Meta(version))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return dir, m
}

// FaultyBucket wraps a bucket and fails (or corrupts) its Nth Upload,
// counting from 1; zero disables a fault.
type FaultyBucket struct {
	objstore.Bucket
	FailUpload    int64
	CorruptUpload int64
	uploads       atomic.Int64
}

// ErrInjected is the error FaultyBucket returns.
var ErrInjected = errors.New("injected upload failure")

func (b *FaultyBucket) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	n := b.uploads.Add(1)
	switch n {
	case b.FailUpload:
		// Leave a partial object behind, as a dropped connection might.
		_ = b.Bucket.Upload(ctx, name, io.LimitReader(r, 3), opts...)
		return fmt.Errorf("upload #%d %s: %w", n, name, ErrInjected)
	case b.CorruptUpload:
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if len(data) > 0 {
			data[len(data)/2] ^= 0xff
		}
		return b.Bucket.Upload(ctx, name, bytes.NewReader(data), opts...)
	}
	return b.Bucket.Upload(ctx, name, r, opts...)
}

// Uploads is how many uploads were attempted.
func (b *FaultyBucket) Uploads() int64 { return b.uploads.Load() }

// object is what Snapshot records of one object.
type object struct {
	SHA256   string
	Modified time.Time
}

// Snapshot records every object under prefix with its hash and
// modification time, to prove that a no-op publish rewrote nothing.
func Snapshot(t testing.TB, bkt objstore.Bucket, prefix string) map[string]object {
	t.Helper()
	ctx := context.Background()
	out := map[string]object{}
	err := bkt.Iter(ctx, prefix+"/", func(name string) error {
		rc, err := bkt.Get(ctx, name)
		if err != nil {
			return err
		}
		defer rc.Close()
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			return err
		}
		attrs, err := bkt.Attributes(ctx, name)
		if err != nil {
			return err
		}
		out[name] = object{SHA256: hex.EncodeToString(h.Sum(nil)), Modified: attrs.LastModified}
		return nil
	}, objstore.WithRecursiveIter())
	if err != nil {
		t.Fatalf("snapshot %s: %v", prefix, err)
	}
	return out
}

func names(s map[string]object) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Download copies every object under prefix into dst.
func Download(t testing.TB, bkt objstore.Bucket, prefix, dst string) {
	t.Helper()
	ctx := context.Background()
	err := bkt.Iter(ctx, prefix+"/", func(name string) error {
		rc, err := bkt.Get(ctx, name)
		if err != nil {
			return err
		}
		defer rc.Close()
		p := filepath.Join(dst, filepath.FromSlash(strings.TrimPrefix(name, prefix+"/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, rc); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, objstore.WithRecursiveIter())
	if err != nil {
		t.Fatalf("download %s: %v", prefix, err)
	}
}

// clear removes everything under prefix so a shared bucket starts clean.
func clear(t testing.TB, bkt objstore.Bucket, prefix string) {
	t.Helper()
	for name := range Snapshot(t, bkt, prefix) {
		if err := bkt.Delete(context.Background(), name); err != nil && !bkt.IsObjNotFoundErr(err) {
			t.Fatalf("clear %s: %v", name, err)
		}
	}
}

// AcceptanceTest runs the publish protocol against bkt. It works under the
// prefix "opsdata-acceptance/<subtest>", which it empties first, so it can
// share a bucket with other data.
func AcceptanceTest(t *testing.T, bkt objstore.Bucket) {
	ctx := context.Background()
	begin := func(t *testing.T) string {
		prefix := "opsdata-acceptance/" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()[strings.LastIndex(t.Name(), "/")+1:])
		clear(t, bkt, prefix)
		return prefix
	}
	mustPublish := func(t *testing.T, b objstore.Bucket, prefix, dir string, m *schemas.Manifest) {
		t.Helper()
		if err := publish.Publish(ctx, b, prefix, dir, m); err != nil {
			t.Fatalf("Publish %s: %v", m.Version, err)
		}
	}

	t.Run("layout", func(t *testing.T) {
		prefix := begin(t)
		dir, m := Stage(t, "2026-01-05", 0)
		mustPublish(t, bkt, prefix, dir, m)

		d := prefix + "/" + Dataset
		v := d + "/2026-01-05"
		want := []string{
			d + "/catalog.json", d + "/latest", d + "/latest.json",
			d + "/index.html", prefix + "/index.html",
			v + "/CITATION.cff", v + "/LICENSE", v + "/README.md", v + "/SHA256SUMS", v + "/croissant.json",
			v + "/incidents/part-00000.parquet", v + "/manifest.json",
			v + "/windows/date=2026-01-05/part-00000.parquet",
		}
		slices.Sort(want)
		if got := names(Snapshot(t, bkt, prefix)); !slices.Equal(got, want) {
			t.Fatalf("objects:\n got %q\nwant %q", got, want)
		}
		got, err := bucket.ReadManifest(ctx, bkt, prefix, Dataset, "2026-01-05")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("ReadManifest differs from Prepare's manifest:\n got %+v\nwant %+v", got, m)
		}
		for _, f := range m.Files {
			if f.Path == "windows/date=2026-01-05/part-00000.parquet" && (f.Rows == nil || *f.Rows != 2 || f.Table != "windows" || f.Partition != "date=2026-01-05") {
				t.Errorf("windows file entry = %+v, want 2 rows in table windows, partition date=2026-01-05", f)
			}
		}
		if latest, err := bucket.Latest(ctx, bkt, prefix, Dataset); err != nil || latest != "2026-01-05" {
			t.Errorf("Latest = %q, %v; want 2026-01-05", latest, err)
		}

		local := t.TempDir()
		Download(t, bkt, v, local)
		checkSums(t, local)
	})

	t.Run("idempotent", func(t *testing.T) {
		prefix := begin(t)
		dir, m := Stage(t, "2026-01-05", 0)
		mustPublish(t, bkt, prefix, dir, m)
		before := Snapshot(t, bkt, prefix)

		// A re-run prepares a fresh staging directory from the same inputs.
		dir2, m2 := Stage(t, "2026-01-05", 0)
		err := publish.Publish(ctx, bkt, prefix, dir2, m2)
		if !errors.Is(err, publish.ErrAlreadyPublished) {
			t.Fatalf("re-publish: err = %v, want ErrAlreadyPublished", err)
		}
		if after := Snapshot(t, bkt, prefix); !reflect.DeepEqual(before, after) {
			t.Errorf("re-publish changed the bucket:\nbefore %v\nafter  %v", before, after)
		}
	})

	t.Run("immutable", func(t *testing.T) {
		prefix := begin(t)
		dir, m := Stage(t, "2026-01-05", 0)
		mustPublish(t, bkt, prefix, dir, m)
		before := Snapshot(t, bkt, prefix)

		dir2, m2 := Stage(t, "2026-01-05", 1)
		err := publish.Publish(ctx, bkt, prefix, dir2, m2)
		if !errors.Is(err, publish.ErrVersionExists) || !strings.Contains(err.Error(), "choose a new --version") {
			t.Fatalf("publish different content: err = %v, want ErrVersionExists with advice", err)
		}
		if after := Snapshot(t, bkt, prefix); !reflect.DeepEqual(before, after) {
			t.Errorf("rejected publish changed the bucket")
		}
	})

	t.Run("catalog", func(t *testing.T) {
		prefix := begin(t)
		// Publish the newer version first: latest follows version order, so
		// a backfill of an older day does not move it.
		for _, v := range []string{"2026-01-09", "2026-01-08"} {
			dir, m := Stage(t, v, 0)
			mustPublish(t, bkt, prefix, dir, m)
		}
		cat, err := bucket.ReadCatalog(ctx, bkt, prefix, Dataset)
		if err != nil {
			t.Fatal(err)
		}
		var vs []string
		for _, e := range cat.Versions {
			vs = append(vs, e.Version)
			if e.Rows != 3 || e.Licence != "CC-BY-4.0" || e.KeyEpoch != "k1-0123abcd" || len(e.ManifestSHA256) != 64 {
				t.Errorf("entry %s = %+v; want 3 rows, CC-BY-4.0, key epoch, manifest hash", e.Version, e)
			}
		}
		if want := []string{"2026-01-08", "2026-01-09"}; !slices.Equal(vs, want) || cat.Latest != "2026-01-09" {
			t.Errorf("catalog versions %q latest %q; want %q latest 2026-01-09", vs, cat.Latest, want)
		}
		if latest, err := bucket.Latest(ctx, bkt, prefix, Dataset); err != nil || latest != "2026-01-09" {
			t.Errorf("Latest = %q, %v; want 2026-01-09", latest, err)
		}
	})

	t.Run("not-found", func(t *testing.T) {
		prefix := begin(t)
		if _, err := bucket.Latest(ctx, bkt, prefix, Dataset); !errors.Is(err, bucket.ErrNotFound) {
			t.Errorf("Latest on empty bucket: %v, want ErrNotFound", err)
		}
		if _, err := bucket.ReadCatalog(ctx, bkt, prefix, Dataset); !errors.Is(err, bucket.ErrNotFound) {
			t.Errorf("ReadCatalog on empty bucket: %v, want ErrNotFound", err)
		}
		if _, err := bucket.ReadManifest(ctx, bkt, prefix, Dataset, "nope"); !errors.Is(err, bucket.ErrNotFound) {
			t.Errorf("ReadManifest of missing version: %v, want ErrNotFound", err)
		}
	})

	// Uploads of one version: 2 data files, CITATION.cff, LICENSE, README.md, croissant.json, SHA256SUMS, manifest.json.
	const perVersion = 8
	faults := []struct {
		name            string
		fail, corrupt   int64
		cancel          bool
		wantInErr       string
		manifestWritten bool
	}{
		{name: "fail-first-data-file", fail: 1, wantInErr: "incidents/part-00000.parquet"},
		{name: "fail-second-data-file", fail: 2, wantInErr: "windows/date=2026-01-05/part-00000.parquet"},
		{name: "fail-sums", fail: perVersion - 1, wantInErr: "SHA256SUMS"},
		{name: "fail-manifest", fail: perVersion, wantInErr: "manifest.json"},
		{name: "corrupt-readme", corrupt: 4, wantInErr: "verify"},
		{name: "cancelled", cancel: true, wantInErr: "context canceled"},
		{name: "fail-catalog", fail: perVersion + 1, wantInErr: "pointers not updated", manifestWritten: true},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			prefix := begin(t)
			dir1, m1 := Stage(t, "2026-01-05", 0)
			mustPublish(t, bkt, prefix, dir1, m1)

			fb := &FaultyBucket{Bucket: bkt, FailUpload: tc.fail, CorruptUpload: tc.corrupt}
			cctx, cancel := context.WithCancel(ctx)
			if tc.cancel {
				cancel()
			}
			defer cancel()
			dir2, m2 := Stage(t, "2026-01-06", 0)
			err := publish.Publish(cctx, fb, prefix, dir2, m2)
			if err == nil || !strings.Contains(err.Error(), tc.wantInErr) {
				t.Fatalf("Publish with fault: err = %v, want mention of %q", err, tc.wantInErr)
			}

			v2 := prefix + "/" + Dataset + "/2026-01-06"
			left := Snapshot(t, bkt, v2)
			if tc.manifestWritten {
				if _, ok := left[v2+"/manifest.json"]; !ok {
					t.Fatalf("manifest missing after a pointer failure; objects: %v", names(left))
				}
				// The re-run repairs the pointers and reports success.
				if err := publish.Publish(ctx, bkt, prefix, dir2, m2); !errors.Is(err, publish.ErrAlreadyPublished) {
					t.Fatalf("re-run: %v, want ErrAlreadyPublished", err)
				}
				if latest, err := bucket.Latest(ctx, bkt, prefix, Dataset); err != nil || latest != "2026-01-06" {
					t.Errorf("after repair Latest = %q, %v; want 2026-01-06", latest, err)
				}
				return
			}
			if len(left) != 0 {
				t.Errorf("objects left under the failed version: %v", names(left))
			}
			cat, err := bucket.ReadCatalog(ctx, bkt, prefix, Dataset)
			if err != nil {
				t.Fatal(err)
			}
			if len(cat.Versions) != 1 || cat.Latest != "2026-01-05" {
				t.Errorf("catalog after failed publish = %+v; want only 2026-01-05", cat)
			}
			// The same version publishes cleanly afterwards.
			mustPublish(t, bkt, prefix, dir2, m2)
		})
	}
}

// checkSums verifies SHA256SUMS in dir with coreutils when available, and
// always in Go.
func checkSums(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--strict", "-c", "SHA256SUMS")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
		}
	} else {
		t.Log("sha256sum not on PATH; checking SHA256SUMS in Go only")
	}
	sums, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n") {
		want, p, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q: not GNU format", line)
		}
		listed[p] = true
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != want {
			t.Errorf("%s: sha256 mismatch", p)
		}
	}
	// Every file but SHA256SUMS itself is covered, manifest.json included.
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel != "SHA256SUMS" && !listed[rel] {
			t.Errorf("%s is not in SHA256SUMS", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
