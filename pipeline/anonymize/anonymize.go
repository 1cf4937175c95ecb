// Package anonymize turns raw operations data into publishable data: keyed
// pseudonyms for identifiers (HMAC-SHA256, the same everywhere while the key
// is the same), redaction of secrets, emails and IP addresses in free text,
// and a leakage scan (gate.go) that proves no learned raw value reached the
// output.
//
// The design is open for the later, deeper anonymization work: pseudonym
// types are plain strings with per-type normalization (normalize), and the
// free-text detectors are a list (detectors) run in order after the learned
// values are replaced.
package anonymize

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// Placeholders written instead of redacted values.
const (
	RedactedIP     = "<ip>"
	RedactedEmail  = "<email>"
	RedactedSecret = "<redacted>"
)

// Pseudonym types with a fixed meaning; any other string is a valid type too
// (a label name, for unmentioned labels).
const (
	TypeHost  = "host"
	TypeEmail = "email"
	TypeUser  = "user"
	TypePod   = "pod"
	TypeIP    = "ip"
	TypeMAC   = "mac"
	TypeUUID  = "uuid"
)

// Anonymizer applies one policy with one key. It is safe for concurrent use.
type Anonymizer struct {
	key      []byte
	policy   spec.Anonymize
	keep     map[string]bool
	hmacs    sync.Pool
	pre      *matcher // keyword pre-check of the detectors, one pass per line
	preDFA   *maskDFA // pre as a table (nil: too big for one)
	preBits  []uint32
	detects  []detector
	gitleaks *gitleaksSet // nil: own detectors only
	// hosts finds names under the policy's host domains (nil: none); a
	// host it matches whole is found in text by the host detector.
	hosts    *hostFinder
	canaries []string
	rules    rules      // parsed policy (policy.go)
	cpan     *CryptoPAn // key derived from key, domain-separated

	// invMu guards inv (Inventory); prepMu guards prep (PrepareGate), so
	// preparing the gate never waits for an inventory being listed.
	invMu  sync.Mutex
	inv    inventoryMemo
	prepMu sync.Mutex
	prep   *gatePrep
	// prepUsed counts the gates that took a prepared needle set, invBuilds
	// the inventories listed.
	prepUsed, invBuilds atomic.Int64

	mu sync.RWMutex
	// learned maps a (type, trimmed raw value) to its pseudonym.
	learned map[learnKey]string
	// redacted maps a raw value found by a redacting detector (ip, email) to
	// its placeholder: kept for the leakage scan and later lines.
	redacted map[string]string
	// issued holds the pseudonyms of learned values: text already holding
	// them is not scrubbed again (Text is idempotent).
	issued map[string]struct{}
	// issuedShapes holds the shapes of issued's keys (issue, isIssued).
	issuedShapes shapeSet
	// covered holds the addresses and e-mails the detectors redacted, as
	// 64-bit hashes of their canonical form: the leakage gate checks every
	// address and e-mail it finds in the output against it (CoveredScan)
	// rather than searching for millions of raw strings.
	covered coveredSet
	// matchItems lists, in learning order, every value the text matcher
	// must find (learned values and non-covered redactions worth
	// matching); version is its length.
	matchItems []textEntry
	version    atomic.Uint64 // len(matchItems): the text matcher must change

	buildMu sync.Mutex     // one rebuild of idx's base at a time
	builds  sync.WaitGroup // rebuilds started and not done
	idx     textIndex

	// vocab holds the dataset's own words (AddVocabulary); weakN counts
	// the distinct weak values learned per type (vocab.go).
	vocab map[string]bool
	weakN map[string]int64
	// shorts holds the folded short names of learned FQDNs (shortName)
	// in the text matcher.
	shorts map[string]bool
	// workloads are known workload names (AddWorkloads, k8s.go).
	workloads map[string]bool

	countMu sync.Mutex
	counts  map[string]int64

	// tracking holds, for every open Batch, every value (folded) learned
	// since the batch began (track): its scrubs ahead ran from then on.
	tracking []*trie
}

type learnKey struct{ typ, raw string }

// track records values that change how later text is scrubbed (raw values
// the matcher or the host detector reads, issued pseudonyms) while a
// batch is open (batch.go); called with a.mu held.
func (a *Anonymizer) track(vs ...string) {
	if len(a.tracking) == 0 {
		return
	}
	for _, v := range vs {
		if v != "" {
			f := foldString(v)
			for _, t := range a.tracking {
				t.insert(f)
			}
		}
	}
}

// New returns an Anonymizer for policy. entityLabel is the metric label that
// names a row's entity; it is published raw, like policy.Keep.
func New(key []byte, policy spec.Anonymize, entityLabel string) (*Anonymizer, error) {
	return newAnonymizer(key, policy, entityLabel, options{})
}

// options are knobs for tests and measurements, not configuration.
type options struct {
	noGitleaks bool // only opsdata's own secret detectors (the baseline of BENCHMARKS.md)
}

func newAnonymizer(key []byte, policy spec.Anonymize, entityLabel string, opt options) (*Anonymizer, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("%w: key has %d bytes, need at least %d", ErrKey, len(key), MinKeyBytes)
	}
	for _, d := range policy.HostDomains {
		if strings.Trim(strings.TrimSpace(d), ".") == "" {
			return nil, errors.New("anonymize.host_domains: empty domain (remove it or name a DNS suffix such as prod.example.internal)")
		}
	}
	a := &Anonymizer{
		key:       append([]byte(nil), key...),
		policy:    policy,
		keep:      map[string]bool{labels.MetricName: true},
		learned:   map[learnKey]string{},
		redacted:  map[string]string{},
		issued:    map[string]struct{}{},
		counts:    map[string]int64{},
		vocab:     map[string]bool{},
		weakN:     map[string]int64{},
		shorts:    map[string]bool{},
		workloads: map[string]bool{},
	}
	if _, named := policy.Labels[entityLabel]; entityLabel != "" && !named {
		a.keep[entityLabel] = true // kept unless the policy names it
	}
	for _, k := range policy.Keep {
		a.keep[k] = true
	}
	for _, c := range policy.Canaries {
		if c = strings.TrimSpace(c); c != "" {
			a.canaries = append(a.canaries, c)
		}
	}
	a.hmacs.New = func() any { return hmac.New(sha256.New, a.key) }
	var err error
	if a.rules, err = parseRules(policy); err != nil {
		return nil, err
	}
	if a.cpan, err = NewCryptoPAn(cryptoPAnKey(a.key)); err != nil {
		return nil, err
	}
	var gl *gitleaksSet
	if !opt.noGitleaks {
		if gl, err = loadGitleaks(); err != nil {
			return nil, err
		}
	}
	a.gitleaks = gl
	a.detects, a.pre, a.preBits, a.hosts = buildDetectors(policy.HostDomains, a.rules, gl)
	a.preDFA = newMaskDFA(a.pre, a.preBits)
	return a, nil
}

// normalize puts a value of a type in its canonical form, so spellings of
// the same identifier share a pseudonym.
func normalize(typ, value string) string {
	v := strings.TrimSpace(value)
	switch typ {
	case TypeHost, TypeEmail, TypeUser, TypePod, TypeUUID:
		return strings.ToLower(v)
	case TypeMAC:
		return strings.ReplaceAll(strings.ToLower(v), "-", ":")
	case TypeIP:
		if ip, err := netip.ParseAddr(v); err == nil {
			return ip.Unmap().String()
		}
		if ap, err := netip.ParseAddrPort(v); err == nil {
			return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
		}
	}
	return v
}

// Pseudonym is "<typ>-<12 hex>" from HMAC-SHA256(key, typ NUL normalized
// value). The type is inside the MAC so equal values of different types do
// not link. An empty value stays empty.
func (a *Anonymizer) Pseudonym(typ, value string) string {
	n := normalize(typ, value)
	if n == "" {
		return ""
	}
	h := a.hmacs.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write([]byte(n))
	var sum [sha256.Size]byte
	out := h.Sum(sum[:0])
	a.hmacs.Put(h)
	var hx [12]byte
	hex.Encode(hx[:], out[:6])
	return typ + "-" + string(hx[:])
}

// Learn adds a raw value of a type to the inventory: from then on Text
// replaces it wherever it occurs and the leakage scan looks for it.
func (a *Anonymizer) Learn(typ, value string) { a.learn(nil, typ, value) }

// learn records value and returns its pseudonym; known values cost one read
// lock and no HMAC.
func (a *Anonymizer) learn(st *stats, typ, value string) string {
	return a.learnOpt(st, typ, value, a.Pseudonym, true)
}

// learnFound is learn for a value a detector found by its shape (a name
// under a host domain, an FQDN): the detector finds it again wherever it
// occurs, so it goes into the gate's inventory but not into the text
// matcher. A day's 350k churning pod and node names would otherwise be
// most of the matcher's memory.
func (a *Anonymizer) learnFound(st *stats, typ, value string) string {
	return a.learnOpt(st, typ, value, a.Pseudonym, false)
}

// foundByShape says whether the host detector finds raw whole wherever it
// occurs in text (then it needs no place in the text matcher).
func (a *Anonymizer) foundByShape(typ, raw string) bool {
	if typ != TypeHost || a.hosts == nil {
		return false
	}
	// The finder is the regexp's leftmost match, without its backtracking
	// from every position (BenchmarkFoundByShape: a quarter of its time,
	// for each of a day's 350k new hosts).
	m := a.hosts.findAll(raw)
	return len(m) > 0 && m[0] == [2]int{0, len(raw)}
}

// isLearned says whether raw (or its lower-case spelling) was learned as typ.
func (a *Anonymizer) isLearned(typ, raw string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if _, ok := a.learned[learnKey{typ, raw}]; ok {
		return true
	}
	_, ok := a.learned[learnKey{typ, strings.ToLower(raw)}]
	return ok
}

// learnAs is learn with the replacement computed by repl (IP rules).
func (a *Anonymizer) learnAs(st *stats, typ, value string, repl func(typ, raw string) string) string {
	return a.learnOpt(st, typ, value, repl, true)
}

// learnOpt records value unless st is speculative (a scrub ahead, batch.go):
// then a value not known yet marks the scrub stale instead, to be redone
// in line order.
func (a *Anonymizer) learnOpt(st *stats, typ, value string, repl func(typ, raw string) string, match bool) string {
	raw := strings.TrimSpace(value)
	if raw == "" {
		return ""
	}
	k := learnKey{typ, raw}
	a.mu.RLock()
	p, ok := a.learned[k]
	a.mu.RUnlock()
	if ok {
		return p
	}
	p = repl(typ, raw)
	if st.speculative() {
		st.ahead.stale = true
		return p
	}
	// raw is most often a piece of a log line: kept as it is, it would
	// keep the whole line alive for the rest of the run (70 MB of lines
	// on the realistic day's 350k hosts).
	raw = strings.Clone(raw)
	k.raw = raw
	short, shortP := "", ""
	if typ == TypeHost {
		if short = shortName(raw); short != "" {
			shortP = a.Pseudonym(TypeHost, short)
		}
	}
	a.mu.Lock()
	if _, ok := a.learned[k]; !ok {
		a.learned[k] = p
		a.issue(p)
		if typ == TypeHost || match && !a.weak(raw) {
			a.track(raw) // read by the matcher or the host detector
		}
		a.track(p)
		switch {
		case a.weak(raw):
			a.weakN[typ]++
		case match && !a.foundByShape(typ, raw):
			a.addMatchItem(textEntry{raw: raw, repl: p, rule: textRule(typ), ip: isIP(raw)})
		}
		if f := foldString(short); short != "" && !a.shorts[f] && !a.vocab[f] && !builtinVocab()[f] {
			a.shorts[f] = true
			a.issue(shortP)
			a.track(short, shortP)
			a.addMatchItem(textEntry{raw: short, repl: shortP, rule: "pseudonymize:host_short", word: true})
		}
	}
	a.mu.Unlock()
	return p
}

// learnRedacted records a raw value that a detector replaced by placeholder.
func (a *Anonymizer) learnRedacted(st *stats, raw, placeholder string) {
	if detectorCovered(placeholder) {
		if k, ok := coveredKey(raw); ok {
			if st.speculative() {
				// The gate's inventory only: no scrub reads it, so it is
				// kept for Settle rather than making the scrub stale.
				st.ahead.covered = append(st.ahead.covered, k)
				return
			}
			a.covered.add(k)
			return
		}
	}
	a.mu.RLock()
	_, ok := a.redacted[raw]
	a.mu.RUnlock()
	if ok {
		return
	}
	matched := !detectorCovered(placeholder) && worthMatching(raw)
	if st.speculative() {
		if matched {
			st.ahead.stale = true // later text would be scrubbed of it
		} else {
			st.ahead.redacted = append(st.ahead.redacted, [2]string{raw, placeholder})
		}
		return
	}
	a.mu.Lock()
	if _, ok := a.redacted[raw]; !ok {
		raw = strings.Clone(raw) // not a piece of the line it was found in
		a.redacted[raw] = placeholder
		if matched {
			a.track(raw)
			a.addMatchItem(textEntry{raw: raw, repl: placeholder, rule: "redact:" + strings.Trim(placeholder, "<>"), ip: isIP(raw)})
		}
	}
	a.mu.Unlock()
}

// detectorCovered says whether the detector that produced placeholder finds
// every occurrence on its own (addresses, e-mails), so the raw value needs
// to be in the leakage scan's inventory but not in the text matcher. Real
// logs carry millions of distinct client addresses: matching each one
// again, and rebuilding the matcher per new address, would make Text
// quadratic. Secrets stay in the matcher: a token seen once in
// "token=..." must also go where it appears bare.
func detectorCovered(placeholder string) bool {
	return placeholder == RedactedIP || placeholder == RedactedEmail
}

func (a *Anonymizer) isIssued(p string) bool {
	if !a.issuedShapes.mayHold(p) {
		return false // no lock taken, no miss in a map of 100ks
	}
	a.mu.RLock()
	_, ok := a.issued[p]
	a.mu.RUnlock()
	return ok
}

// issue records p as opsdata's output. Called with a.mu held for writing.
func (a *Anonymizer) issue(p string) {
	a.issuedShapes.add(p) // before the map: a reader that sees the bit finds p
	a.issued[p] = struct{}{}
}

// shapeSet holds a bit for each (first byte, length) of a set of strings,
// lengths past 62 sharing bit 63. Most words Text asks isIssued about (raw
// addresses, user names) have no pseudonym of the same first byte and
// length, and are told apart in a 2 KiB table read without a lock.
type shapeSet [256]atomic.Uint64

func shapeOf(p string) (byte, uint64) {
	if p == "" {
		return 0, 1
	}
	return p[0], 1 << min(len(p), 63)
}

func (s *shapeSet) add(p string) {
	i, bit := shapeOf(p)
	s[i].Or(bit)
}

// mayHold is false only for a string of a shape never added.
func (s *shapeSet) mayHold(p string) bool {
	i, bit := shapeOf(p)
	return s[i].Load()&bit != 0
}

// worthMatching says whether a raw value is specific enough to search for in
// free text and in the published files. Short or purely numeric values
// ("200", "0.5", "true") are label values, not identities; matching them as
// substrings would mangle every line and fail every scan.
func worthMatching(v string) bool {
	if len(v) < 4 {
		return false
	}
	if mayBeAddr(v) {
		if _, err := netip.ParseAddr(v); err == nil {
			return true
		}
		if _, err := netip.ParseAddrPort(v); err == nil {
			return true
		}
	}
	letter, allHex := false, true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80 {
			letter = true
		}
		if !isHexByte(c) {
			allHex = false
		}
	}
	// Short hex strings occur by chance inside pseudonyms' digests.
	return letter && !(allHex && len(v) < 8)
}

// mayBeAddr says whether netip could parse v as an address or an
// address:port. Without a ':' only dotted decimal IPv4 parses, so a host
// name or a user name is told apart by its bytes, without two failed
// parses that each allocate their error (a learned value is checked
// several times, on the learner's one goroutine).
func mayBeAddr(v string) bool {
	if strings.IndexByte(v, ':') >= 0 {
		return true
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Labels applies the label policy: __name__, the entity label and Keep stay
// raw; labels in policy.Labels get their rule; every other label is
// pseudonymized under its own name, so nothing is published raw by accident.
// A label whose rule is drop is removed.
func (a *Anonymizer) Labels(l labels.Labels) labels.Labels {
	b := labels.NewScratchBuilder(l.Len())
	var st stats
	l.Range(func(lb labels.Label) {
		r := a.labelRule(lb.Name)
		if r.Kind == spec.RuleKeep || lb.Value == "" {
			b.Add(lb.Name, lb.Value)
			return
		}
		v, keep := a.apply(r, lb.Value)
		st.add("label:" + ruleName(r))
		if keep {
			b.Add(lb.Name, v)
		}
	})
	st.flush(a)
	// Names are unchanged, so the input order (sorted) still holds.
	return b.Labels()
}

// Fields learns the values of the structured log fields named in
// policy.LogFields and returns a copy with those values anonymized by their
// rule (drop removes the field). Fields the policy does not name are
// returned unchanged and not learned: opsdata publishes no log field as a
// column, only the scrubbed message.
func (a *Anonymizer) Fields(f map[string]string) map[string]string {
	if f == nil {
		return nil
	}
	out := make(map[string]string, len(f))
	for k, v := range f {
		r, ok := a.rules.fields[k]
		if !ok || r.Kind == spec.RuleKeep || strings.TrimSpace(v) == "" {
			out[k] = v
		}
	}
	a.fields(func(k string) (string, bool) { v, ok := f[k]; return v, ok }, out, nil)
	return out
}

// LearnFields learns what Fields would, without building the scrubbed
// copy: pass 1 of an export only learns a line's fields (the logs table
// does not publish them). memo, when set, remembers the values learned
// lately: a value repeated line after line (the host of a file's lines)
// then costs a look in a small table instead of one in the learned map,
// whose hundreds of thousands of values make every look a cache miss.
// Learning is idempotent, so skipping a remembered value changes nothing.
func (a *Anonymizer) LearnFields(f []pipeline.LogField, memo *FieldMemo) {
	if len(f) > 0 {
		a.fields(func(k string) (string, bool) { return pipeline.FieldOf(f, k) }, nil, memo)
	}
}

// FieldMemo is LearnFields' memory of recent values, one per goroutine
// (not safe for concurrent use); the zero value is ready.
type FieldMemo struct {
	seed  maphash.Seed
	init  bool
	slots [4096]struct{ field, value string }
	st    stats // fields' counts, reused
}

// seen says whether value of field was learned lately, and remembers it.
func (m *FieldMemo) seen(field, value string) bool {
	if !m.init {
		m.seed, m.init = maphash.MakeSeed(), true
	}
	s := &m.slots[maphash.String(m.seed, value)%uint64(len(m.slots))]
	if s.value == value && s.field == field {
		return true
	}
	s.field, s.value = field, value
	return false
}

// FieldsRead names the log fields LearnFields reads (those with a rule
// other than keep), sorted: a log source need parse no other.
func (a *Anonymizer) FieldsRead() []string { return slices.Clone(a.rules.fieldOrder) }

// fields applies the rules of the named fields (get looks one up), into
// out when it is set (then memo is nil: the scrubbed value is needed).
func (a *Anonymizer) fields(get func(key string) (string, bool), out map[string]string, memo *FieldMemo) {
	// The memo's caller learns every line of a day: its counts reuse the
	// memo's slices instead of growing new ones for every line.
	st := &stats{}
	if memo != nil {
		st = &memo.st
		st.keys, st.ns = st.keys[:0], st.ns[:0]
	}
	// The named fields in a fixed order: values are learned in the same
	// order on every run (map iteration order is random).
	for i, k := range a.rules.fieldOrder {
		v, ok := get(k)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		st.add(a.rules.fieldStat[i])
		if memo != nil && memo.seen(k, v) {
			continue
		}
		r := a.rules.fields[k]
		pv, keep := a.apply(r, v)
		if keep && out != nil {
			out[k] = pv
		}
	}
	st.flush(a)
}

// Inventory returns the raw values worth scanning for (see worthMatching)
// plus the policy's canaries, sorted and deduplicated. Values that are part
// of opsdata's own output vocabulary (a pseudonym type prefix such as
// "host-", a placeholder) are left out: they would match every pseudonym.
func (a *Anonymizer) Inventory() []string {
	inv, _ := a.inventory()
	return slices.Clone(inv)
}

// inventory is Inventory's list, shared (not to be changed), and the
// sizes of what it was made of.
func (a *Anonymizer) inventory() ([]string, [4]int) {
	a.mu.RLock()
	key := a.inventoryKeyLocked()
	a.mu.RUnlock()
	a.invMu.Lock()
	defer a.invMu.Unlock()
	if a.inv.list == nil || a.inv.key != key {
		a.invBuilds.Add(1)
		a.inv.list, a.inv.key = a.buildInventory()
	}
	return a.inv.list, a.inv.key
}

// inventoryMemo is the last inventory built. The report and the gate both
// need it, one after the other (~0.4 s each on a day of 350k hosts). What
// the inventory is made of only grows, so equal sizes of its sources mean
// equal contents.
type inventoryMemo struct {
	key  [4]int
	list []string
}

// inventoryKeyLocked is the size of everything Inventory reads. Called with
// a.mu held (either mode).
func (a *Anonymizer) inventoryKeyLocked() [4]int {
	return [4]int{len(a.learned), len(a.redacted), len(a.vocab), len(a.canaries)}
}

// buildInventory makes Inventory's list and says what it was made of.
// Duplicates go by sorting, not through a set: the list is built while the
// run holds its largest heap, and a set of 350k strings added tens of MB.
func (a *Anonymizer) buildInventory() ([]string, [4]int) {
	a.mu.RLock()
	key := a.inventoryKeyLocked()
	vocab := RedactedIP + " " + RedactedEmail + " " + RedactedSecret
	typeSeen := map[string]bool{}
	var types []string
	for k := range a.learned {
		if !typeSeen[k.typ] {
			typeSeen[k.typ] = true
			types = append(types, k.typ+"-")
		}
	}
	vocab += " " + strings.Join(types, " ")
	vocab = strings.ToLower(vocab)
	out := make([]string, 0, len(a.learned)+len(a.redacted)+len(a.canaries))
	add := func(v string) {
		if worthMatching(v) && !strings.Contains(vocab, strings.ToLower(v)) {
			out = append(out, v)
		}
	}
	for k := range a.learned {
		if !a.weak(k.raw) {
			add(k.raw)
		}
	}
	for v := range a.redacted {
		add(v)
	}
	a.mu.RUnlock()
	out = append(out, a.canaries...)
	sort.Strings(out)
	return slices.Compact(out), key
}

// Report returns the number of replacements per rule and type, e.g.
// "label:instance", "field:user", "pseudonymize:host", "redact:ip".
func (a *Anonymizer) Report() map[string]int64 {
	a.countMu.Lock()
	defer a.countMu.Unlock()
	out := make(map[string]int64, len(a.counts))
	for k, v := range a.counts {
		out[k] = v
	}
	return out
}

// stats counts replacements within one call and merges them once, so the
// shared counter lock is taken at most once per call.
type stats struct {
	keys []string
	ns   []int64
	// ahead is set while scrubbing ahead (batch.go): nothing shared is
	// changed, what would be is recorded there.
	ahead *Ahead
}

func (s *stats) speculative() bool { return s != nil && s.ahead != nil }

func (s *stats) add(key string) { s.addN(key, 1) }

func (s *stats) addN(key string, n int64) {
	for i, k := range s.keys {
		if k == key {
			s.ns[i] += n
			return
		}
	}
	s.keys = append(s.keys, key)
	s.ns = append(s.ns, n)
}

func (s *stats) flush(a *Anonymizer) {
	if len(s.keys) == 0 {
		return
	}
	a.countMu.Lock()
	for i, k := range s.keys {
		a.counts[k] += s.ns[i]
	}
	a.countMu.Unlock()
}
