package logtemplates

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// corpus is one evaluation corpus of testdata/corpus (see its README).
type corpus struct {
	name   string
	lines  []string
	events []string // ground-truth event per line
	tpls   []string // ground-truth template per line
}

func corpusNames(t testing.TB) []string {
	dirs, err := filepath.Glob("testdata/corpus/*/truth.csv")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no corpora under testdata/corpus: %v", err)
	}
	names := make([]string, len(dirs))
	for i, d := range dirs {
		names[i] = filepath.Base(filepath.Dir(d))
	}
	return names
}

func loadCorpus(t testing.TB, name string) corpus {
	dir := filepath.Join("testdata", "corpus", name)
	raw, err := os.ReadFile(filepath.Join(dir, "content.log"))
	if err != nil {
		t.Fatal(err)
	}
	c := corpus{name: name, lines: strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")}
	f, err := os.Open(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s truth: %v", name, err)
	}
	for _, r := range recs[1:] {
		c.events = append(c.events, r[1])
		c.tpls = append(c.tpls, r[2])
	}
	if len(c.events) != len(c.lines) {
		t.Fatalf("%s: %d lines, %d truth rows", name, len(c.lines), len(c.events))
	}
	return c
}

// mineCorpus mines lines in one run (resumed from reg when given) and
// returns every line's template id and final template, as Drain does:
// the cluster a line was added to, with that cluster's last template.
func mineCorpus(t testing.TB, cfg Config, reg *Registry, lines []string) (ids, tpls []string, m *Miner) {
	m, err := NewMiner(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	cl := make([]*Cluster, len(lines))
	for i, l := range lines {
		cl[i] = m.Add(l, time.Unix(int64(i), 0))
	}
	rows, by := m.Templates(nil)
	ids, tpls = make([]string, len(lines)), make([]string, len(lines))
	for i, c := range cl {
		r := rows[by[c]]
		ids[i], tpls[i] = r.ID, r.Template
	}
	return ids, tpls, m
}

// drain3 runs scripts/drain3_baseline.py with the interpreter named by
// OPSDATA_DRAIN3_PYTHON (a venv with pip drain3), or skips.
func drain3(t testing.TB, path, masks string) (ids, tpls []string) {
	py := os.Getenv("OPSDATA_DRAIN3_PYTHON")
	if py == "" {
		t.Skip("OPSDATA_DRAIN3_PYTHON not set (a python with pip drain3, e.g. /tmp/benchvenv/bin/python)")
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(py, "../../scripts/drain3_baseline.py", "--depth", fmt.Sprint(DefaultDepth),
		"--sim", fmt.Sprint(DefaultSimilarity), "--max-children", fmt.Sprint(DefaultMaxChildren), "--masks", masks, path)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("drain3: %v: %s", err, errb.String())
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		id, tpl, _ := strings.Cut(sc.Text(), "\t")
		ids, tpls = append(ids, id), append(tpls, tpl)
	}
	return ids, tpls
}

// corpusFloor is the accuracy the default miner must keep on each corpus
// (measured when the corpus was added; a regression fails here).
var corpusFloor = map[string]struct{ ga, pa float64 }{
	"alertmanager": {0.97, 0.61},
	"apt-term":     {0.99, 0.99},
	"demo":         {0.99, 0.98},
	"dpkg":         {0.99, 0.70},
	"prometheus":   {0.99, 0.74},
}

// TestCorpusAccuracy scores the default miner on every corpus.
func TestCorpusAccuracy(t *testing.T) {
	var sumGA, sumPA float64
	names := corpusNames(t)
	for _, name := range names {
		c := loadCorpus(t, name)
		ids, tpls, m := mineCorpus(t, Config{}, nil, c.lines)
		ga, pa := GroupingAccuracy(c.events, ids), ParsingAccuracy(c.tpls, tpls)
		sumGA, sumPA = sumGA+ga, sumPA+pa
		t.Logf("%-14s %5d lines %4d clusters  GA %.3f  PA %.3f", name, len(c.lines), len(m.Clusters()), ga, pa)
		if f, ok := corpusFloor[name]; ok && (ga < f.ga || pa < f.pa) {
			t.Errorf("%s: GA %.3f PA %.3f below the floor %.3f/%.3f", name, ga, pa, f.ga, f.pa)
		}
	}
	t.Logf("mean GA %.3f PA %.3f", sumGA/float64(len(names)), sumPA/float64(len(names)))
}

// TestClassicMatchesDrain3: with Classic and no masks, the miner's clusters
// are Drain3's (TemplateMiner without masking) line for line.
func TestClassicMatchesDrain3(t *testing.T) {
	for _, name := range corpusNames(t) {
		c := loadCorpus(t, name)
		ids, tpls, _ := mineCorpus(t, Config{Classic: true, Masks: []string{}}, nil, c.lines)
		did, dtpl := drain3(t, filepath.Join("testdata", "corpus", name, "content.log"), "none")
		if len(did) != len(ids) {
			t.Fatalf("%s: drain3 gave %d lines, want %d", name, len(did), len(ids))
		}
		if ga := GroupingAccuracy(did, ids); ga != 1 {
			t.Errorf("%s: groups differ from Drain3's (GA of ours against Drain3 %.4f)", name, ga)
		}
		for i := range tpls {
			if tpls[i] != dtpl[i] {
				t.Errorf("%s line %d: template %q, Drain3 %q", name, i+1, tpls[i], dtpl[i])
				break
			}
		}
	}
}

// TestTwoRunsSameIDs: mining a corpus as two consecutive runs, the second
// resumed from the first's exported registry, gives the lines the ids of
// one run over the whole corpus.
func TestTwoRunsSameIDs(t *testing.T) {
	for _, name := range corpusNames(t) {
		c := loadCorpus(t, name)
		whole, _, _ := mineCorpus(t, Config{}, nil, c.lines)
		half := len(c.lines) / 2
		firstIDs, _, m1 := mineCorpus(t, Config{}, nil, c.lines[:half])
		reg, err := LoadRegistry(m1.Export().Rows())
		if err != nil {
			t.Fatal(err)
		}
		second, _, _ := mineCorpus(t, Config{}, reg, c.lines[half:])
		got := append(firstIDs, second...)
		same := 0
		for i := range whole {
			if got[i] == whole[i] {
				same++
			}
		}
		share := float64(same) / float64(len(whole))
		t.Logf("%-14s two runs: %.4f of lines have the one-run id", name, share)
		if share < 0.999 {
			t.Errorf("%s: only %.4f of lines keep their id across two runs", name, share)
		}
	}
}

// TestCorpusVsDrain3 scores the default miner and Drain3 with the same
// settings (depth, sim_th, max_children; Drain3 with and without its
// example masks) on every corpus, prints the BENCHMARKS.md table, and
// fails where the miner is not above Drain3.
func TestCorpusVsDrain3(t *testing.T) {
	var b strings.Builder
	fmt.Fprintf(&b, "| corpus | lines | events | GA ours | GA Drain3 | GA Drain3+masks | PA ours | PA Drain3 | PA Drain3+masks |\n|---|---|---|---|---|---|---|---|---|\n")
	var sum [6]float64
	names := corpusNames(t)
	for _, name := range names {
		c := loadCorpus(t, name)
		path := filepath.Join("testdata", "corpus", name, "content.log")
		ids, tpls, _ := mineCorpus(t, Config{}, nil, c.lines)
		pid, ptpl := drain3(t, path, "none")
		mid, mtpl := drain3(t, path, "drain3")
		v := [6]float64{
			GroupingAccuracy(c.events, ids), GroupingAccuracy(c.events, pid), GroupingAccuracy(c.events, mid),
			ParsingAccuracy(c.tpls, tpls), ParsingAccuracy(c.tpls, ptpl), ParsingAccuracy(c.tpls, mtpl),
		}
		events := map[string]bool{}
		for _, e := range c.events {
			events[e] = true
		}
		fmt.Fprintf(&b, "| %s | %d | %d | **%.3f** | %.3f | %.3f | **%.3f** | %.3f | %.3f |\n", name, len(c.lines), len(events), v[0], v[1], v[2], v[3], v[4], v[5])
		for i := range v {
			sum[i] += v[i]
		}
		if v[0] <= max(v[1], v[2]) && v[0] < 1 {
			t.Errorf("%s: GA %.3f not above Drain3's %.3f / %.3f", name, v[0], v[1], v[2])
		}
		if v[3] <= max(v[4], v[5]) && v[3] < 1 {
			t.Errorf("%s: PA %.3f not above Drain3's %.3f / %.3f", name, v[3], v[4], v[5])
		}
	}
	n := float64(len(names))
	fmt.Fprintf(&b, "| **mean** | | | **%.3f** | %.3f | %.3f | **%.3f** | %.3f | %.3f |\n", sum[0]/n, sum[1]/n, sum[2]/n, sum[3]/n, sum[4]/n, sum[5]/n)
	t.Log("\n" + b.String())
	if out := os.Getenv("OPSDATA_MINER_TABLE"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkMinerCorpora mines every corpus (content only, default
// settings) and reports lines/s: the miner without header parsing.
func BenchmarkMinerCorpora(b *testing.B) {
	var all []string
	for _, name := range corpusNames(b) {
		all = append(all, loadCorpus(b, name).lines...)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, _ := New(Config{})
		for _, l := range all {
			m.Add(l, time.Time{})
		}
		m.Templates(nil)
	}
	b.ReportMetric(float64(len(all)*b.N)/b.Elapsed().Seconds(), "lines/s")
}

// TestAblation prints GA and PA per corpus with each improvement over
// Drain turned off in turn (MINER_ABLATION=1): the measurements behind
// decision 0024.
func TestAblation(t *testing.T) {
	if os.Getenv("MINER_ABLATION") == "" {
		t.Skip("MINER_ABLATION not set")
	}
	configs := []struct {
		name string
		cfg  Config
	}{
		{"Drain3 (Classic, no masks)", Config{Classic: true, Masks: []string{}}},
		{"Classic + our masks", Config{Classic: true}},
		{"default", Config{}},
		{"default − key=value tokens", Config{off: offKeys}},
		{"default − merge pass", Config{off: offMerge}},
		{"default − constants shown", Config{off: offRestore}},
		{"default − id mask", Config{Masks: AllMasks[:len(AllMasks)-1]}},
	}
	names := corpusNames(t)
	var b strings.Builder
	fmt.Fprintf(&b, "| configuration | %s | mean |\n|---|%s---|\n", strings.Join(names, " | "), strings.Repeat("---|", len(names)))
	for _, c := range configs {
		fmt.Fprintf(&b, "| %s |", c.name)
		var sg, sp float64
		for _, name := range names {
			cp := loadCorpus(t, name)
			ids, tpls, _ := mineCorpus(t, c.cfg, nil, cp.lines)
			ga, pa := GroupingAccuracy(cp.events, ids), ParsingAccuracy(cp.tpls, tpls)
			sg, sp = sg+ga, sp+pa
			fmt.Fprintf(&b, " %.3f / %.3f |", ga, pa)
		}
		fmt.Fprintf(&b, " %.3f / %.3f |\n", sg/float64(len(names)), sp/float64(len(names)))
	}
	t.Log("GA / PA\n" + b.String())
}

// TestTokenizeAheadMinesTheSame holds Tokenize and AddTokens to Add: every
// corpus mined with its lines tokenized ahead, in batches on several
// goroutines, gives the same templates, counts and history as adding one
// line after the other.
func TestTokenizeAheadMinesTheSame(t *testing.T) {
	for _, name := range corpusNames(t) {
		t.Run(name, func(t *testing.T) {
			c := loadCorpus(t, name)
			at := time.Unix(0, 0).UTC()
			one, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range c.lines {
				one.Add(l, at)
			}
			ahead, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			const batch = 37
			toks := make([]Tokens, batch)
			for lo := 0; lo < len(c.lines); lo += batch {
				lines := c.lines[lo:min(lo+batch, len(c.lines))]
				var wg sync.WaitGroup
				for i := range lines {
					wg.Add(1)
					go func() { defer wg.Done(); ahead.Tokenize(&toks[i], lines[i]) }()
				}
				wg.Wait()
				for i := range lines {
					ahead.AddTokens(&toks[i], at)
				}
			}
			want, _ := one.Templates(nil)
			got, _ := ahead.Templates(nil)
			if len(want) < 2 {
				t.Fatalf("%d templates: the corpus proves nothing", len(want))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("tokenized ahead: %d templates, one by one: %d; first differing:\n%s", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

func firstDiff(got, want []Template) string {
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(got[i], want[i]) {
			return fmt.Sprintf("got  %+v\nwant %+v", got[i], want[i])
		}
	}
	return "one is a prefix of the other"
}
