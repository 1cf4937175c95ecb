package logtemplates

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
