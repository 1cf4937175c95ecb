package anonymize

import (
	"regexp"
	"slices"
	"unicode/utf8"
)

// hostFinder finds names under the policy's host domains. The regexp
// (buildDetectors) is the definition; running it over a whole log line is
// slow (RE2's backtracker tries every start position), so the finder looks
// only at the stretches of the line a match can lie in: runs of bytes that
// can occur in a match (letters, digits, '-', '.', the domains' own bytes,
// and any non-ASCII byte, since (?i) folds 'K' (Kelvin) into k) that
// contain "."+domain or a non-ASCII byte. No match can cross a byte outside
// a run, and the regexp has no anchors, so the matches are those of the
// whole line. An ASCII run is matched by hand (asciiRun); a run with other
// bytes goes to the regexp. TestHostFinderEqualsRegexp and FuzzHostFinder
// hold the two to the same answers.
type hostFinder struct {
	re       *regexp.Regexp
	suffixes []string  // "."+domain, folded
	domains  []string  // folded, longest first (the regexp's alternation prefers them)
	inRun    [256]bool // bytes a match can contain
}

func newHostFinder(re *regexp.Regexp, domains []string) *hostFinder {
	h := &hostFinder{re: re}
	for c := 0; c < 256; c++ {
		b := byte(c)
		h.inRun[c] = b >= utf8.RuneSelf || isWordByte(b) || b == '-' || b == '.'
	}
	h.domains = slices.Clone(domains)
	slices.SortStableFunc(h.domains, func(x, y string) int { return len(y) - len(x) })
	for _, d := range domains {
		h.suffixes = append(h.suffixes, "."+d)
		for i := 0; i < len(d); i++ {
			h.inRun[d[i]] = true
			h.inRun[fold(d[i])] = true
			if 'a' <= d[i] && d[i] <= 'z' {
				h.inRun[d[i]-'a'+'A'] = true
			}
		}
	}
	return h
}

// findAll returns the regexp's matches in s, as FindAllStringIndex would.
func (h *hostFinder) findAll(s string) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !h.inRun[s[i]] {
			i++
			continue
		}
		j, wide := i, false
		for j < len(s) && h.inRun[s[j]] {
			wide = wide || s[j] >= utf8.RuneSelf
			j++
		}
		if run := s[i:j]; wide {
			for _, m := range h.re.FindAllStringIndex(run, -1) {
				out = append(out, [2]int{i + m[0], i + m[1]})
			}
		} else if h.hasSuffix(run) {
			out = h.asciiRun(run, i, out)
		}
		i = j
	}
	return out
}

// hasSuffix says whether run contains one of the folded suffixes, ASCII
// case-insensitively.
func (h *hostFinder) hasSuffix(run string) bool {
	for _, suf := range h.suffixes {
		for k := 0; k+len(suf) <= len(run); k++ {
			if run[k] != '.' {
				continue
			}
			if equalFoldASCII(run[k:k+len(suf)], suf) {
				return true
			}
		}
	}
	return false
}

// equalFoldASCII compares s with the folded t, folding A-Z in s only.
func equalFoldASCII(s, t string) bool {
	for i := 0; i < len(t); i++ {
		if fold(s[i]) != t[i] {
			return false
		}
	}
	return true
}

func isLabelByte(c byte) bool { return isAlnum(c) || c == '-' }

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// asciiRun appends the regexp's matches in the ASCII run r (at offset off
// in the line). The regexp is (?:label\.)+(?:domain|...), a label being
// [a-z0-9](?:[a-z0-9-]*[a-z0-9])? under (?i). A label contains no '.', so
// from a start p the labels are fixed: each runs to the next '.'. The
// backtracker's first success from p takes the most labels after which a
// domain follows, and of the domains the longest (the reverse-sorted
// alternation puts a longer domain before its own prefix). The leftmost p
// with a match wins, the search goes on from its end.
func (h *hostFinder) asciiRun(r string, off int, out [][2]int) [][2]int {
	n := len(r)
	// end[p]: the end of the run of label bytes from p (p itself when r[p]
	// is not one); best[p]: the end of the match whose labels start at p,
	// or -1.
	var buf [256]int32
	tab := buf[:0]
	if 2*n+3 > len(buf) {
		tab = make([]int32, 0, 2*n+3)
	}
	tab = tab[:2*n+3]
	end, best := tab[:n+1], tab[n+1:]
	end[n], best[n], best[n+1] = int32(n), -1, -1
	for p := n - 1; p >= 0; p-- {
		if isLabelByte(r[p]) {
			end[p] = end[p+1]
		} else {
			end[p] = int32(p)
		}
	}
	label := func(p int) (next int, ok bool) {
		k := int(end[p])
		if k == p || k >= n || r[k] != '.' || !isAlnum(r[p]) || !isAlnum(r[k-1]) {
			return 0, false
		}
		return k + 1, true
	}
	for p := n - 1; p >= 0; p-- {
		best[p] = -1
		if q, ok := label(p); ok {
			if best[q] >= 0 {
				best[p] = best[q]
			} else if e := h.domainAt(r, q); e >= 0 {
				best[p] = int32(e)
			}
		}
	}
	for p := 0; p < n; {
		if e := best[p]; e >= 0 {
			out = append(out, [2]int{off + p, off + int(e)})
			p = int(e)
			continue
		}
		p++
	}
	return out
}

// domainAt returns the end of the longest domain at r[q:], or -1.
func (h *hostFinder) domainAt(r string, q int) int {
	for _, d := range h.domains {
		if q+len(d) <= len(r) && equalFoldASCII(r[q:q+len(d)], d) {
			return q + len(d)
		}
	}
	return -1
}
