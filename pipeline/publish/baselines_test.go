package publish_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/publish/publishtest"
	"github.com/opsdata/opsdata/schemas"
)

// stagedWindowsDigest computes the windows digest of a staging directory
// independently of schemas.WindowsDigest: the SHA256SUMS lines of its
// windows files, sorted by path.
func stagedWindowsDigest(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(filepath.Join(dir, "windows"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+filepath.ToSlash(rel)+"\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(strings.Join(lines, ""))) // WalkDir visits in lexical order
	return "sha256:" + hex.EncodeToString(h[:])
}

func writeResults(t *testing.T, digest string) string {
	t.Helper()
	delay := 1.5
	r := schemas.BaselineResults{
		Format: schemas.BaselinesFormat, Dataset: publishtest.Dataset, ComputedOn: "2026-01-05",
		WindowsDigest: digest, Split: "test", Generator: "notebooks/baselines.py (scripts/baselines.sh)",
		Baselines: []schemas.Baseline{{
			Name: "robust_zscore", Description: "max |z| over features", Threshold: 52.945304668440926,
			ThresholdChosenOn: "validation", Command: "opsdata score --split test --threshold 52.945304668440926 VERSION robust_zscore.csv",
			Report: schemas.ScoreReport{
				Split: "test", Threshold: 52.945304668440926, Windows: 100, Events: 3, EventRecall: 2.0 / 3,
				Point:             schemas.PRF{TP: 77, FP: 9, FN: 180, Precision: 77.0 / 86, Recall: 77.0 / 257, F1: 0.4489795918367347},
				PointAdjusted:     schemas.PRF{F1: 0.46685878962536015},
				MeanDelayMinutes:  &delay,
				FalseAlarmsPerDay: 9,
			},
		}},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "demo-baselines.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBaselinesInTheCard(t *testing.T) {
	dir := t.TempDir()
	publishtest.WriteStaging(t, dir, 0)
	digest := stagedWindowsDigest(t, dir)
	meta := publishtest.Meta("2026-01-05")
	meta.BaselinesFile = writeResults(t, digest)
	m, err := publish.Prepare(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	if got := schemas.WindowsDigest(m.Files); got != digest {
		t.Fatalf("schemas.WindowsDigest = %s, want %s", got, digest)
	}
	if m.Baselines == nil || m.Baselines.Stale != "" || len(m.Baselines.Baselines) != 1 || m.Baselines.File != "demo-baselines.json" {
		t.Fatalf("manifest baselines = %+v", m.Baselines)
	}
	card, err := os.ReadFile(filepath.Join(dir, schemas.ReadmeFile))
	if err != nil {
		t.Fatal(err)
	}
	row := "| `robust_zscore` | 52.95 | 0.895 | 0.300 | 0.449 | 0.467 | 0.667 (2 of 3) | 1.5 | 0.000 (0 of 3) | - | 9.0 |"
	if got := publish.BaselineRow(m.Baselines.Baselines[0]); got != row {
		t.Errorf("BaselineRow =\n%s\nwant\n%s", got, row)
	}
	for _, want := range []string{"## Tasks\n", "per-window detection", "incident-level detection with delay", "early warning within the horizon",
		"**Point-adjusted F1 inflates scores.**", "## Baselines\n", row + "\n", digest, "--split test"} {
		if !bytes.Contains(card, []byte(want)) {
			t.Errorf("card lacks %q", want)
		}
	}
	// The tasks come before the baselines, both before Data quality.
	ti, bi, qi := bytes.Index(card, []byte("## Tasks")), bytes.Index(card, []byte("## Baselines")), bytes.Index(card, []byte("## Data quality"))
	if !(ti < bi && bi < qi) {
		t.Errorf("section order: Tasks %d, Baselines %d, Data quality %d", ti, bi, qi)
	}
	// Same inputs, same card bytes.
	if _, err := publish.Prepare(dir, meta); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, schemas.ReadmeFile))
	if !bytes.Equal(card, again) {
		t.Error("card differs between two Prepare runs with the same baselines file")
	}
}

func TestBaselinesStale(t *testing.T) {
	dir := t.TempDir()
	publishtest.WriteStaging(t, dir, 1) // other windows than variant 0
	meta := publishtest.Meta("2026-01-05")
	other := t.TempDir()
	publishtest.WriteStaging(t, other, 0)
	meta.BaselinesFile = writeResults(t, stagedWindowsDigest(t, other))
	m, err := publish.Prepare(dir, meta)
	if err != nil {
		t.Fatal(err)
	}
	if m.Baselines == nil || !strings.Contains(m.Baselines.Stale, "was computed on windows sha256:") || len(m.Baselines.Baselines) != 0 {
		t.Fatalf("manifest baselines = %+v, want stale with no results", m.Baselines)
	}
	card, _ := os.ReadFile(filepath.Join(dir, schemas.ReadmeFile))
	if !bytes.Contains(card, []byte("Baseline results are not shown: demo-baselines.json was computed on windows")) ||
		!bytes.Contains(card, []byte("scripts/baselines.sh")) {
		t.Errorf("stale card does not say why and what to do:\n%s", card)
	}
	if bytes.Contains(card, []byte("`robust_zscore`")) {
		t.Error("stale results are shown in the card")
	}
}

func TestBaselinesFileErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"format": 1, "windows_digest": "sha256:x", "baselines": [{"name": "z"}], "extra": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "old.json")
	if err := os.WriteFile(old, []byte(`{"format": 0, "windows_digest": "sha256:x", "baselines": [{"name": "z"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{bad, `unknown field "extra"`},
		{old, "format 0, want 1"},
	} {
		dir := t.TempDir()
		publishtest.WriteStaging(t, dir, 0)
		meta := publishtest.Meta("2026-01-05")
		meta.BaselinesFile = tc.path
		_, err := publish.Prepare(dir, meta)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "baselines") {
			t.Errorf("%s: err = %v, want one naming baselines and %q", filepath.Base(tc.path), err, tc.want)
		}
	}
}

func TestNoBaselinesNoSection(t *testing.T) {
	dir, m := publishtest.Stage(t, "2026-01-05", 0)
	card, _ := os.ReadFile(filepath.Join(dir, schemas.ReadmeFile))
	if m.Baselines != nil || bytes.Contains(card, []byte("## Baselines")) || !bytes.Contains(card, []byte("## Tasks")) {
		t.Errorf("without a baselines file: manifest %+v; card has Baselines %v, Tasks %v", m.Baselines,
			bytes.Contains(card, []byte("## Baselines")), bytes.Contains(card, []byte("## Tasks")))
	}
	mb, _ := os.ReadFile(filepath.Join(dir, schemas.ManifestFile))
	if bytes.Contains(mb, []byte(`"baselines"`)) {
		t.Error("manifest has a baselines key without a baselines file")
	}
}

func TestBaselinesFileMissing(t *testing.T) {
	dir := t.TempDir()
	publishtest.WriteStaging(t, dir, 0)
	meta := publishtest.Meta("2026-01-05")
	meta.BaselinesFile = "./datasets/no-such-baselines.json"
	m, err := publish.Prepare(dir, meta)
	if err != nil {
		t.Fatalf("a missing baselines file failed the export: %v", err)
	}
	card, _ := os.ReadFile(filepath.Join(dir, schemas.ReadmeFile))
	if m.Baselines == nil || !strings.Contains(m.Baselines.Stale, "./datasets/no-such-baselines.json was not found") ||
		!bytes.Contains(card, []byte("Baseline results are not shown: the spec's baselines file ./datasets/no-such-baselines.json was not found")) {
		t.Errorf("manifest %+v; card does not say the file is missing", m.Baselines)
	}
}
