package anonymize

import (
	"context"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/spec"
)

func TestCoveredScan(t *testing.T) {
	a := newTest(t, spec.Anonymize{})
	a.Text("client=10.9.8.7 from [2001:db8::5]:443 mail alice@acme.example")
	cases := []struct {
		in   string
		leak bool
	}{
		{"GET / client=10.9.8.7", true},
		{"10.9.8.7:8080 answered", true},
		{"v1.10.9.8.7.2 build", true},   // glued into a longer dotted run
		{"2001:DB8:0::5 is back", true}, // another spelling of the same address
		{"mail ALICE@acme.example", true},
		{"10.9.8.70 is another host", false},
		{"10.9.8.6", false},
		{"2001:db8::6", false},
		{"bob@acme.example", false},
		{"version 1.2.3 took 12:30:45", false},
		{"", false},
	}
	for _, c := range cases {
		masked, got := a.CoveredScan([]byte(c.in))
		if got != c.leak {
			t.Errorf("CoveredScan(%q) = %v (%s), want %v", c.in, got, masked, c.leak)
		}
	}
}

func TestScanDirWithCoveredScan(t *testing.T) {
	a := newTest(t, spec.Anonymize{})
	a.Text("client=10.9.8.7")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("fine\nleaked 10.9.8.7:443 here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	leaks, err := ScanDirWith(context.Background(), dir, a.Inventory(), 0, a.CoveredScan)
	if err != nil {
		t.Fatal(err)
	}
	if len(leaks) != 1 || leaks[0].File != "notes.txt" || leaks[0].Row != 2 || strings.Contains(leaks[0].Needle, "10.9.8.7") {
		t.Fatalf("want one masked leak on line 2 of notes.txt, got %+v", leaks)
	}
}

// TestCoveredKeyIsFNV: the keys are those hash/fnv gives for the tagged
// canonical text (checkpoints keep them: the function must not drift).
func TestCoveredKeyIsFNV(t *testing.T) {
	ref := func(s string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(s))
		return h.Sum64()
	}
	cases := map[string]string{
		"10.1.2.3": "ip\x0010.1.2.3", "[2001:DB8:0::1]": "ip\x002001:db8::1", "10.1.2.3:8080": "ip\x0010.1.2.3",
		"fe80::1%eth0": "ip\x00fe80::1", "[2001:db8::7]:443": "ip\x002001:db8::7", "Bob@Example.org": "email\x00bob@example.org",
	}
	for raw, text := range cases {
		if k, ok := coveredKey(raw); !ok || k != ref(text) {
			t.Errorf("coveredKey(%q) = %x, %v; want fnv(%q) = %x", raw, k, ok, text, ref(text))
		}
	}
}

// TestCoveredSet: keys added in any order, with repeats, before and
// across folds, are found once folded, and nothing else is.
func TestCoveredSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name      string
		adds, mod int // keys added, drawn from [0, mod)
	}{
		{"empty", 0, 1},
		{"few repeats", 100, 10},
		{"one fold", foldMin + 10, 1 << 40},
		{"folds with repeats", 3*foldMin + 7, foldMin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c coveredSet
			want := map[uint64]bool{}
			for range tc.adds {
				k := rng.Uint64N(uint64(tc.mod))
				c.add(k)
				want[k] = true
			}
			if c.empty() != (tc.adds == 0) {
				t.Fatalf("empty() = %v after %d adds", c.empty(), tc.adds)
			}
			c.fold()
			if c.dirty.Load() || len(c.sorted) != len(want) {
				t.Fatalf("%d keys folded, want %d", len(c.sorted), len(want))
			}
			if !slices.IsSorted(c.sorted) {
				t.Fatal("folded keys out of order")
			}
			for k := range want {
				if !c.has(k) {
					t.Fatalf("key %d added, not found", k)
				}
			}
			for range 1000 {
				if k := rng.Uint64(); !want[k] && c.has(k) {
					t.Fatalf("key %d never added, found", k)
				}
			}
		})
	}
}
