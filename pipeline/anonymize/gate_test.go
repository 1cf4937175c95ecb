package anonymize

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type gateRow struct {
	Message string   `parquet:"message"`
	Tags    []string `parquet:"tags,list"`
	Count   int64    `parquet:"count"`
}

// writeGeneric writes rows of any row type.
func writeGeneric[T any](t *testing.T, path string, rows []T) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeParquet writes rows zstd-compressed in row groups of 2000 rows.
func writeParquet(t *testing.T, path string, rows []gateRow) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[gateRow](f, parquet.Compression(&parquet.Zstd), parquet.MaxRowsPerRowGroup(2000))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// scanDirFixture writes a version with leaks in a README, a message and a
// list column across row groups, and returns it with the leaks a full scan
// must report, in order.
func scanDirFixture(t *testing.T) (dir string, needles []string, want []Leak) {
	t.Helper()
	dir = t.TempDir()
	const secret = "db-primary.prod.acme.internal"
	// Enough varied text that zstd entropy-codes its literals: a raw byte
	// scan cannot see the planted values, only a decoding scan can.
	rows := make([]gateRow, 4000)
	for i := range rows {
		rows[i] = gateRow{
			Message: fmt.Sprintf("request %d served by shard %d in %dms", i*7919%10007, i%13, i*31%997),
			Tags:    []string{"0", fmt.Sprintf("t%d", i%17), "~"},
			Count:   int64(i),
		}
	}
	rows[7].Message = "request 7 via " + secret + " refused"              // row group 0
	rows[2077].Tags = []string{"x", "DB-PRIMARY.prod.acme.internal", "~"} // list cell, other case, group 1
	rows[2078].Tags = []string{"0", secret, "also " + secret}             // one leak per cell
	rows[3999].Count = 31337                                              // a number is not text: never rendered
	writeParquet(t, filepath.Join(dir, "logs", "date=2024-01-01", "part-0.parquet"), rows)

	raw, err := os.ReadFile(filepath.Join(dir, "logs", "date=2024-01-01", "part-0.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := newMatcher([]string{secret}).first(raw); ok {
		t.Fatal("test setup: the needle must be hidden by compression, or a raw scan would do")
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# data\nno leak here\nseen at "+secret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	needles = []string{secret, "31337", "", "never-present-value"}
	m := MaskNeedle(secret)
	want = []Leak{
		{File: "README.md", Row: 3, Needle: m},
		{File: "logs/date=2024-01-01/part-0.parquet", Column: "message", Row: 7, Needle: m},
		{File: "logs/date=2024-01-01/part-0.parquet", Column: "tags.list.element", Row: 2077, Needle: m},
		{File: "logs/date=2024-01-01/part-0.parquet", Column: "tags.list.element", Row: 2078, Needle: m},
	}
	return dir, needles, want
}

func TestScanDir(t *testing.T) {
	dir, needles, want := scanDirFixture(t)
	const secret = "db-primary.prod.acme.internal"
	got, err := ScanDir(context.Background(), dir, needles, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := MaskNeedle(secret)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if m != "db…29" {
		t.Fatalf("mask %q", m)
	}

	limited, err := ScanDir(context.Background(), dir, needles, 2)
	if err != nil || !reflect.DeepEqual(limited, want[:2]) {
		t.Fatalf("max 2: %+v, %v", limited, err)
	}
	none, err := ScanDir(context.Background(), dir, []string{"absent-needle"}, 0)
	if err != nil || len(none) != 0 {
		t.Fatalf("absent: %+v, %v", none, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ScanDir(ctx, dir, needles, 0); err == nil {
		t.Fatal("cancelled context: want error")
	}
	if _, err := ScanDir(context.Background(), filepath.Join(dir, "missing"), needles, 0); err == nil {
		t.Fatal("missing dir: want error")
	}
}

// TestScanDirSameOnAnyCores: the column chunks are scanned on every core,
// and the leaks reported (all of them, or the first max) are the same for
// any number of cores.
func TestScanDirSameOnAnyCores(t *testing.T) {
	dir, needles, want := scanDirFixture(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		for max := 0; max <= len(want)+1; max++ {
			got, err := ScanDir(context.Background(), dir, needles, max)
			if err != nil {
				t.Fatal(err)
			}
			w := want
			if max > 0 && max < len(want) {
				w = want[:max]
			}
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("%d cores, max %d: %+v\nwant %+v", procs, max, got, w)
			}
		}
	}
}

// A corrupt .parquet file is still scanned, as bytes.
func TestScanDirCorruptParquet(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.parquet"), []byte("PAR1 not really alice@example.com"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ScanDir(context.Background(), dir, []string{"ALICE@example.com"}, 10)
	if err != nil || len(got) != 1 || got[0].File != "bad.parquet" || got[0].Row != 1 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestMatcher(t *testing.T) {
	m := newMatcher([]string{"he", "she", "hers", "his", "HERSELF"})
	got := m.findAll("ushers and Herself his", nil)
	var words []string
	s := "ushers and Herself his"
	for _, x := range got {
		words = append(words, s[x.start:x.end])
	}
	if want := []string{"she", "Herself", "his"}; !reflect.DeepEqual(words, want) {
		t.Fatalf("got %q want %q", words, want)
	}
	if _, ok := newMatcher(nil).first([]byte("x")); ok {
		t.Fatal("empty matcher matched")
	}
}

// The automaton's states are sized once, exactly: one per distinct prefix
// of the folded patterns (duplicates, case variants and a pattern that is
// a prefix of another add none).
func TestMatcherSizedExactly(t *testing.T) {
	for _, tc := range []struct {
		pats   []string
		states int
	}{
		{nil, 1},
		{[]string{""}, 1},
		{[]string{"abc"}, 4},
		{[]string{"abc", "ABC", "abc"}, 4},
		{[]string{"ab", "abc", "abd", "b"}, 6},
		{[]string{"node-1.acme", "node-12.acme", "node-2.acme", "10.0.0.1"}, 1 + 11 + 6 + 6 + 8},
	} {
		m := newMatcher(tc.pats)
		if len(m.states) != tc.states || cap(m.states) != tc.states {
			t.Errorf("%q: %d states, capacity %d, want %d", tc.pats, len(m.states), cap(m.states), tc.states)
		}
	}
}

type dictRow struct {
	ID     int64    `parquet:"id"`
	Entity string   `parquet:"entity,dict"`
	Tags   []string `parquet:"tags,list,dict"`
	Note   *string  `parquet:"note,optional,dict"`
}

// Dictionary-encoded columns are checked per distinct value; a leak is
// still reported at its row, and rows of skipped (clean) pages still count.
func TestScanDirDictionary(t *testing.T) {
	dir := t.TempDir()
	rows := make([]dictRow, 6000)
	for i := range rows {
		rows[i] = dictRow{ID: int64(i), Entity: fmt.Sprintf("svc-%d", i%7), Tags: []string{"a", fmt.Sprintf("t%d", i%3)}}
		if i%2 == 0 {
			n := fmt.Sprintf("n%d", i%5)
			rows[i].Note = &n
		}
	}
	rows[4321].Entity = "db-primary.prod.acme.internal"
	rows[5001].Tags = []string{"x", "y", "z", "db-primary.prod.acme.internal"}
	leak := "db-primary.prod.acme.internal"
	rows[5998].Note = &leak
	path := filepath.Join(dir, "t.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[dictRow](f, parquet.MaxRowsPerRowGroup(2000), parquet.PageBufferSize(512))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := ScanDir(context.Background(), dir, []string{"DB-PRIMARY.prod.acme.internal", "4321"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := MaskNeedle("DB-PRIMARY.prod.acme.internal")
	want := []Leak{
		{File: "t.parquet", Column: "entity", Row: 4321, Needle: m},
		{File: "t.parquet", Column: "note", Row: 5998, Needle: m},
		{File: "t.parquet", Column: "tags.list.element", Row: 5001, Needle: m},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// newNeedleSet keeps the first spelling given of each case-folded needle,
// sorted, whatever the order and case of its input: a table, then random
// inputs against a set-based reference.
func TestNeedleSetSpellings(t *testing.T) {
	ref := func(needles []string) []string {
		var pats []string
		seen := map[string]bool{}
		for _, n := range needles {
			if f := foldString(n); n != "" && !seen[f] {
				seen[f] = true
				pats = append(pats, n)
			}
		}
		sort.Strings(pats)
		return pats
	}
	for _, c := range []struct{ in, want []string }{
		{[]string{"B", "b", "a", "A", "", "c"}, []string{"B", "a", "c"}},
		{[]string{"node-1.ACME", "Node-1.acme", "node-1.acme"}, []string{"node-1.ACME"}},
		{nil, nil},
	} {
		if got := newNeedleSet(c.in).pats; !slices.Equal(got, c.want) {
			t.Errorf("newNeedleSet(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(2, 8))
	for round := range 500 {
		in := make([]string, rng.IntN(30))
		for i := range in {
			b := make([]byte, rng.IntN(4))
			for j := range b {
				b[j] = "aAbB-1"[rng.IntN(6)]
			}
			in[i] = string(b)
		}
		if got, want := newNeedleSet(in).pats, ref(in); !slices.Equal(got, want) {
			t.Fatalf("round %d: newNeedleSet(%q) = %q, want %q", round, in, got, want)
		}
	}
}
