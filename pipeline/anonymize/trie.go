package anonymize

// trie is an ASCII-case-folded trie of patterns that grows in place: an
// insert costs O(len(pattern)) (times a short sibling walk), where adding
// to the Aho-Corasick matcher would mean rebuilding it. findAll walks it
// from every start position; the dense root table makes the common case (no
// pattern starts with this byte) one load. Nodes hold no pointers, so a
// trie of millions of nodes costs the GC nothing to scan.
type trie struct {
	root [256]int32 // child of the root per byte, 0 = none
	// starts marks the bytes of text, in either case, that begin some
	// pattern: the scans skip to the next one in a loop of one load a
	// byte (a few patterns' first bytes are rare in text, and the loop
	// over every byte was most of a scan).
	starts [256]bool
	// pairs has a bit for every two bytes some pattern starts with. Most
	// bytes of text that start a pattern (the 'u' of "user", the 'n' of
	// "node-") are not followed by its second byte: one bit test instead
	// of a walk down a sibling list of scattered nodes.
	pairs [256 * 256 / 64]uint64
	nodes []trieNode // nodes[0] is the root
	n     int32      // number of patterns
}

// pairBit is the index in trie.pairs of the bytes b0, b1 (folded).
func pairBit(b0, b1 byte) (word int, bit uint64) {
	i := int(b0)<<8 | int(b1)
	return i >> 6, 1 << (i & 63)
}

// mayFollow says whether some pattern starts with b0 b1 (folded).
func (t *trie) mayFollow(b0, b1 byte) bool {
	w, bit := pairBit(b0, b1)
	return t.pairs[w]&bit != 0
}

type trieNode struct {
	child, next int32 // first child; next sibling (siblings sorted by b); 0 = none
	out         int32 // pattern id ending here, or -1
	b           byte
}

func (t *trie) child(s int32, b byte) int32 {
	if s == 0 {
		return t.root[b]
	}
	for c := t.nodes[s].child; c != 0; c = t.nodes[c].next {
		if cb := t.nodes[c].b; cb >= b {
			if cb == b {
				return c
			}
			return 0
		}
	}
	return 0
}

// insert adds a folded pattern and returns its id (the existing id if it is
// already there). Empty patterns are not allowed.
func (t *trie) insert(p string) int32 {
	if len(t.nodes) == 0 {
		t.nodes = append(t.nodes, trieNode{out: -1})
	}
	if len(p) >= 2 {
		w, bit := pairBit(p[0], p[1])
		t.pairs[w] |= bit
	}
	if len(p) > 0 {
		t.starts[p[0]] = true
		if 'a' <= p[0] && p[0] <= 'z' {
			t.starts[p[0]-'a'+'A'] = true
		}
	}
	s := int32(0)
	for i := 0; i < len(p); i++ {
		b := p[i]
		next := t.child(s, b)
		if next == 0 {
			next = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{out: -1, b: b})
			if s == 0 {
				t.root[b] = next
			} else {
				// Link into the sorted sibling list.
				prev, c := int32(0), t.nodes[s].child
				for c != 0 && t.nodes[c].b < b {
					prev, c = c, t.nodes[c].next
				}
				t.nodes[next].next = c
				if prev == 0 {
					t.nodes[s].child = next
				} else {
					t.nodes[prev].next = next
				}
			}
		}
		s = next
	}
	if t.nodes[s].out < 0 {
		t.nodes[s].out = t.n
		t.n++
	}
	return t.nodes[s].out
}

// skip returns the index of the first byte at or after i that begins a
// pattern, or len(text).
func (t *trie) skip(text string, i int) int {
	for i < len(text) && !t.starts[text[i]] {
		i++
	}
	return i
}

// findAll appends every occurrence (overlapping ones too) to dst as pend
// matches.
func (t *trie) findAll(text string, dst []idxMatch) []idxMatch {
	if t.n == 0 {
		return dst
	}
	for i := t.skip(text, 0); i < len(text); i = t.skip(text, i+1) {
		b0 := fold(text[i])
		s := t.root[b0]
		if s == 0 {
			continue
		}
		if o := t.nodes[s].out; o >= 0 {
			dst = append(dst, idxMatch{start: i, end: i + 1, base: -1, pend: o})
		}
		if i+1 == len(text) || !t.mayFollow(b0, fold(text[i+1])) {
			continue
		}
		s = t.child(s, fold(text[i+1]))
		for j := i + 2; s != 0; j++ {
			if o := t.nodes[s].out; o >= 0 {
				dst = append(dst, idxMatch{start: i, end: j, base: -1, pend: o})
			}
			if j == len(text) {
				break
			}
			s = t.child(s, fold(text[j]))
		}
	}
	return dst
}

// containsAny says whether any pattern occurs in text.
func (t *trie) containsAny(text string) bool {
	if t.n == 0 {
		return false
	}
	for i := t.skip(text, 0); i < len(text); i = t.skip(text, i+1) {
		b0 := fold(text[i])
		s := t.root[b0]
		if s == 0 {
			continue
		}
		if t.nodes[s].out >= 0 {
			return true
		}
		if i+1 == len(text) || !t.mayFollow(b0, fold(text[i+1])) {
			continue
		}
		s = t.child(s, fold(text[i+1]))
		for j := i + 2; s != 0; j++ {
			if t.nodes[s].out >= 0 {
				return true
			}
			if j == len(text) {
				break
			}
			s = t.child(s, fold(text[j]))
		}
	}
	return false
}
