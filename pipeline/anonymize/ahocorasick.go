package anonymize

import "sort"

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
	states   []acState
	patterns []string // folded patterns, index = pattern id
}

type acState struct {
	edges []acEdge // sorted by byte
	fail  int32
	// out is the id of the longest pattern ending here (-1 if none); dict is
	// the nearest state on the fail chain with an output (-1 if none).
	out  int32
	dict int32
	// depth is the length of the path from the root.
	depth int32
}

type acEdge struct {
	b    byte
	next int32
}

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
func newMatcher(pats []string) *matcher {
	m := &matcher{states: []acState{{fail: 0, out: -1, dict: -1}}, patterns: make([]string, len(pats))}
	for id, p := range pats {
		p = foldString(p)
		m.patterns[id] = p
		if p == "" {
			continue
		}
		s := int32(0)
		for i := 0; i < len(p); i++ {
			next := m.child(s, p[i])
			if next < 0 {
				next = int32(len(m.states))
				m.states = append(m.states, acState{out: -1, dict: -1, depth: m.states[s].depth + 1})
				m.addEdge(s, p[i], next)
			}
			s = next
		}
		// Keep the first id for duplicate patterns: callers resolve ties.
		if m.states[s].out < 0 {
			m.states[s].out = int32(id)
		}
	}
	// Breadth-first: fail links point to strictly shallower states.
	queue := make([]int32, 0, len(m.states))
	for _, e := range m.states[0].edges {
		m.states[e.next].fail = 0
		queue = append(queue, e.next)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, e := range m.states[s].edges {
			f := m.states[s].fail
			for {
				if n := m.child(f, e.b); n >= 0 && n != e.next {
					m.states[e.next].fail = n
					break
				}
				if f == 0 {
					m.states[e.next].fail = 0
					break
				}
				f = m.states[f].fail
			}
			fs := m.states[e.next].fail
			if m.states[fs].out >= 0 {
				m.states[e.next].dict = fs
			} else {
				m.states[e.next].dict = m.states[fs].dict
			}
			queue = append(queue, e.next)
		}
	}
	for b := 0; b < 256; b++ {
		m.root[b] = max(m.child(0, byte(b)), 0)
	}
	return m
}

func (m *matcher) child(s int32, b byte) int32 {
	edges := m.states[s].edges
	if len(edges) <= 8 {
		for _, e := range edges {
			if e.b == b {
				return e.next
			}
		}
		return -1
	}
	i := sort.Search(len(edges), func(i int) bool { return edges[i].b >= b })
	if i < len(edges) && edges[i].b == b {
		return edges[i].next
	}
	return -1
}

func (m *matcher) addEdge(s int32, b byte, next int32) {
	edges := m.states[s].edges
	i := sort.Search(len(edges), func(i int) bool { return edges[i].b >= b })
	edges = append(edges, acEdge{})
	copy(edges[i+1:], edges[i:])
	edges[i] = acEdge{b: b, next: next}
	m.states[s].edges = edges
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
		s = m.step(s, fold(text[i]))
		if o := m.output(s); o >= 0 {
			st := &m.states[o]
			return match{start: i + 1 - int(st.depth), end: i + 1, id: st.out}, true
		}
	}
	return match{}, false
}

// each calls fn for every occurrence (overlapping ones too) in order of
// end position, until fn returns false.
func (m *matcher) each(text []byte, fn func(match) bool) {
	if m.empty() {
		return
	}
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = m.step(s, fold(text[i]))
		for o := m.output(s); o >= 0; o = m.states[o].dict {
			st := &m.states[o]
			if !fn(match{start: i + 1 - int(st.depth), end: i + 1, id: st.out}) {
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
		s = m.step(s, fold(text[i]))
		for o := m.output(s); o >= 0; o = m.states[o].dict {
			st := &m.states[o]
			dst = append(dst, match{start: i + 1 - int(st.depth), end: i + 1, id: st.out})
		}
	}
	all := dst[base:]
	if len(all) <= 1 {
		return dst
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].start != all[j].start {
			return all[i].start < all[j].start
		}
		return all[i].end > all[j].end
	})
	kept := all[:0]
	end := -1
	for _, c := range all {
		if c.start >= end {
			kept = append(kept, c)
			end = c.end
		}
	}
	return dst[:base+len(kept)]
}
