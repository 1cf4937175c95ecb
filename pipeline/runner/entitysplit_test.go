package runner_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/schemas"
)

// A split that holds entities out: every window of a held-out entity is in
// its group's split, the other entities follow the time split, the
// manifest names the held-out entities, and the Hugging Face configs do not
// pretend a day file is one split.
func TestSplitHoldsEntitiesOut(t *testing.T) {
	dir := shortDemo(t)
	sp, b := demoSpec(t, dir, func(s string) string {
		return strings.Replace(s, "split: {validation: 2026-01-06T00:00:00Z, test: 2026-01-07T00:00:00Z}",
			"split: {validation: 2026-01-05T00:00:00Z, test: 2026-01-07T00:00:00Z, entity_groups: {test: 0.4}}", 1)
	})
	out := t.TempDir()
	res, err := export(t, sp, b, out)
	if err != nil {
		t.Fatal(err)
	}
	g := res.Manifest.Split.EntityGroups
	if g == nil || g.Test != 0.4 || g.Method != schemas.EntityGroupMethod {
		t.Fatalf("manifest split: %+v", res.Manifest.Split)
	}
	held := map[string]bool{}
	for _, e := range g.HeldOut[schemas.SplitTest] {
		held[e] = true
	}
	if len(held) == 0 || len(held) == 6 {
		t.Fatalf("held out as test: %v (want some of the 6 services, not all)", g.HeldOut)
	}
	type row struct {
		Entity string  `parquet:"entity"`
		Split  *string `parquet:"split"`
	}
	v := filepath.Join(out, "demo-cluster", res.Version)
	rows := readTable[row](t, v, "windows")
	seen := map[string]bool{}
	for _, r := range rows {
		want := schemas.SplitValidation // the whole range is after the validation boundary
		if held[r.Entity] {
			want = schemas.SplitTest
		}
		if r.Split == nil || *r.Split != want {
			t.Fatalf("entity %s: split %v, want %s", r.Entity, r.Split, want)
		}
		if got := schemas.EntityGroupOf(g, r.Entity); (got == schemas.SplitTest) != held[r.Entity] {
			t.Fatalf("entity %s: the documented draw gives %s, the manifest says held out %v", r.Entity, got, held[r.Entity])
		}
		seen[r.Entity] = true
	}
	if len(seen) != 6 {
		t.Fatalf("%d entities in windows", len(seen))
	}
	card, err := os.ReadFile(filepath.Join(v, schemas.ReadmeFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(card), "- split: full\n") || strings.Contains(string(card), "- split: validation\n") {
		t.Error("the card's windows config must put every file in split full when entities are held out")
	}
	if !strings.Contains(string(card), "Whole entities are held out") {
		t.Error("the card does not describe the held-out entities")
	}
}
