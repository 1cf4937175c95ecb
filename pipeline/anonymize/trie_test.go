package anonymize

import (
	"fmt"
	"maps"
	"math/rand/v2"
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
	inc.builds.Wait()
	full.builds.Wait()
	full.rebuildIndex(len(full.matchItems))
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

// occ is an occurrence of a pattern in a text.
type occ struct{ start, end int }

// randomWords draws words over a small alphabet (many shared prefixes,
// overlaps and fail links) or, when wide, over every byte but 0 (states
// with hundreds of children).
type randomWords struct{ rng *rand.Rand }

func (r randomWords) alphabet(wide bool) string {
	if !wide {
		return "abAB-."
	}
	all := make([]byte, 255)
	for c := range all {
		all[c] = byte(c + 1)
	}
	return string(all)
}

func (r randomWords) word(alpha string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[r.rng.IntN(len(alpha))]
	}
	return string(b)
}

// naiveOccurrences searches text for every non-empty pattern at every
// position, ASCII case-insensitively.
func naiveOccurrences(pats []string, text string) map[occ]bool {
	want := map[occ]bool{}
	for _, p := range pats {
		if p == "" {
			continue
		}
		fp := foldString(p)
		for i := 0; i+len(fp) <= len(text); i++ {
			if foldString(text[i:i+len(fp)]) == fp {
				want[occ{i, i + len(fp)}] = true
			}
		}
	}
	return want
}

// TestMatcherEqualsNaive: the automaton finds exactly the occurrences a
// search at every position finds, over patterns of a small alphabet and
// wide branches.
func TestMatcherEqualsNaive(t *testing.T) {
	r := randomWords{rand.New(rand.NewPCG(5, 8))}
	for round := range 200 {
		alpha := r.alphabet(round%4 == 3)
		pats := make([]string, 1+r.rng.IntN(60))
		for i := range pats {
			pats[i] = r.word(alpha, r.rng.IntN(7))
		}
		m := newMatcher(pats)
		for range 20 {
			text := r.word(alpha, r.rng.IntN(40))
			want := naiveOccurrences(pats, text)
			got := map[occ]bool{}
			m.each(text, func(mt match) bool {
				if foldString(text[mt.start:mt.end]) != m.patterns[mt.id] {
					t.Fatalf("round %d: match %d..%d of %q is not pattern %q", round, mt.start, mt.end, text, m.patterns[mt.id])
				}
				got[occ{mt.start, mt.end}] = true
				return true
			})
			if !maps.Equal(got, want) {
				t.Fatalf("round %d: %q in %q: got %v, want %v", round, pats, text, got, want)
			}
		}
	}
}

// TestTrieEqualsNaive: findAll finds exactly the occurrences a search at
// every position finds and containsAny agrees with it, over patterns of a
// small alphabet (shared prefixes, one-byte patterns, pairs the filter must
// pass) and of every byte.
func TestTrieEqualsNaive(t *testing.T) {
	r := randomWords{rand.New(rand.NewPCG(9, 2))}
	for round := range 300 {
		alpha := r.alphabet(round%3 == 2)
		var tr trie
		var pats []string
		for range 1 + r.rng.IntN(40) {
			p := foldString(r.word(alpha, 1+r.rng.IntN(6)))
			tr.insert(p)
			pats = append(pats, p)
		}
		for range 20 {
			text := r.word(alpha, r.rng.IntN(40))
			want := naiveOccurrences(pats, text)
			got := map[occ]bool{}
			for _, m := range tr.findAll(text, nil) {
				got[occ{m.start, m.end}] = true
			}
			if !maps.Equal(got, want) {
				t.Fatalf("round %d: findAll(%q) over %q: got %v want %v", round, text, pats, got, want)
			}
			if tr.containsAny(text) != (len(want) > 0) {
				t.Fatalf("round %d: containsAny(%q) over %q = %v", round, text, pats, !(len(want) > 0))
			}
		}
	}
}

// BenchmarkTrieFindAll scans log messages of the realistic day's shapes
// with the pend trie a day leaves: a few thousand host short names and
// user names learned since the last rebuild of the automaton.
func BenchmarkTrieFindAll(b *testing.B) {
	var tr trie
	for i := range 2000 {
		tr.insert(fmt.Sprintf("node-%d", 100000+i*37))
		if i%2 == 0 {
			tr.insert(fmt.Sprintf("u%d", i))
		}
	}
	texts := []string{
		"GET /v1/items/48213 200 37ms client=10.12.201.7",
		"connection pool to db-2.prod.acme.internal:5432 active=12 idle=3",
		"user=u1302 logged in from 2001:db8::1f4a",
		"processed batch 771203 items=412 in 233ms",
		"retrying call to node-101369.prod.acme.internal attempt=2",
		"Unable to connect to upstream: Connection refused (no route to host)",
	}
	var size int64
	for _, s := range texts {
		size += int64(len(s))
	}
	b.SetBytes(size)
	var dst []idxMatch
	for range b.N {
		for _, s := range texts {
			dst = tr.findAll(s, dst[:0])
		}
	}
}
