package publish_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/publish/publishtest"
	"github.com/opsdata/opsdata/schemas"
)

func TestAcceptanceFilesystem(t *testing.T) {
	bkt, prefix, err := bucket.OpenBucket(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer bkt.Close()
	if prefix != "" {
		t.Fatalf("prefix = %q, want empty", prefix)
	}
	publishtest.AcceptanceTest(t, bkt)
}

func TestOpenBucket(t *testing.T) {
	abs := t.TempDir()
	t.Chdir(t.TempDir())
	tests := []struct {
		url     string
		wantDir string // created directory, relative to the cwd or absolute
		wantErr string
	}{
		{url: "file://./out", wantDir: "out"},
		{url: "file://rel/dir", wantDir: "rel/dir"},
		{url: "file://" + abs + "/nested", wantDir: abs + "/nested"},
		{url: "s3://Bad_Bucket/prefix", wantErr: "not a valid S3 bucket name"},
		{url: "gs://bucket", wantErr: "unknown scheme"},
		{url: "./out", wantErr: "not a URL"},
		{url: "file://", wantErr: "empty directory"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			bkt, prefix, err := bucket.OpenBucket(context.Background(), tc.url)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer bkt.Close()
			if prefix != "" {
				t.Errorf("prefix = %q", prefix)
			}
			if st, err := os.Stat(tc.wantDir); err != nil || !st.IsDir() {
				t.Fatalf("directory %s not created: %v", tc.wantDir, err)
			}
			// Objects land under the directory.
			if err := bkt.Upload(context.Background(), "a/b.txt", strings.NewReader("x")); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(tc.wantDir, "a", "b.txt")); err != nil || string(b) != "x" {
				t.Errorf("object on disk = %q, %v", b, err)
			}
			// No temporary files left behind by the atomic upload.
			ents, _ := os.ReadDir(filepath.Join(tc.wantDir, "a"))
			if len(ents) != 1 {
				t.Errorf("files in a/: %v, want only b.txt", ents)
			}
		})
	}
}

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, n := range []string{schemas.ManifestFile, schemas.ReadmeFile, schemas.LicenceFile, schemas.SumsFile} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = b
	}
	return out
}

func TestPrepareDeterministic(t *testing.T) {
	dir := t.TempDir()
	publishtest.WriteStaging(t, dir, 0)
	meta := publishtest.Meta("2026-01-05")
	if _, err := publish.Prepare(dir, meta); err != nil {
		t.Fatal(err)
	}
	first := readAll(t, dir)
	// Twice on the same directory (its own outputs must be ignored) ...
	if _, err := publish.Prepare(dir, meta); err != nil {
		t.Fatal(err)
	}
	// ... and once in another directory with the same inputs.
	other := t.TempDir()
	publishtest.WriteStaging(t, other, 0)
	if _, err := publish.Prepare(other, meta); err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]map[string][]byte{"same dir": readAll(t, dir), "other dir": readAll(t, other)} {
		for f, b := range first {
			if !bytes.Equal(got[f], b) {
				t.Errorf("%s: %s differs between runs", name, f)
			}
		}
	}
	for _, leak := range []string{dir, other, "0001-01-01"} {
		if bytes.Contains(first[schemas.ManifestFile], []byte(leak)) || bytes.Contains(first[schemas.ReadmeFile], []byte(leak)) {
			t.Errorf("output mentions %q (staging path or zero time)", leak)
		}
	}
}

func TestPrepareManifestAndCard(t *testing.T) {
	dir := t.TempDir()
	publishtest.WriteStaging(t, dir, 0)
	m, err := publish.Prepare(dir, publishtest.Meta("2026-01-05"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 3 || m.Tables["windows"].Rows != 2 || m.Tables["incidents"].Rows != 1 || m.Tables["windows"].Files != 1 {
		t.Errorf("totals: rows %d tables %+v; want 3 rows, windows 2 in 1 file, incidents 1", m.Rows, m.Tables)
	}
	if m.LicenceName != "Creative Commons Attribution 4.0 International" || m.LicenceURL != "https://spdx.org/licenses/CC-BY-4.0.html" {
		t.Errorf("licence %q %q", m.LicenceName, m.LicenceURL)
	}
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, f.Path)
	}
	if want := "CITATION.cff,LICENSE,README.md,croissant.json,incidents/part-00000.parquet,windows/date=2026-01-05/part-00000.parquet"; strings.Join(paths, ",") != want {
		t.Errorf("files %v, want %s", paths, want)
	}
	readme, err := os.ReadFile(filepath.Join(dir, schemas.ReadmeFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# ACME ops (test)",
		"2026-01-05T00:00:00Z to 2026-01-06T00:00:00Z (UTC, end exclusive)",
		"| `window_start` | timestamp[ms, UTC] | no |",
		"| `cpu_usage` | double | yes |",
		"| `incident_ids` | list<string> | no |",
		"| `end` | timestamp[ms, UTC] | yes |",
		"Hive-partitioned by date, 1 partition from `date=2026-01-05` to `date=2026-01-05`",
		"incidents: 1 (ticket 1)",
		"- No alert source configured.",
		"| app-logs | 2 | bad json 2 |",
		"pd.read_parquet", "pyarrow.dataset", "read_parquet('windows/**/*.parquet', hive_partitioning = true)",
		"sha256sum -c SHA256SUMS",
		"ACME Cloud Ops Team (2026)",
		"ip 3, user 1",
	} {
		if !bytes.Contains(readme, []byte(want)) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("README.md:\n%s", readme)
	}
}

func TestLicence(t *testing.T) {
	tests := []struct {
		id, wantID, wantName string
	}{
		{"CDLA-Permissive-2.0", "CDLA-Permissive-2.0", "Community Data License Agreement – Permissive – Version 2.0"},
		{"cc-by-4.0", "CC-BY-4.0", "Creative Commons Attribution 4.0 International"},
		{"CC0-1.0", "CC0-1.0", "Creative Commons Zero v1.0 Universal"},
		{"ODbL-1.0", "ODbL-1.0", "Open Data Commons Open Database License v1.0"},
		{"CC-BY-SA-4.0", "CC-BY-SA-4.0", "Creative Commons Attribution Share Alike 4.0 International"},
		{"LicenseRef-acme-1", "LicenseRef-acme-1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			dir := t.TempDir()
			publishtest.WriteStaging(t, dir, 0)
			meta := publishtest.Meta("v1")
			meta.Licence = tc.id
			m, err := publish.Prepare(dir, meta)
			if err != nil {
				t.Fatal(err)
			}
			if m.Licence != tc.wantID || m.LicenceName != tc.wantName {
				t.Errorf("licence = %q %q, want %q %q", m.Licence, m.LicenceName, tc.wantID, tc.wantName)
			}
			lic, _ := os.ReadFile(filepath.Join(dir, schemas.LicenceFile))
			for _, want := range []string{"SPDX-License-Identifier: " + tc.wantID, "https://spdx.org/licenses/" + tc.wantID + ".html", tc.wantName} {
				if !bytes.Contains(lic, []byte(want)) {
					t.Errorf("LICENSE lacks %q:\n%s", want, lic)
				}
			}
		})
	}
}

func TestPrepareErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		meta    func(m *publish.Meta)
		wantErr string
	}{
		{name: "no tables", setup: func(t *testing.T, dir string) {}, wantErr: "no Parquet tables"},
		{name: "no licence", meta: func(m *publish.Meta) { m.Licence = "" }, wantErr: "licence is required"},
		{name: "licence not an id", meta: func(m *publish.Meta) { m.Licence = "CC BY 4.0" }, wantErr: "not an SPDX id"},
		{name: "version with slash", meta: func(m *publish.Meta) { m.Version = "a/b" }, wantErr: `version "a/b"`},
		{name: "version dotdot", meta: func(m *publish.Meta) { m.Version = ".." }, wantErr: `".." is not allowed`},
		{name: "empty range", meta: func(m *publish.Meta) { m.To = m.From }, wantErr: "export range"},
		{name: "zero window", meta: func(m *publish.Meta) { m.Window = 0 }, wantErr: "window"},
		{name: "not parquet", setup: func(t *testing.T, dir string) {
			publishtest.WriteStaging(t, dir, 0)
			os.WriteFile(filepath.Join(dir, "incidents", "bad.parquet"), []byte("nope"), 0o644)
		}, wantErr: "incidents/bad.parquet: not a readable Parquet file"},
		{name: "bad file name", setup: func(t *testing.T, dir string) {
			publishtest.WriteStaging(t, dir, 0)
			os.WriteFile(filepath.Join(dir, "notes here.txt"), []byte("x"), 0o644)
		}, wantErr: "notes here.txt"},
		{name: "symlink", setup: func(t *testing.T, dir string) {
			publishtest.WriteStaging(t, dir, 0)
			os.Symlink("/etc/passwd", filepath.Join(dir, "passwd"))
		}, wantErr: "not a regular file"},
		{name: "schema mismatch in table", setup: func(t *testing.T, dir string) {
			publishtest.WriteStaging(t, dir, 0)
			other := t.TempDir()
			publishtest.WriteStaging(t, other, 0)
			b, _ := os.ReadFile(filepath.Join(other, "incidents", "part-00000.parquet"))
			os.WriteFile(filepath.Join(dir, "windows", "date=2026-01-05", "part-00001.parquet"), b, 0o644)
		}, wantErr: "schema differs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			} else {
				publishtest.WriteStaging(t, dir, 0)
			}
			meta := publishtest.Meta("v1")
			if tc.meta != nil {
				tc.meta(&meta)
			}
			_, err := publish.Prepare(dir, meta)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestPublishRejects(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		prefix  string
		modify  func(t *testing.T, dir string, m *schemas.Manifest)
		wantErr string
	}{
		{name: "staging changed after prepare", modify: func(t *testing.T, dir string, m *schemas.Manifest) {
			publishtest.WriteStaging(t, dir, 1)
		}, wantErr: "changed after Prepare"},
		{name: "manifest differs from disk", modify: func(t *testing.T, dir string, m *schemas.Manifest) {
			m.Title = "other"
		}, wantErr: "does not match the manifest"},
		{name: "bad prefix", prefix: "a/../b", wantErr: `".." is not allowed`},
		{name: "not prepared", modify: func(t *testing.T, dir string, m *schemas.Manifest) {
			os.Remove(filepath.Join(dir, schemas.ManifestFile))
		}, wantErr: "run Prepare"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			bkt, _, err := bucket.OpenBucket(ctx, "file://"+root)
			if err != nil {
				t.Fatal(err)
			}
			dir, m := publishtest.Stage(t, "v1", 0)
			if tc.modify != nil {
				tc.modify(t, dir, m)
			}
			err = publish.Publish(ctx, bkt, tc.prefix, dir, m)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if errors.Is(err, publish.ErrAlreadyPublished) {
				t.Fatal("unexpected ErrAlreadyPublished")
			}
			if _, err := os.Stat(filepath.Join(root, publishtest.Dataset, "v1", schemas.ManifestFile)); !os.IsNotExist(err) {
				t.Errorf("manifest written despite error (stat err %v)", err)
			}
		})
	}
}

func TestPublishUnderPrefix(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	bkt, _, err := bucket.OpenBucket(ctx, "file://"+root)
	if err != nil {
		t.Fatal(err)
	}
	dir, m := publishtest.Stage(t, "v2", 0)
	if err := publish.Publish(ctx, bkt, "team/ops", dir, m); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "team", "ops", publishtest.Dataset, "latest"))
	if err != nil || string(b) != "v2\n" {
		t.Fatalf("latest = %q, %v; want \"v2\\n\"", b, err)
	}
}
