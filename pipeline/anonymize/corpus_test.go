package anonymize

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/spec"
)

// corpusSample is one text of the corpus with its planted spans.
type corpusSample struct {
	text    string
	planted []planted
}

type planted struct {
	kind, value string
	start, end  int
}

var plantRe = regexp.MustCompile(`\[\[([a-z-]+):((?s:.*?))\]\]`)

func readCorpus(t *testing.T, name string) []corpusSample {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "corpus", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusSample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "# ") {
			continue
		}
		line = strings.ReplaceAll(line, `\n`, "\n")
		var s corpusSample
		var b strings.Builder
		last := 0
		for _, m := range plantRe.FindAllStringSubmatchIndex(line, -1) {
			b.WriteString(line[last:m[0]])
			v := line[m[4]:m[5]]
			start := b.Len()
			b.WriteString(v)
			s.planted = append(s.planted, planted{kind: line[m[2]:m[3]], value: v, start: start, end: b.Len()})
			last = m[1]
		}
		b.WriteString(line[last:])
		s.text = b.String()
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// corpusPolicy is the demo's text policy.
var corpusPolicy = spec.Anonymize{HostDomains: []string{"acme.internal"}}

// TestCorpus measures the free-text detectors on a corpus of planted
// identifiers and secrets and on ordinary log lines. Recall: a planted
// value is found if it no longer occurs in the output. Precision is per
// whitespace token: a changed token (absent from the output's tokens) is a
// true positive if it overlaps a planted span, else a false positive.
func TestCorpus(t *testing.T) {
	a := newTest(t, corpusPolicy)
	pos := readCorpus(t, "planted.txt")
	neg := readCorpus(t, "negatives.txt")
	type kindStat struct{ n, found int }
	kinds := map[string]*kindStat{}
	var tp, fp, fn int
	for _, set := range [][]corpusSample{pos, neg} {
		for _, s := range set {
			out := a.Text(s.text)
			low := strings.ToLower(out)
			for _, p := range s.planted {
				k := kinds[p.kind]
				if k == nil {
					k = &kindStat{}
					kinds[p.kind] = k
				}
				k.n++
				if strings.Contains(low, strings.ToLower(p.value)) {
					t.Errorf("planted %s %q survived:\n  in:  %q\n  out: %q", p.kind, p.value, s.text, out)
					continue
				}
				k.found++
			}
			outTok := map[string]int{}
			for _, w := range strings.Fields(out) {
				outTok[w]++
			}
			off := 0
			for _, w := range strings.Fields(s.text) {
				i := strings.Index(s.text[off:], w) + off
				off = i + len(w)
				sensitive := false
				for _, p := range s.planted {
					sensitive = sensitive || i < p.end && p.start < off
				}
				changed := outTok[w] == 0
				if !changed {
					outTok[w]--
				}
				switch {
				case changed && sensitive:
					tp++
				case changed:
					fp++
					t.Logf("false positive: token %q of %q -> %q", w, s.text, out)
				case sensitive:
					fn++
				}
			}
		}
	}
	total, found := 0, 0
	for kind, k := range kinds {
		total += k.n
		found += k.found
		t.Logf("recall %-16s %d/%d", kind, k.found, k.n)
		if strings.HasPrefix(kind, "secret") && k.found != k.n {
			t.Errorf("recall on %s = %d/%d, want 1.0: secrets must always be redacted", kind, k.found, k.n)
		}
	}
	recall := float64(found) / float64(total)
	precision := float64(tp) / float64(tp+fp)
	t.Logf("corpus: %d planted samples, %d negative lines; span recall %.3f (%d/%d); token precision %.3f (tp %d, fp %d); sensitive tokens kept %d",
		len(pos), len(neg), recall, found, total, precision, tp, fp, fn)
	if recall != 1 {
		t.Errorf("recall = %.3f, want 1.0", recall)
	}
	if precision < 0.95 {
		t.Errorf("precision = %.3f, want >= 0.95", precision)
	}
}
