package logtemplates

import (
	"strings"
)

// mergeMin is the number of clusters that must differ in one position
// only, with as many distinct values there, for the merge pass to call
// the position a variable. Chosen on all corpora at once (0024): 2 joins
// pairs of constants (opened/closed), 3 one triple; 4 to 8 score the same.
var mergeMin = 4

// merged maps every cluster (by creation order) to the cluster whose
// template and id its lines take: itself, or beyond Drain, the oldest of a
// group the merge pass joined. The pass finds positions that are variables
// by their cardinality, as later parsers (Brain, LogPPT's variable
// evidence) do where Drain's per-line similarity cannot: clusters of one
// length that agree everywhere but one position, holding at least
// mergeMin distinct values there, are one template with <*> there; then a
// template so generalized takes the clusters it generalizes.
func (m *Miner) merged() []*Cluster {
	rep := make([]*Cluster, len(m.clusters))
	copy(rep, m.clusters)
	if !m.cfg.has(offMerge) || len(m.clusters) < mergeMin {
		return rep
	}
	// Union-find over creation order; a root's tokens are the group's.
	parent := make([]int, len(m.clusters))
	toks := make([][]string, len(m.clusters))
	for i, c := range m.clusters {
		parent[i] = i
		toks[i] = c.tokens
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	byLen := map[int][]int{}
	var lens []int
	for i, c := range m.clusters {
		n := len(c.tokens)
		if n < 2 {
			continue
		}
		if _, ok := byLen[n]; !ok {
			lens = append(lens, n)
		}
		byLen[n] = append(byLen[n], i)
	}
	generalized := map[int]bool{}
	var key strings.Builder
	for _, n := range lens {
		for changed := true; changed; {
			changed = false
			var roots []int
			for _, i := range byLen[n] {
				if find(i) == i {
					roots = append(roots, i)
				}
			}
			for p := 0; p < n; p++ {
				buckets := map[string][]int{}
				var order []string
				for _, r := range roots {
					if find(r) != r {
						continue
					}
					key.Reset()
					for q, t := range toks[r] {
						if q != p {
							key.WriteString(t)
						}
						key.WriteByte(0)
					}
					k := key.String()
					if _, ok := buckets[k]; !ok {
						order = append(order, k)
					}
					buckets[k] = append(buckets[k], r)
				}
				for _, k := range order {
					g := buckets[k]
					values := map[string]bool{}
					msg := false
					for _, r := range g {
						values[toks[r][p]] = true
						msg = msg || m.cfg.has(offKeys) && (isMsgToken(toks[r][p]) || keyConflict(toks[r][p], toks[g[0]][p]))
					}
					if msg {
						continue // a logfmt message or a key names its statement: never a variable
					}
					if len(g) < mergeMin || len(values) < mergeMin {
						continue
					}
					root := g[0] // oldest: roots are in creation order
					t := append([]string(nil), toks[root]...)
					t[p] = Wildcard
					toks[root] = t
					for _, r := range g[1:] {
						parent[r] = root
					}
					generalized[root] = true
					changed = true
				}
			}
		}
		// A generalized template takes the clusters it generalizes.
		var gens []int
		for _, i := range byLen[n] {
			if find(i) == i && generalized[i] {
				gens = append(gens, i)
			}
		}
		for _, i := range byLen[n] {
			r := find(i)
			if generalized[r] {
				continue
			}
			for _, g := range gens {
				if find(g) == g && g != r && covers(toks[g], toks[r]) {
					parent[r] = g
					break
				}
			}
		}
	}
	// A group's copy: its tokens, its lines, and the constants all its
	// clusters share.
	groups := map[int][]int{}
	for i := range m.clusters {
		if r := find(i); r != i || generalized[i] {
			groups[r] = append(groups[r], i)
		}
	}
	for r, g := range groups {
		c := *m.clusters[r]
		c.tokens = toks[r]
		c.Count = 0
		if c.raw != nil {
			c.raw = append([]string(nil), c.raw...)
		}
		for _, i := range g {
			o := m.clusters[i]
			if i != r {
				c.Count += o.Count
			}
			for p := range c.raw {
				if o.raw == nil || o.raw[p] != c.raw[p] || c.tokens[p] == Wildcard {
					c.raw[p] = ""
				}
			}
		}
		c.Count += m.clusters[r].Count
		for _, i := range g {
			rep[i] = &c
		}
		rep[r] = &c
	}
	return rep
}

// covers reports whether template g generalizes t: it has a constant
// token and every constant of g is t's token there.
func covers(g, t []string) bool {
	constants := 0
	for i, x := range g {
		if x == Wildcard {
			continue
		}
		if x != t[i] && !keyWild(x, t[i]) {
			return false
		}
		constants++
	}
	return constants > 0
}
