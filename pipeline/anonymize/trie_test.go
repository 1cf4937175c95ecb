package anonymize

import (
	"fmt"
	"testing"

	"github.com/opsdata/opsdata/spec"
)

// Which part of the text index (base automaton or pend trie) holds a value
// never changes Text's output: an anonymizer that learned values one by one
// (rebuilding at 1024, 2048, …) agrees with one whose index was rebuilt
// over everything, across overlapping values and case variants of one name
// under two types.
func TestTextIndexPartsAgree(t *testing.T) {
	inc := newTest(t, spec.Anonymize{})
	full := newTest(t, spec.Anonymize{})
	var vals []struct{ typ, raw string }
	for i := 0; i < 3000; i++ {
		vals = append(vals, struct{ typ, raw string }{TypeHost, fmt.Sprintf("node%04d.rack", i)})
		if i%100 == 0 {
			vals = append(vals, struct{ typ, raw string }{TypeUser, fmt.Sprintf("NODE%04d.rack", i)})
			vals = append(vals, struct{ typ, raw string }{TypeUser, fmt.Sprintf("node%04d", i)})
		}
	}
	texts := []string{"node0100.rack down", "NODE0100.RACK up", "x node2999.racknode0001.rack y", "node0005 node0500.rack"}
	for i, v := range vals {
		inc.Learn(v.typ, v.raw)
		full.Learn(v.typ, v.raw)
		if i%997 == 0 {
			for _, s := range texts {
				inc.Text(s) // read while growing
			}
		}
	}
	full.rebuildIndex()
	if full.idx.baseN != len(full.matchItems) || len(full.idx.pendEntries) != 0 {
		t.Fatalf("full rebuild: baseN %d of %d, pend %d", full.idx.baseN, len(full.matchItems), len(full.idx.pendEntries))
	}
	if inc.idx.baseN == 0 || len(inc.idx.pendEntries) == 0 {
		t.Fatalf("test setup: want values in both parts, base %d pend %d", inc.idx.baseN, len(inc.idx.pendEntries))
	}
	for i := 0; i < 3000; i += 37 {
		texts = append(texts, fmt.Sprintf("GET node%04d.rack from NODE%04d.rack", i, (i*7)%3000))
	}
	for _, s := range texts {
		if got, want := inc.Text(s), full.Text(s); got != want {
			t.Errorf("Text(%q): incremental %q, rebuilt %q", s, got, want)
		}
	}
}

func TestTrie(t *testing.T) {
	var tr trie
	for _, p := range []string{"he", "she", "hers", "his", "herself"} {
		tr.insert(p)
	}
	if id := tr.insert("she"); id != 1 {
		t.Fatalf("re-insert id %d", id)
	}
	s := "ushers and herself his"
	var got []string
	for _, m := range tr.findAll(s, nil) {
		got = append(got, s[m.start:m.end])
	}
	want := []string{"she", "he", "hers", "he", "hers", "herself", "his"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q want %q", got, want)
	}
}
