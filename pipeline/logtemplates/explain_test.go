package logtemplates

import (
	"os"
	"sort"
	"testing"
)

// TestExplainCorpus lists, for the corpus named by MINER_EXPLAIN, every
// (ground-truth event, predicted template) pair with its line count: the
// tool for finding what a change splits or joins.
func TestExplainCorpus(t *testing.T) {
	name := os.Getenv("MINER_EXPLAIN")
	if name == "" {
		t.Skip()
	}
	c := loadCorpus(t, name)
	ids, tpls, _ := mineCorpus(t, Config{}, nil, c.lines)
	type k struct{ ev, id string }
	n := map[k]int{}
	tp := map[string]string{}
	for i := range ids {
		n[k{c.events[i], ids[i]}]++
		tp[ids[i]] = tpls[i]
	}
	keys := make([]k, 0, len(n))
	for x := range n {
		keys = append(keys, x)
	}
	sort.Slice(keys, func(a, b int) bool {
		return keys[a].ev < keys[b].ev || keys[a].ev == keys[b].ev && keys[a].id < keys[b].id
	})
	for _, x := range keys {
		t.Logf("%-50.50s %5d %s", x.ev, n[x], tp[x.id])
	}
}

// TestExplainPA lists the (truth, predicted) template pairs that differ
// after normalization, for the corpus named by MINER_EXPLAIN.
func TestExplainPA(t *testing.T) {
	name := os.Getenv("MINER_EXPLAIN")
	if name == "" {
		t.Skip()
	}
	c := loadCorpus(t, name)
	_, tpls, _ := mineCorpus(t, Config{}, nil, c.lines)
	n := map[[2]string]int{}
	for i := range tpls {
		a, b := NormalizeTemplate(c.tpls[i]), NormalizeTemplate(tpls[i])
		if a != b {
			n[[2]string{a, b}]++
		}
	}
	for k, v := range n {
		t.Logf("%5d truth %q\n      ours  %q", v, k[0], k[1])
	}
}
