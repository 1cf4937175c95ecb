package anonymize

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
)

// Saving and restoring what an Anonymizer has learned, so a nightly export
// can resume tomorrow exactly where tonight's run ended.
//
// The state is a fixed header ("opsdata/anonymize/state v<N>\n") and a gob
// payload (stateV1) without maps: every set and map is written as a sorted
// slice, so the same state gives the same bytes. The learned values are
// raw identifiers: callers Seal the bytes before they store them. No error
// of this file quotes a value of the state.

// StateVersion is the format version MarshalState writes and RestoreState reads.
const StateVersion = 1

// stateMagic begins every state, followed by the decimal version and '\n'.
const stateMagic = "opsdata/anonymize/state v"

// Errors of RestoreState (and MarshalState, for ErrStateBusy).
var (
	// ErrStateFormat: the bytes are not a state MarshalState wrote, or are damaged.
	ErrStateFormat = errors.New("anonymizer state: not a state written by MarshalState, or damaged")
	// ErrStateVersion: the state has another format version than StateVersion.
	ErrStateVersion = errors.New("anonymizer state: unsupported format version")
	// ErrStateKey: the state was written under another key (key epoch).
	ErrStateKey = errors.New("anonymizer state: written under another key")
	// ErrStatePolicy: the state was written under another policy (or entity label).
	ErrStatePolicy = errors.New("anonymizer state: written under another anonymization policy")
	// ErrStateBusy: RestoreState into an anonymizer that has learned or
	// counted something already, or either call while a Batch is open.
	ErrStateBusy = errors.New("anonymizer state: anonymizer is in use")
)

// stateV1 is the payload of format version 1. Slices are sorted as noted;
// MatchItems keeps learning order.
type stateV1 struct {
	KeyEpoch string          // Epoch(key)
	Policy   string          // policyFingerprint
	Learned  []stateLearned  // by Typ, then Raw
	Redacted []stateRedacted // by Raw
	Issued   []string        // sorted
	Covered  []uint64        // sorted
	// MatchItems are the text matcher's values in learning order; the
	// first BaseN of them are in the index's automaton, the rest in its trie.
	MatchItems []stateEntry
	BaseN      int
	Vocab      []string     // sorted
	WeakN      []stateCount // by Key (the pseudonym type)
	Shorts     []string     // sorted, folded
	Workloads  []string     // sorted
	Counts     []stateCount // by Key (the report's rule and type)
}

type stateLearned struct{ Typ, Raw, Pseudonym string }

type stateRedacted struct{ Raw, Placeholder string }

type stateEntry struct {
	Raw, Repl, Rule string
	IP, Word        bool
}

type stateCount struct {
	Key string
	N   int64
}

// policyFingerprint identifies everything New derived from its arguments
// other than the key: the policy (without its key source, a path or an
// environment variable name), the labels kept raw (which include the entity
// label) and whether gitleaks' rules run. It is keyed, so the state does
// not carry a digest of the canaries anyone could test guesses against.
func (a *Anonymizer) policyFingerprint() (string, error) {
	p := a.policy
	p.Key.File, p.Key.Env = "", ""
	keep := make([]string, 0, len(a.keep))
	for k := range a.keep {
		keep = append(keep, k)
	}
	sort.Strings(keep)
	b, err := json.Marshal(struct {
		Policy   any
		Keep     []string
		Gitleaks bool
	}{p, keep, a.gitleaks != nil})
	if err != nil {
		return "", fmt.Errorf("anonymizer state: policy fingerprint: %w", err)
	}
	h := hmac.New(sha256.New, a.key)
	h.Write([]byte("opsdata/anonymize/state-policy/v1\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// MarshalState returns everything the anonymizer has learned and counted
// since New, in a deterministic encoding (same state -> same bytes). It holds
// raw identifiers: callers seal it (Seal) before storing it anywhere.
//
// Call it between calls, not while Text, Labels and the like run on other
// goroutines (their counts are merged at their end), and not while a Batch
// is open (ErrStateBusy).
func (a *Anonymizer) MarshalState() ([]byte, error) {
	fp, err := a.policyFingerprint()
	if err != nil {
		return nil, err
	}
	// Every rebuild started finishes first, so BaseN is the largest base
	// scheduled, whenever the builds ran.
	a.builds.Wait()
	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	a.mu.RLock()
	defer a.mu.RUnlock()
	if len(a.tracking) > 0 {
		return nil, fmt.Errorf("%w: a Batch is open (call End first)", ErrStateBusy)
	}
	a.idx.mu.RLock()
	baseN := a.idx.baseN
	a.idx.mu.RUnlock()
	a.countMu.Lock()
	counts := sortedCounts(a.counts)
	a.countMu.Unlock()

	s := stateV1{
		KeyEpoch:  Epoch(a.key),
		Policy:    fp,
		Learned:   make([]stateLearned, 0, len(a.learned)),
		Redacted:  make([]stateRedacted, 0, len(a.redacted)),
		Issued:    slices.Sorted(maps.Keys(a.issued)),
		Covered:   a.covered.keys(),
		BaseN:     baseN,
		Vocab:     slices.Sorted(maps.Keys(a.vocab)),
		WeakN:     sortedCounts(a.weakN),
		Shorts:    slices.Sorted(maps.Keys(a.shorts)),
		Workloads: slices.Sorted(maps.Keys(a.workloads)),
		Counts:    counts,
	}
	for k, p := range a.learned {
		s.Learned = append(s.Learned, stateLearned{k.typ, k.raw, p})
	}
	slices.SortFunc(s.Learned, func(x, y stateLearned) int {
		return cmp.Or(cmp.Compare(x.Typ, y.Typ), cmp.Compare(x.Raw, y.Raw))
	})
	for raw, ph := range a.redacted {
		s.Redacted = append(s.Redacted, stateRedacted{raw, ph})
	}
	slices.SortFunc(s.Redacted, func(x, y stateRedacted) int { return cmp.Compare(x.Raw, y.Raw) })
	s.MatchItems = make([]stateEntry, len(a.matchItems))
	for i, e := range a.matchItems {
		s.MatchItems[i] = stateEntry{e.raw, e.repl, e.rule, e.ip, e.word}
	}

	var buf bytes.Buffer
	buf.WriteString(stateMagic + strconv.Itoa(StateVersion) + "\n")
	if err := gob.NewEncoder(&buf).Encode(&s); err != nil {
		// gob's encoding errors name types, never values.
		return nil, fmt.Errorf("anonymizer state: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// RestoreState makes a (new, unused, same key and policy) anonymizer continue
// from a state MarshalState returned: every later Text, Column, Labels,
// Fields, LearnLabel, EntityValue, ScrubAhead/Batch, Report, ReportDoc,
// Inventory, ScanDir and CoveredScan result is what the original would give.
// A state of another format version is an error that says so.
//
// "Unused" means nothing learned, redacted or counted yet. Vocabulary
// (AddVocabulary) and workloads (AddWorkloads) declared before the restore
// are kept and joined with the state's: declaring the same words before or
// after RestoreState gives the same anonymizer. On error the anonymizer is
// unchanged.
func (a *Anonymizer) RestoreState(b []byte) error {
	payload, err := stateBody(b)
	if err != nil {
		return err
	}
	var s stateV1
	r := bytes.NewReader(payload) // an io.ByteReader: gob reads no further than the value
	if err := gob.NewDecoder(r).Decode(&s); err != nil || r.Len() != 0 {
		// gob's errors are not quoted: they could echo damaged bytes.
		return ErrStateFormat
	}
	if s.KeyEpoch != Epoch(a.key) {
		// Epochs are public fingerprints (the manifest carries them).
		return fmt.Errorf("%w: the state's key epoch is %q, this anonymizer's is %q", ErrStateKey, s.KeyEpoch, Epoch(a.key))
	}
	fp, err := a.policyFingerprint()
	if err != nil {
		return err
	}
	if s.Policy != fp {
		return fmt.Errorf("%w: the policy (labels, keep, log_fields, host_domains, canaries, columns, text) or the entity label differs from the run that wrote it", ErrStatePolicy)
	}
	if err := s.check(); err != nil {
		return err
	}

	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.idx.mu.Lock()
	defer a.idx.mu.Unlock()
	a.countMu.Lock()
	defer a.countMu.Unlock()
	if len(a.tracking) > 0 {
		return fmt.Errorf("%w: a Batch is open", ErrStateBusy)
	}
	if len(a.learned) > 0 || len(a.redacted) > 0 || len(a.issued) > 0 || !a.covered.empty() || len(a.matchItems) > 0 ||
		len(a.weakN) > 0 || len(a.shorts) > 0 || len(a.counts) > 0 || a.idx.baseN > 0 || a.idx.pend.n > 0 {
		return fmt.Errorf("%w: RestoreState needs a new anonymizer (nothing learned or counted yet)", ErrStateBusy)
	}

	// The maps are empty (checked above): sized once rather than grown.
	a.learned = make(map[learnKey]string, len(s.Learned))
	a.redacted = make(map[string]string, len(s.Redacted))
	a.issued = make(map[string]struct{}, len(s.Issued))
	for _, l := range s.Learned {
		a.learned[learnKey{l.Typ, l.Raw}] = l.Pseudonym
	}
	for _, r := range s.Redacted {
		a.redacted[r.Raw] = r.Placeholder
	}
	for _, p := range s.Issued {
		a.issue(p)
	}
	a.covered.restore(s.Covered)
	for _, w := range s.Vocab {
		a.vocab[w] = true
	}
	for _, c := range s.WeakN {
		a.weakN[c.Key] = c.N
	}
	for _, f := range s.Shorts {
		a.shorts[f] = true
	}
	for _, w := range s.Workloads {
		a.workloads[w] = true
	}
	for _, c := range s.Counts {
		a.counts[c.Key] = c.N
	}
	items := make([]textEntry, len(s.MatchItems))
	for i, e := range s.MatchItems {
		items[i] = textEntry{raw: e.Raw, repl: e.Repl, rule: e.Rule, ip: e.IP, word: e.Word}
	}
	a.matchItems = items
	a.version.Store(uint64(len(items)))
	// The same split as the original's index: the automaton over the first
	// BaseN values, the trie over the rest, so even when the next rebuild
	// happens is unchanged.
	x := &a.idx
	x.base, x.baseN = matcherPart{}, 0
	if s.BaseN > 0 {
		x.base, x.baseN = buildPart(items[:s.BaseN:s.BaseN]), s.BaseN
	}
	x.pend, x.pendEntries = trie{}, nil
	for _, e := range items[s.BaseN:] {
		x.addPend(e)
	}
	x.gen++
	return nil
}

// stateBody checks the header and returns the payload.
func stateBody(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, []byte(stateMagic)) {
		return nil, ErrStateFormat
	}
	rest := b[len(stateMagic):]
	nl := bytes.IndexByte(rest, '\n')
	if nl < 1 || nl > 9 {
		return nil, ErrStateFormat
	}
	v, err := strconv.Atoi(string(rest[:nl]))
	if err != nil || v < 0 {
		return nil, ErrStateFormat
	}
	if v != StateVersion {
		return nil, fmt.Errorf("%w: the state has format version %d, this build reads version %d (start a new state, or restore with the build that wrote it)", ErrStateVersion, v, StateVersion)
	}
	return rest[nl+1:], nil
}

// check validates what RestoreState relies on (a sealed state is
// authenticated, so this catches bugs rather than attacks).
func (s *stateV1) check() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrStateFormat, what) }
	if s.BaseN < 0 || s.BaseN > len(s.MatchItems) {
		return bad("text index size out of range")
	}
	for _, e := range s.MatchItems {
		if e.Raw == "" || e.Repl == "" {
			return bad("empty text matcher entry")
		}
	}
	for i, l := range s.Learned {
		if l.Raw == "" || l.Pseudonym == "" {
			return bad("empty learned value")
		}
		if i > 0 && cmp.Or(cmp.Compare(s.Learned[i-1].Typ, l.Typ), cmp.Compare(s.Learned[i-1].Raw, l.Raw)) >= 0 {
			return bad("learned values out of order")
		}
	}
	for i := 1; i < len(s.Covered); i++ {
		if s.Covered[i-1] >= s.Covered[i] {
			return bad("covered addresses out of order")
		}
	}
	for i, r := range s.Redacted {
		if i > 0 && s.Redacted[i-1].Raw >= r.Raw {
			return bad("redactions out of order")
		}
	}
	return nil
}

func sortedCounts(m map[string]int64) []stateCount {
	out := make([]stateCount, 0, len(m))
	for k, n := range m {
		out = append(out, stateCount{k, n})
	}
	slices.SortFunc(out, func(x, y stateCount) int { return cmp.Compare(x.Key, y.Key) })
	return out
}
