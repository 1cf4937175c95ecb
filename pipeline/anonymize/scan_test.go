package anonymize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/spec"
)

// Raw node names host-00 … host-99 and their pseudonyms (host-<12 hex>):
// many pseudonyms begin with some raw host-NN. The gate must tell the
// pseudonym token from a raw value, and still find a raw one.
func TestGatePseudonymCollision(t *testing.T) {
	a := newTest(t, spec.Anonymize{})
	var ps []string
	collide := 0
	for i := 0; i < 100; i++ {
		p := a.learn(nil, TypeHost, fmt.Sprintf("host-%02d", i))
		ps = append(ps, p)
		if pfx := p[:7]; pfx[5] <= '9' && pfx[6] <= '9' {
			collide++
		}
	}
	// Users too: a raw 8-hex user name can occur inside a digest.
	for i := 0; i < 1000; i++ {
		ps = append(ps, a.learn(nil, TypeUser, fmt.Sprintf("u%07x", i)))
	}
	if collide < 10 {
		t.Fatalf("test setup: only %d pseudonyms start with a raw host-NN", collide)
	}
	for _, tc := range []struct {
		name  string
		plant string
		leaks int
	}{
		{"only pseudonyms", "", 0},
		{"a raw value beside them", "restarted host-42 at noon", 1},
		{"raw glued to a pseudonym", ps[0] + "host-17", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rows := make([]gateRow, len(ps))
			for i, p := range ps {
				rows[i] = gateRow{Message: "node " + p + " ready", Tags: []string{p}}
			}
			if tc.plant != "" {
				rows[3].Message = tc.plant
			}
			writeParquet(t, filepath.Join(dir, "logs.parquet"), rows)
			readme := "hosts: " + strings.Join(ps, ", ") + "\n"
			if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(readme), 0o644); err != nil {
				t.Fatal(err)
			}
			leaks, err := a.ScanDir(context.Background(), dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(leaks) != tc.leaks {
				t.Fatalf("%d leaks, want %d: %v", len(leaks), tc.leaks, leaks)
			}
			// The plain scan (no pseudonym awareness) refuses: the case is real.
			plain, _ := ScanDir(context.Background(), dir, a.Inventory(), 0)
			if len(plain) <= tc.leaks {
				t.Fatalf("plain scan found only %d leaks: the collision is not exercised", len(plain))
			}
		})
	}
}

// An attacker's log line teaches a common or vocabulary word as a user
// name. The line is still anonymized where the word was found, but the
// word blocks nothing: not other lines, not the README, not the data. And
// no line can make a distinctive identifier weak.
func TestLearningCannotBlockPublishing(t *testing.T) {
	a := newTest(t, spec.Anonymize{})
	attack := []string{
		"login failed for user metrics",
		"session closed user=window",
		"password reset by user: entity",
		"login failed for user pre_incident",
		"login failed for user latency_p99",
	}
	a.AddVocabulary("latency_p99")
	for _, l := range attack {
		out := a.Text(l)
		if out == l || !strings.Contains(out, "user-") {
			t.Errorf("Text(%q) = %q: the name where it was found must be pseudonymized", l, out)
		}
	}
	// Other lines keep the words.
	if got := a.Text("metrics window scraped for entity checkout"); got != "metrics window scraped for entity checkout" {
		t.Errorf("a weak value rewrote another line: %q", got)
	}
	// Distinctive names from the same kind of line are strong.
	a.Text("login failed for user carol.smith")
	a.Text("session closed user=db1.corp.example.com")
	inv := a.Inventory()
	for _, w := range []string{"metrics", "window", "entity", "pre_incident", "latency_p99"} {
		if contains(inv, w) {
			t.Errorf("weak value %q in the gate inventory", w)
		}
	}
	for _, w := range []string{"carol.smith", "db1.corp.example.com"} {
		if !contains(inv, w) {
			t.Errorf("distinctive value %q missing from the inventory", w)
		}
	}
	if got := a.Text("carol.smith logged in"); strings.Contains(got, "carol.smith") {
		t.Errorf("strong value not matched in other text: %q", got)
	}
	if d := a.ReportDoc(); d.Weak[TypeUser] != 5 {
		t.Errorf("report weak_identifiers = %v, want user: 5", d.Weak)
	}

	dir := t.TempDir()
	readme := "# windows\nThe metrics window of each entity, phase pre_incident, column latency_p99.\n"
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(readme), 0o644); err != nil {
		t.Fatal(err)
	}
	writeParquet(t, filepath.Join(dir, "logs.parquet"), []gateRow{{Message: a.Text("session closed user=window for entity x")}, {Message: "metrics scraped"}})
	leaks, err := a.ScanDir(context.Background(), dir, 0)
	if err != nil || len(leaks) != 0 {
		t.Fatalf("common words blocked publishing: %v, %v", leaks, err)
	}
	// The other direction: a distinctive learned name in metadata or data is caught.
	if err := os.WriteFile(filepath.Join(dir, "croissant.json"), []byte(`{"note": "owner carol.smith"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	leaks, err = a.ScanDir(context.Background(), dir, 0)
	if err != nil || len(leaks) != 1 || leaks[0].File != "croissant.json" {
		t.Fatalf("distinctive name in metadata: %v, %v", leaks, err)
	}
}

// A column name of the version's own tables in a metadata file is not a
// leak even if a log line taught it; in the data it still is.
func TestGateSchemaWordsInMetadata(t *testing.T) {
	a := newTest(t, spec.Anonymize{})
	a.Text("login failed for user tags_custom") // not a built-in word
	dir := t.TempDir()
	type row struct {
		TagsCustom string `parquet:"tags_custom"`
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("column tags_custom\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeParquet(t, filepath.Join(dir, "x.parquet"), []gateRow{{Message: "ok"}})
	leaks, _ := a.ScanDir(context.Background(), dir, 0)
	if len(leaks) != 1 {
		t.Fatalf("no such column yet: want the README refused, got %v", leaks)
	}
	writeGeneric(t, filepath.Join(dir, "y.parquet"), []row{{"x"}})
	leaks, _ = a.ScanDir(context.Background(), dir, 0)
	if len(leaks) != 0 {
		t.Fatalf("column word in README: %v", leaks)
	}
	writeGeneric(t, filepath.Join(dir, "z.parquet"), []row{{"tags_custom"}})
	leaks, _ = a.ScanDir(context.Background(), dir, 0)
	if len(leaks) != 1 || leaks[0].File != "z.parquet" {
		t.Fatalf("learned value in data: %v", leaks)
	}
}

// Metadata is scanned for secrets by shape, learned or not: a problem
// example quoting a malformed timestamp that was an AWS key is refused; a
// manifest's digests and key epoch are not secrets.
func TestGateSecretShapesInMetadata(t *testing.T) {
	a := newTest(t, spec.Anonymize{})
	for _, tc := range []struct {
		name, text string
		leaks      int
	}{
		{"manifest digests", `{"key_epoch": "3f2a9c0e1b7d4a65", "files": [{"path": "windows/date=2026-01-05/part-0.parquet", "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}`, 0},
		{"sha256sums", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  logs/date=2026-01-05/part-0.parquet\n", 0},
		{"aws key in an example", `{"bad_input": {"logs": {"examples": ["app.log:7: bad_timestamp: not RFC 3339: \"AKIAZ4X7Q2LMNB5RTY3W\""]}}}`, 1},
		{"github token in README", "token ghp_0123456789abcdefghijABCDEFGHIJ012345 here\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			leaks, err := a.ScanDir(context.Background(), dir, 0)
			if err != nil || len(leaks) != tc.leaks {
				t.Fatalf("leaks %v, %v; want %d", leaks, err, tc.leaks)
			}
		})
	}
}

// TestPrepareGate: a gate prepared ahead finds what an unprepared one
// finds; a value learned after the preparation is still found (the gate
// builds its own needles then), and nothing learned since means the
// prepared needles are the ones searched.
func TestPrepareGate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		learnLate bool // learn the leaked value after PrepareGate
		reused    bool // the prepared needles serve the gate
		inventory bool // PrepareInventory first
	}{
		{"nothing learned since", false, true, false},
		{"learned since", true, false, false},
		{"inventory ahead, nothing learned since", false, true, true},
		{"inventory ahead, learned since", true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTest(t, spec.Anonymize{HostDomains: []string{"acme.internal"}})
			a.Text("retrying call to db-7.acme.internal")
			if !tc.learnLate {
				a.Text("login failed for user=mallory42")
			}
			if tc.inventory {
				a.PrepareInventory()
			}
			a.PrepareGate()
			if tc.learnLate {
				a.Text("login failed for user=mallory42")
			}
			dir := t.TempDir()
			writeParquet(t, filepath.Join(dir, "x.parquet"), []gateRow{{Message: "ok"}, {Message: "mallory42 again"}, {Message: "db-7.acme.internal down"}})
			ref := newTest(t, spec.Anonymize{HostDomains: []string{"acme.internal"}})
			ref.Text("retrying call to db-7.acme.internal")
			ref.Text("login failed for user=mallory42")
			want, err := ref.ScanDir(context.Background(), dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != 2 {
				t.Fatalf("test setup: the unprepared gate finds %v, want 2 leaks", want)
			}
			got, err := a.ScanDir(context.Background(), dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("prepared gate found %v, want %v", got, want)
			}
			if used := a.prepUsed.Load() == 1; used != tc.reused {
				t.Errorf("prepared needles used: %v, want %v", used, tc.reused)
			}
			if a.prep != nil {
				t.Error("the prepared needles are kept past the gate")
			}
			// Listed once, ahead or by the gate, when nothing was learned
			// since (with a late value, the list ahead may run before or
			// after it: only the count without one is fixed).
			if n := a.invBuilds.Load(); !tc.learnLate && n != 1 {
				t.Errorf("inventory listed %d times, want once", n)
			}
		})
	}
}
