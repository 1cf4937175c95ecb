package logtemplates

import (
	"testing"
	"time"
)

// A miner resumed from its registry between two halves of a corpus ends
// exactly where a miner that saw both halves ends: the same templates,
// ids, texts, counts and lineage. This is what lets a dataset that grows
// by days continue its miners from the last day's state (decision 0033).
func TestResumeEqualsContinue(t *testing.T) {
	at := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for _, name := range corpusNames(t) {
		t.Run(name, func(t *testing.T) {
			c := loadCorpus(t, name)
			half := len(c.lines) / 2
			whole, err := NewMiner(Config{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := NewMiner(Config{}, nil)
			for i, l := range c.lines {
				whole.Add(l, at.Add(time.Duration(i)*time.Second))
				if i < half {
					first.Add(l, at.Add(time.Duration(i)*time.Second))
				}
			}
			resumed, err := NewMiner(Config{}, first.Export())
			if err != nil {
				t.Fatal(err)
			}
			for i := half; i < len(c.lines); i++ {
				resumed.Add(c.lines[i], at.Add(time.Duration(i)*time.Second))
			}
			a, b := whole.Export().Rows(), resumed.Export().Rows()
			if len(a) != len(b) {
				t.Fatalf("%d templates continued, %d resumed", len(a), len(b))
			}
			for i := range a {
				x, y := a[i], b[i]
				if x.ID != y.ID || x.Template != y.Template || x.Text != y.Text || x.Count != y.Count || x.FirstTemplate != y.FirstTemplate ||
					!x.FirstSeen.Equal(y.FirstSeen) || !x.LastSeen.Equal(y.LastSeen) || len(x.PreviousTemplates) != len(y.PreviousTemplates) {
					t.Fatalf("template %d: continued %+v\nresumed %+v", i, x, y)
				}
			}
			for i := half; i < len(c.lines); i++ {
				x, y := whole.Match(c.lines[i]), resumed.Match(c.lines[i])
				if (x == nil) != (y == nil) || (x != nil && x.id != y.id) {
					t.Fatalf("line %d matches differently after a resume", i)
				}
			}
		})
	}
}
