package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Time slices spread a feature's CPU over the shards but not its memory: a
// slice is still a query over every series its selectors match. A feature
// whose every output series depends only on the input series of one entity
// (sum by (service) (...), and the like) is split by entity too: shard b
// evaluates it over the entities of bucket b only, by adding a matcher on
// the entity label to every selector, and the commit merges the disjoint
// outputs. The same input series in the same order give the same values,
// so the bytes stay one process's (decision 0041).

// entityShardable says whether expr can be split by the values of label:
// every aggregation groups by it, every vector-vector operation matches on
// it, and no function makes series from nothing or rewrites labels. It
// answers false whenever it cannot tell.
func entityShardable(expr, label string) bool {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil || e.Type() != parser.ValueTypeVector {
		return false
	}
	ok, selectors := true, 0
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch v := n.(type) {
		case *parser.VectorSelector:
			selectors++
		case *parser.AggregateExpr:
			ok = ok && !v.Without && slices.Contains(v.Grouping, label)
		case *parser.Call:
			switch v.Func.Name {
			case "absent", "absent_over_time", "scalar", "vector", "label_replace", "label_join", "info":
				ok = false
			}
		case *parser.BinaryExpr:
			if v.LHS.Type() == parser.ValueTypeVector && v.RHS.Type() == parser.ValueTypeVector {
				m := v.VectorMatching
				switch {
				case m == nil:
					ok = false
				case m.On:
					ok = ok && slices.Contains(m.MatchingLabels, label)
				default:
					ok = ok && !slices.Contains(m.MatchingLabels, label)
				}
			}
		}
		return nil
	})
	return ok && selectors > 0
}

// withMatcher is expr with m added to every selector.
func withMatcher(expr string, m *labels.Matcher) (string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return "", err
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if v, ok := n.(*parser.VectorSelector); ok {
			v.LabelMatchers = append(v.LabelMatchers, m)
		}
		return nil
	})
	return e.String(), nil
}

// entityPartition buckets the entity values a range's metrics carry: shard
// b < n-1 takes the values of bucket b, shard n-1 every other series
// (its bucket's values, series without the label, and any value the
// listing did not see), so every series falls to exactly one shard.
type entityPartition struct {
	label   string
	buckets [][]string // sorted values by bucket
}

func newEntityPartition(label string, values []string, n int) entityPartition {
	p := entityPartition{label: label, buckets: make([][]string, n)}
	for _, v := range values {
		h := fnv.New64a()
		h.Write([]byte(v))
		b := int(h.Sum64() % uint64(n))
		p.buckets[b] = append(p.buckets[b], v)
	}
	for _, b := range p.buckets {
		slices.Sort(b)
	}
	return p
}

// matcher selects bucket b's series; none is false when no series can be
// in it (an empty bucket other than the last).
func (p entityPartition) matcher(b int) (m *labels.Matcher, none bool) {
	alternation := func(vs []string) string {
		quoted := make([]string, len(vs))
		for i, v := range vs {
			quoted[i] = regexp.QuoteMeta(v)
		}
		return strings.Join(quoted, "|")
	}
	last := len(p.buckets) - 1
	if b < last {
		if len(p.buckets[b]) == 0 {
			return nil, true
		}
		return labels.MustNewMatcher(labels.MatchRegexp, p.label, alternation(p.buckets[b])), false
	}
	var others []string
	for _, vs := range p.buckets[:last] {
		others = append(others, vs...)
	}
	if len(others) == 0 {
		return nil, false // every series
	}
	slices.Sort(others)
	return labels.MustNewMatcher(labels.MatchNotRegexp, p.label, alternation(others)), false
}

// narrow is expr over bucket b's series only; none when it has none.
func (p entityPartition) narrow(expr string, b int) (string, bool, error) {
	m, none := p.matcher(b)
	if none || m == nil {
		return expr, none, nil
	}
	expr, err := withMatcher(expr, m)
	return expr, false, err
}

// digest names the partition, so shards that listed different values are
// caught before their pieces are merged.
func (p entityPartition) digest() string {
	h := sha256.New()
	for b, vs := range p.buckets {
		for _, v := range vs {
			h.Write([]byte{byte(b >> 8), byte(b)})
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
