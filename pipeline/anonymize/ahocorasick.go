package anonymize

import (
	"slices"
	"sort"
)

// matcher is an ASCII-case-insensitive Aho-Corasick automaton. One pass over
// a text finds every occurrence of every pattern, so the cost per log line
// does not grow with the number of learned values (a loop of
// strings.ReplaceAll per value would). No well-kept Go library offers
// case folding plus match positions, hence this small one.
//
// Folding is ASCII only, so byte offsets in the folded text equal offsets in
// the original; non-ASCII bytes must match exactly.
type matcher struct {
	root     [256]int32 // dense transitions out of the root: most bytes stay there
	states   []acState  // blocks of siblings, depth first; no pointers, so the GC skips it
	patterns []string   // folded patterns, index = pattern id
}

type acState struct {
	// The children of state s are states[first:first+n], sorted by b, the
	// byte on the edge into each. A state's depth is the length of its
	// output pattern.
	first int32
	fail  int32
	// out is the id of the longest pattern ending here (-1 if none); dict is
	// the nearest state on the fail chain with an output (-1 if none).
	out  int32
	dict int32
	n    uint16 // children
	b    byte
}

// children returns the range of s's children.
func (m *matcher) children(s int32) (int32, int32) {
	st := &m.states[s]
	return st.first, st.first + int32(st.n)
}

// depth is the length of the pattern ending at output state o.
func (m *matcher) depth(o int32) int { return len(m.patterns[m.states[o].out]) }

// match is one occurrence of pattern id at text[start:end].
type match struct {
	start, end int
	id         int32
}

func fold(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func foldString(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = fold(b[j])
			}
			return string(b)
		}
	}
	return s
}

// newMatcher builds the automaton. Patterns are folded; empty ones never
// match. Pattern ids are indexes into pats.
//
// It is built from the sorted patterns: the patterns sharing a prefix are
// contiguous, so each state's children are created together and stored
// contiguously (no per-state edge slices to allocate or scan). The blocks
// of children are laid out depth first: below a branch, the rest of one
// pattern (".prod.example.com" of a learned host) is consecutive states,
// so walking it reads memory in order instead of a cache miss a byte, as a
// breadth-first layout of hundreds of thousands of hosts did.
func newMatcher(pats []string) *matcher {
	m := &matcher{patterns: make([]string, len(pats))}
	type item struct {
		p  string
		id int32
	}
	items := make([]item, 0, len(pats))
	for id, p := range pats {
		p = foldString(p)
		m.patterns[id] = p
		if p != "" {
			items = append(items, item{p, int32(id)})
		}
	}
	// Duplicates sort by id: the first id wins, callers resolve ties.
	sort.Slice(items, func(i, j int) bool {
		if items[i].p != items[j].p {
			return items[i].p < items[j].p
		}
		return items[i].id < items[j].id
	})
	// A trie of sorted patterns has one state per distinct prefix: each
	// pattern adds the bytes past its common prefix with the one before.
	// Sizing the states once keeps a large inventory (the gate's millions
	// of raw values) from being copied and doubled as it grows.
	n := 1
	for i := range items {
		lcp := 0
		if i > 0 {
			prev := items[i-1].p
			for lcp < len(prev) && lcp < len(items[i].p) && prev[lcp] == items[i].p[lcp] {
				lcp++
			}
		}
		n += len(items[i].p) - lcp
	}
	m.states = make([]acState, 1, n)
	m.states[0] = acState{out: -1, dict: -1}
	// Depth first, a stack of the states still to expand with the items
	// below each (only a path's worth of states is ever on it).
	type todo struct{ s, lo, hi, d int32 }
	stack := []todo{{0, 0, int32(len(items)), 0}}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		s, i, hi, d := t.s, t.lo, t.hi, int(t.d)
		for ; i < hi && len(items[i].p) == d; i++ {
			if m.states[s].out < 0 {
				m.states[s].out = items[i].id
			}
		}
		first := int32(len(m.states))
		top := len(stack)
		for i < hi {
			b := items[i].p[d]
			j := i + 1
			for j < hi && items[j].p[d] == b {
				j++
			}
			stack = append(stack, todo{int32(len(m.states)), i, j, int32(d + 1)})
			m.states = append(m.states, acState{b: b, out: -1, dict: -1})
			i = j
		}
		m.states[s].first, m.states[s].n = first, uint16(int32(len(m.states))-first)
		// The first child next: its block follows this one.
		slices.Reverse(stack[top:])
	}
	stack = nil
	// Fail links point to strictly shallower states: link them breadth
	// first, each level before the next.
	order := make([]int32, 1, len(m.states))
	for k := 0; k < len(order); k++ {
		s := order[k]
		st := m.states[s]
		clo, chi := m.children(s)
		for c := clo; c < chi; c++ {
			order = append(order, c)
			b := m.states[c].b
			var fl int32
			if s != 0 {
				for f := st.fail; ; f = m.states[f].fail {
					if n := m.child(f, b); n >= 0 {
						fl = n
						break
					}
					if f == 0 {
						break
					}
				}
			}
			m.states[c].fail = fl
			if m.states[fl].out >= 0 {
				m.states[c].dict = fl
			} else {
				m.states[c].dict = m.states[fl].dict
			}
		}
	}
	for b := 0; b < 256; b++ {
		m.root[b] = max(m.child(0, byte(b)), 0)
	}
	return m
}

func (m *matcher) child(s int32, b byte) int32 {
	lo, hi := m.children(s)
	end := hi
	if hi-lo <= 8 {
		for c := lo; c < hi; c++ {
			if m.states[c].b == b {
				return c
			}
		}
		return -1
	}
	for lo < hi {
		mid := int32(uint32(lo+hi) >> 1)
		if m.states[mid].b < b {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < end && m.states[lo].b == b {
		return lo
	}
	return -1
}

// next is step with the root's dense table inline: most bytes of a text
// leave the automaton at the root, and this keeps them off the call.
func (m *matcher) next(s int32, b byte) int32 {
	if s == 0 {
		return m.root[b]
	}
	return m.step(s, b)
}

func (m *matcher) step(s int32, b byte) int32 {
	for s != 0 {
		if n := m.child(s, b); n >= 0 {
			return n
		}
		s = m.states[s].fail
	}
	return m.root[b]
}

// empty reports whether the matcher can never match.
func (m *matcher) empty() bool { return m == nil || len(m.states) == 1 }

// first returns the first occurrence found (by end position) or ok=false.
func (m *matcher) first(text []byte) (match, bool) {
	if m.empty() {
		return match{}, false
	}
	s := int32(0)
	for i := 0; i < len(text); i++ {
		if s = m.next(s, fold(text[i])); s == 0 {
			continue
		}
		if o := m.output(s); o >= 0 {
			return match{start: i + 1 - m.depth(o), end: i + 1, id: m.states[o].out}, true
		}
	}
	return match{}, false
}

// each calls fn for every occurrence (overlapping ones too) in order of
// end position, until fn returns false.
func (m *matcher) each(text string, fn func(match) bool) {
	if m.empty() {
		return
	}
	s := int32(0)
	for i := 0; i < len(text); i++ {
		if s = m.next(s, fold(text[i])); s == 0 {
			continue
		}
		for o := m.output(s); o >= 0; o = m.states[o].dict {
			if !fn(match{start: i + 1 - m.depth(o), end: i + 1, id: m.states[o].out}) {
				return
			}
		}
	}
}

func (m *matcher) output(s int32) int32 {
	if m.states[s].out >= 0 {
		return s
	}
	return m.states[s].dict
}

// findAll returns the leftmost-longest non-overlapping occurrences in text,
// ordered by position. Overlapping candidates are resolved like
// strings.Replacer with longest-first arguments would.
func (m *matcher) findAll(text string, dst []match) []match {
	if m.empty() {
		return dst
	}
	base := len(dst)
	s := int32(0)
	for i := 0; i < len(text); i++ {
		if s = m.next(s, fold(text[i])); s == 0 {
			continue
		}
		for o := m.output(s); o >= 0; o = m.states[o].dict {
			dst = append(dst, match{start: i + 1 - m.depth(o), end: i + 1, id: m.states[o].out})
		}
	}
	all := dst[base:]
	if len(all) <= 1 {
		return dst
	}
	kept := leftmostLongest(all, func(m *match) (int, int) { return m.start, m.end }, nil)
	return dst[:base+len(kept)]
}

// leftmostLongest sorts matches by start, the longest first, and keeps the
// non-overlapping leftmost-longest ones, in place. A match with exactly the
// span of the one kept before it is handed to same with it (nil: dropped).
func leftmostLongest[M any](all []M, span func(*M) (start, end int), same func(kept, dup *M)) []M {
	slices.SortFunc(all, func(x, y M) int {
		sx, ex := span(&x)
		sy, ey := span(&y)
		if sx != sy {
			return sx - sy
		}
		return ey - ex
	})
	kept := all[:0]
	end := -1
	for i := range all {
		// kept never runs ahead of i, so all[i] is read before it is
		// overwritten.
		cs, ce := span(&all[i])
		if cs >= end {
			kept = append(kept, all[i])
			end = ce
		} else if n := len(kept); same != nil && n > 0 {
			if ks, ke := span(&kept[n-1]); ks == cs && ke == ce {
				same(&kept[n-1], &all[i])
			}
		}
	}
	return kept
}

// maskDFA is a small matcher turned into a dense automaton that ORs the
// bits of the patterns found: one table load per byte of text. The
// detectors' pre-check runs over every log line, and its keyword set is
// small (a few hundred keywords, ~1.4k states over ~45 distinct bytes:
// ~120 KiB of uint16), so walking fail links and child lists per byte
// cost more than the table does.
type maskDFA struct {
	class [256]uint8 // byte → class; 0: a byte no pattern contains
	n     int        // number of classes
	next  []uint16   // next[s*n+class]
	bits  []uint32   // OR of the bits of every pattern ending in state s
}

// newMaskDFA builds the table from m; nil when m is too big for it.
func newMaskDFA(m *matcher, bits []uint32) *maskDFA {
	if len(m.states) > 1<<16 {
		return nil
	}
	d := &maskDFA{n: 1}
	var rep []byte
	for _, p := range m.patterns {
		for i := 0; i < len(p); i++ {
			if b := p[i]; d.class[b] == 0 {
				if d.n == 256 {
					return nil
				}
				d.class[b] = uint8(d.n)
				rep = append(rep, b)
				d.n++
			}
		}
	}
	for b := 'A'; b <= 'Z'; b++ { // patterns are folded: A-Z take a-z's class
		d.class[b] = d.class[b+'a'-'A']
	}
	d.next = make([]uint16, len(m.states)*d.n)
	d.bits = make([]uint32, len(m.states))
	for s := range m.states {
		for c, b := range rep {
			d.next[s*d.n+c+1] = uint16(m.next(int32(s), b))
		}
		for o := m.output(int32(s)); o >= 0; o = m.states[o].dict {
			d.bits[s] |= bits[m.states[o].out]
		}
	}
	return d
}

// mask ORs the bits of every pattern occurring in text.
func (d *maskDFA) mask(text string) uint32 {
	var out uint32
	s := 0
	for i := 0; i < len(text); i++ {
		s = int(d.next[s*d.n+int(d.class[text[i]])])
		out |= d.bits[s]
	}
	return out
}
