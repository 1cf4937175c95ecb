package anonymize

import (
	"context"
	"os"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// ScanDir is the leakage gate of a staged version, with everything this
// run's anonymizer knows: its inventory (Inventory: learned values that are
// not weak, non-covered redactions, canaries), the addresses and e-mails
// its detectors redacted (CoveredScan), and two rules that keep the gate
// from refusing a correctly anonymized version:
//
//   - an occurrence inside a pseudonym this anonymizer issued is not a leak
//     (raw "host-07" inside its pseudonym "host-07ab…" of another value);
//   - in a metadata file (any non-Parquet file: README.md, croissant.json,
//     manifest.json) a needle that is a word of the version's own schema
//     (a column name or one of its '_' parts) is not a leak: it is how the
//     tool names its columns, not something it learned from data.
//
// Parquet data is checked against every needle; metadata files are also
// searched for secrets by shape (secretShape), so a malformed value quoted
// in a problem example is caught even though nothing learned it.
func (a *Anonymizer) ScanDir(ctx context.Context, dir string, max int) ([]Leak, error) {
	return scanDir(ctx, dir, a.needles(), max, a.CoveredScan, &gateHooks{skip: a.gateSkip, metaCheck: a.secretShape})
}

// gatePrep is a needle set built ahead of the gate (PrepareGate).
type gatePrep struct {
	key  [4]int        // the inventory's sources when it began
	done chan struct{} // closed once ns is set (or the inventory moved on)
	ns   needleSet
	ok   bool // ns is the inventory of key
}

// PrepareGate builds the leakage gate's needles and their automaton from
// the inventory as it is now, on a goroutine of its own, so the build (a
// second or so on a day of 350k hosts) overlaps what the run still writes.
// The export calls it once its logs are anonymized. ScanDir takes it if
// nothing was learned since, and builds its own otherwise.
func (a *Anonymizer) PrepareGate() {
	a.mu.RLock()
	g := &gatePrep{key: a.inventoryKeyLocked(), done: make(chan struct{})}
	a.mu.RUnlock()
	a.prepMu.Lock()
	a.prep = g
	a.prepMu.Unlock()
	go func() {
		defer close(g.done)
		inv, key := a.inventory()
		if key == g.key {
			g.ns, g.ok = newNeedleSet(inv), true
		}
	}()
}

// PrepareInventory lists the inventory on a goroutine of its own, ahead of
// PrepareGate: on a day of 350k hosts the list is a few MB, the gate's
// automaton 144 MiB (BenchmarkNeedleSet), so the list can be made while
// the run still writes, and PrepareGate, the report and the gate take it
// from the memo if nothing was learned since (and list it again otherwise).
func (a *Anonymizer) PrepareInventory() {
	go a.inventory()
}

// needles is the gate's needle set for the inventory as it is: the one
// PrepareGate built if nothing was learned since.
func (a *Anonymizer) needles() needleSet {
	a.mu.RLock()
	key := a.inventoryKeyLocked()
	a.mu.RUnlock()
	a.prepMu.Lock()
	g := a.prep
	a.prep = nil // taken once: not kept alive past the gate
	a.prepMu.Unlock()
	if g != nil && g.key == key {
		<-g.done
		if g.ok {
			a.prepUsed.Add(1)
			return g.ns
		}
	}
	inv, _ := a.inventory()
	return newNeedleSet(inv)
}

// secretShape finds a secret by its shape in metadata text, whether or not
// the run ever saw it: problem examples and other generated text are
// checked like data. Only the unmistakable shapes count (gitleaks' rules
// and the token detectors); "key_epoch": "<hex>" in a manifest is not a
// secret, so the key=value and entropy detectors are not used here.
func (a *Anonymizer) secretShape(b []byte) (string, bool) {
	s := string(b)
	for _, td := range tokenDetectors {
		if m := td.re.FindString(s); m != "" {
			return MaskNeedle(m), true
		}
	}
	if m := curlUserRe.FindStringSubmatch(s); m != nil {
		return MaskNeedle(m[1]), true
	}
	if a.gitleaks != nil {
		if fs := a.gitleaks.find(s); len(fs) > 0 {
			return MaskNeedle(s[fs[0].start:fs[0].end]), true
		}
	}
	return "", false
}

func (a *Anonymizer) gateSkip(pats []string, files []string) (func(b []byte, start, end int, id int32, meta bool) bool, error) {
	words := map[string]bool{}
	for _, p := range files {
		if strings.HasSuffix(p, ".parquet") {
			schemaWords(p, words)
		}
	}
	metaOK := make([]bool, len(pats))
	for i, p := range pats {
		metaOK[i] = words[strings.ToLower(p)]
	}
	return func(b []byte, start, end int, id int32, meta bool) bool {
		if meta && metaOK[id] {
			return true
		}
		return a.insidePseudonym(b, start, end)
	}, nil
}

// schemaWords adds the column names of a Parquet file, and their parts, to
// words. An unreadable file adds nothing (the scan reads it as bytes).
func schemaWords(path string, words map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return
	}
	for _, c := range pf.Schema().Columns() {
		for _, name := range c {
			addWords(words, name)
		}
	}
}

// insidePseudonym says whether b[start:end] lies within a pseudonym this
// anonymizer issued (protectedSpans' TYPE-<12 hex> tokens).
func (a *Anonymizer) insidePseudonym(b []byte, start, end int) bool {
	// A pseudonym is at most a type name and 13 bytes long: look at a
	// window around the occurrence only.
	lo, hi := max(start-64, 0), min(end+13, len(b))
	for _, sp := range a.protectedSpans(string(b[lo:hi])) {
		if lo+sp.start <= start && end <= lo+sp.end {
			return true
		}
	}
	return false
}
