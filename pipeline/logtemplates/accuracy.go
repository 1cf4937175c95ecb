package logtemplates

import "strings"

// GroupingAccuracy is the grouping accuracy of the public log-parsing
// benchmarks (Zhu et al., "Tools and Benchmarks for Automated Log
// Parsing", ICSE-SEIP 2019): the share of lines whose predicted group holds
// exactly the lines of their ground-truth group. truth and pred hold one
// group key per line.
func GroupingAccuracy(truth, pred []string) float64 {
	if len(truth) == 0 || len(truth) != len(pred) {
		return 0
	}
	// For every truth group: the single predicted group of its lines, or
	// "" when they were split.
	type agg struct {
		pred  string
		split bool
		n     int
	}
	groups := map[string]*agg{}
	predSize := map[string]int{}
	for i, t := range truth {
		predSize[pred[i]]++
		g := groups[t]
		if g == nil {
			groups[t] = &agg{pred: pred[i], n: 1}
			continue
		}
		g.n++
		if g.pred != pred[i] {
			g.split = true
		}
	}
	correct := 0
	for _, g := range groups {
		if !g.split && predSize[g.pred] == g.n {
			correct += g.n
		}
	}
	return float64(correct) / float64(len(truth))
}

// ParsingAccuracy is the share of lines whose predicted template equals
// the ground truth's, both compared after NormalizeTemplate.
func ParsingAccuracy(truth, pred []string) float64 {
	if len(truth) == 0 || len(truth) != len(pred) {
		return 0
	}
	ok := 0
	cache := map[string]string{}
	norm := func(s string) string {
		n, hit := cache[s]
		if !hit {
			n = NormalizeTemplate(s)
			cache[s] = n
		}
		return n
	}
	for i := range truth {
		if norm(truth[i]) == norm(pred[i]) {
			ok++
		}
	}
	return float64(ok) / float64(len(truth))
}

// NormalizeTemplate puts a template in the token-level form that parsing
// accuracy compares: a token holding a <*> is <*> (so "client=<*>",
// "<*>ms" and "(<*>)" are one variable token whatever a parser keeps around
// it), and runs of <*> tokens are one (a variable may span tokens).
func NormalizeTemplate(t string) string {
	var b strings.Builder
	wild := false
	for _, tok := range strings.Fields(t) {
		if strings.Contains(tok, Wildcard) {
			if wild {
				continue
			}
			tok, wild = Wildcard, true
		} else {
			wild = false
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tok)
	}
	return b.String()
}
