package anonymize

import (
	"encoding/binary"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/opsdata/opsdata/spec"
)

// textIndex finds the learned values in free text. Learning must stay
// cheap while Text runs over millions of lines with hundreds of thousands of
// distinct hosts, so it has two parts: base, an Aho-Corasick automaton over
// the first baseN values (immutable, rebuilt rarely), and pend, a trie of
// the values learned since, to which a value is added in O(its length).
// When pend holds as many values as base, base is rebuilt over all of
// them (doubling: every value is indexed O(1) times amortized). Matches of
// both parts are merged, so which part holds a value never changes output.
type textIndex struct {
	mu    sync.RWMutex
	baseN int
	base  matcherPart
	pend  trie
	// pendEntries[id] lists the replacements of trie pattern id, sorted
	// like matcherPart.entries; replaced (never appended in place) so a
	// picked slice stays valid.
	pendEntries [][]textEntry
	// gen changes whenever a value is added or base is rebuilt: a scan's
	// matches (pattern ids) are only valid for the gen they were found in.
	gen uint64
}

// scanCache keeps one text's scan of the index: Text scans its text twice
// (learned addresses first, everything after the detectors), and when the
// detectors changed nothing and nothing was learned meanwhile the second
// scan would find the same matches.
type scanCache struct {
	s   string
	gen uint64
	all []idxMatch // before any only filter
	ok  bool
}

// minRebuild is the smallest pend that triggers a rebuild of base.
const minRebuild = 1024

// matcherPart finds the folded patterns of some learned values.
type matcherPart struct {
	m *matcher
	// entries[id] lists the replacements for folded pattern id: pseudonyms
	// first (sorted by raw, then type), then a redaction placeholder.
	entries [][]textEntry
}

type textEntry struct {
	raw, repl, rule string
	ip              bool // match only at address boundaries
	word            bool // match only as a whole name (shortName)
}

// entryLess orders the replacements of one folded pattern.
func entryLess(x, y textEntry) bool {
	if x.word != y.word {
		return !x.word
	}
	px, py := x.repl[0] != '<', y.repl[0] != '<'
	if px != py {
		return px
	}
	if x.raw != y.raw {
		return x.raw < y.raw
	}
	return x.rule < y.rule
}

// addMatchItem records e for Text; called with a.mu held. Each time the
// number of values reaches a power of two (from minRebuild on), a new base
// over all of them is built on a goroutine of its own (rebuildIndex): the
// learner, often the one goroutine a pass runs in order, does not wait for
// it. Which values a base holds depends only on how many were learned, so
// the index's split (kept in the state) is the same on every run.
func (a *Anonymizer) addMatchItem(e textEntry) {
	a.matchItems = append(a.matchItems, e)
	a.version.Add(1)
	x := &a.idx
	x.mu.Lock()
	x.addPend(e)
	x.gen++
	x.mu.Unlock()
	if n := len(a.matchItems); n >= minRebuild && n&(n-1) == 0 {
		a.builds.Add(1)
		go func() {
			defer a.builds.Done()
			a.rebuildIndex(n)
		}()
	}
}

func (x *textIndex) addPend(e textEntry) {
	id := x.pend.insert(foldString(e.raw))
	if int(id) == len(x.pendEntries) {
		x.pendEntries = append(x.pendEntries, []textEntry{e})
		return
	}
	old := x.pendEntries[id]
	es := make([]textEntry, 0, len(old)+1)
	i := sort.Search(len(old), func(i int) bool { return entryLess(e, old[i]) })
	es = append(append(append(es, old[:i]...), e), old[i:]...)
	x.pendEntries[id] = es
}

// rebuildIndex moves the first n values learned into a new base. The
// automaton is built without holding any lock Text needs; values learned
// meanwhile go into the new pend. Text finds the same matches in any split
// of the values between base and pend.
func (a *Anonymizer) rebuildIndex(n int) {
	a.buildMu.Lock()
	defer a.buildMu.Unlock()
	if n <= a.idx.baseN { // a larger base was built first (only builds write baseN)
		return
	}
	a.mu.RLock()
	items := a.matchItems[:n:n]
	a.mu.RUnlock()
	base := buildPart(items)
	a.mu.RLock()
	defer a.mu.RUnlock()
	x := &a.idx
	x.mu.Lock()
	defer x.mu.Unlock()
	x.base, x.baseN = base, n
	x.pend, x.pendEntries = trie{}, nil
	x.gen++
	for _, e := range a.matchItems[n:] {
		x.addPend(e)
	}
}

// buildPart indexes items by their case-folded raw text.
func buildPart(items []textEntry) matcherPart {
	byFold := map[string][]textEntry{}
	for _, e := range items {
		f := foldString(e.raw)
		byFold[f] = append(byFold[f], e)
	}
	pats := make([]string, 0, len(byFold))
	for f := range byFold {
		pats = append(pats, f)
	}
	sort.Strings(pats)
	part := matcherPart{entries: make([][]textEntry, len(pats))}
	for i, f := range pats {
		es := byFold[f]
		sort.Slice(es, func(i, j int) bool { return entryLess(es[i], es[j]) })
		part.entries[i] = es
	}
	part.m = newMatcher(pats)
	return part
}

// textRule names the report rule of a learned value of type typ.
func textRule(typ string) string {
	if typ == "ip_prefix" || strings.HasPrefix(typ, "generalize/") {
		return typ + ":ip"
	}
	return "pseudonymize:" + typ
}

// issuedAddr says whether the address s[start:end] (with a following /N
// prefix length, if any) is one opsdata wrote: Text must not anonymize its
// own output again.
func (a *Anonymizer) issuedAddr(s string, start, end int) bool {
	if a.isIssued(s[start:end]) {
		return true
	}
	if end < len(s) && s[end] == '/' {
		j := end + 1
		for j < len(s) && j < end+4 && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j > end+1 && a.isIssued(s[start:j]) {
			return true
		}
	}
	// An anonymized address with its port.
	if end < len(s) && s[end] == ':' {
		j := end + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j > end+1 && a.isIssued(s[start:j]) {
			return true
		}
	}
	return false
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// pick chooses the replacement for matched text among the entries of its
// folded pattern (from base, pend or both): the first entry with the exact
// raw spelling if there is one, else the first one.
func pick(text string, lists ...[]textEntry) textEntry {
	var best, exact textEntry
	var haveBest, haveExact bool
	for _, es := range lists {
		for _, e := range es {
			if e.raw == text && (!haveExact || entryLess(e, exact)) {
				exact, haveExact = e, true
			}
			if !haveBest || entryLess(e, best) {
				best, haveBest = e, true
			}
		}
	}
	if haveExact {
		return exact
	}
	return best
}

// Text scrubs free text (log messages, ticket titles and bodies): learned
// values first, then the detectors in order. Values the detectors learn are
// scrubbed from the rest of the text too, so no learned raw value survives.
func (a *Anonymizer) Text(s string) string {
	var st stats
	s = a.text(s, &st)
	st.flush(a)
	return s
}

// text is Text with the counts left in st; a speculative st (batch.go)
// also collects every text the detectors read and stops once the scrub is
// stale.
func (a *Anonymizer) text(s string, st *stats) string {
	if s == "" {
		return s
	}
	ahead := st.ahead
	if ahead != nil {
		ahead.seen = append(ahead.seen[:0], s)
	}
	saw := func(t string) bool {
		if ahead == nil {
			return true
		}
		if t != ahead.seen[len(ahead.seen)-1] {
			ahead.seen = append(ahead.seen, t)
		}
		return !ahead.stale
	}
	// Detectors first, on the text as written: a learned value replaced
	// first could take away a detector's context. One log line
	// "api_token = api_token" would otherwise teach the secret "api_token"
	// and hide the key of every later "datadog_api_token = <secret>".
	// Learned addresses (an instance 10.42.1.7:8080) go first, though: they
	// cannot be a detector's key word, and their keyed pseudonym, the same
	// as in the metric labels, is worth more than a detector's <ip>.
	var sc scanCache
	present := bytesOf(s) // which bytes s holds, for the cheap checks below
	if present.meets(digitBytes) && present.meets(addrSepBytes) || noTextShortcuts {
		// Only a text with a digit and a '.' or ':' can hold an address.
		if t := a.replaceLearned(s, st, addressLike, &sc); t != s {
			s, present = t, bytesOf(t)
		}
	}
	if !saw(s) {
		return s
	}
	var mask uint32
	if a.preDFA != nil {
		mask = a.preDFA.mask(s)
	} else {
		mask = a.pre.mask(s, a.preBits)
	}
	for i := range a.detects {
		d := &a.detects[i]
		if d.need&mask != d.need || (d.bytes != "" && !present.meets(d.set)) {
			continue
		}
		t := d.apply(a, s, st)
		if t != s {
			s, present = t, bytesOf(t)
		}
		if !saw(s) {
			return s
		}
	}
	s = a.replaceLearned(s, st, nil, &sc)
	saw(s)
	return s
}

// noTextShortcuts turns off the address pre-check and the scanCache: the tests'
// reference for what they must not change.
var noTextShortcuts bool

// byteSet is a set of byte values.
type byteSet [4]uint64

// bytesOf is the set of s's bytes. Setting bits of the array in memory
// chained every byte to the one before through a load and a store (it was
// 3% of the logs path). A long text marks its bytes in a table of 256
// flags, stores that do not wait for each other, then packs the flags
// eight at a time; a short one uses two registers for the ASCII halves.
func bytesOf(s string) (b byteSet) {
	if len(s) >= 48 {
		var seen [256]byte
		for i := 0; i < len(s); i++ {
			seen[s[i]] = 1
		}
		for w := range b {
			var x uint64
			for k := 0; k < 8; k++ {
				// Eight 0/1 flags to eight bits: the multiply moves flag j
				// to bit 56+j with no carries between the partial products.
				v := binary.LittleEndian.Uint64(seen[w*64+k*8:])
				x |= (v * 0x0102040810204080 >> 56) << (k * 8)
			}
			b[w] = x
		}
		return b
	}
	var lo, hi uint64
	var all byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		bit := uint64(1) << (c & 63)
		up := -uint64(c >> 6 & 1) // all ones for 64..127 (and 192..255)
		lo |= bit &^ up
		hi |= bit & up
		all |= c
	}
	if all < 0x80 {
		return byteSet{lo, hi, 0, 0}
	}
	for i := 0; i < len(s); i++ {
		b[s[i]>>6] |= 1 << (s[i] & 63)
	}
	return b
}

func (b byteSet) meets(o byteSet) bool {
	return b[0]&o[0]|b[1]&o[1]|b[2]&o[2]|b[3]&o[3] != 0
}

var (
	digitBytes   = bytesOf("0123456789")
	addrSepBytes = bytesOf(".:")
)

// addressLike: a learned value shaped like an address or host:port (digits
// with dots or colons, no key-value or path syntax).
func addressLike(v string) bool {
	digit, sep := false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c == '.' || c == ':':
			sep = true
		case c == '=' || c == '/' || c == ' ' || c == '"':
			return false
		}
	}
	return digit && sep
}

// idxMatch is an occurrence of a learned value: base pattern id or pend
// pattern id (-1 when the part has none).
type idxMatch struct {
	start, end int
	base, pend int32
}

// replaceLearned replaces the learned values in s (only those whose raw
// text passes only, when it is set).
func (a *Anonymizer) replaceLearned(s string, st *stats, only func(string) bool, sc *scanCache) string {
	kept, picked := a.idx.find(s, only, sc)
	if len(kept) == 0 {
		return s
	}
	// The index is not locked from here on: an address extended below is
	// learned (textIP), which adds to the index, and protectedSpans and
	// issuedAddr take a.mu, which a learner holds while it takes the
	// index's lock.
	prot := a.protectedSpans(s)
	var b strings.Builder
	last := 0
	for i, m := range kept {
		if m.start < last || overlapsAny(prot, m.start, m.end) {
			continue
		}
		e := picked[i]
		if e.word && !wordBounded(s, m.start, m.end) {
			continue
		}
		start, end, repl, rule := m.start, m.end, e.repl, e.rule
		if e.ip {
			// 10.0.0.1 inside 10.0.0.12: redact the whole longer address.
			if as, ae := extendAddr(s, start, end); as != start || ae != end {
				if a.issuedAddr(s, as, ae) {
					continue // an address opsdata wrote (ip_prefix, generalize)
				}
				if _, err := netip.ParseAddr(s[as:ae]); err == nil {
					repl, rule = a.textIP(st, s[as:ae])
					start, end = as, ae
				}
			}
		}
		if b.Len() == 0 {
			b.Grow(len(s) + 16)
		}
		b.WriteString(s[last:start])
		b.WriteString(repl)
		last = end
		st.add(rule)
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// find returns the occurrences of learned values in s (only those whose
// raw text passes only, when it is set), leftmost-longest and
// non-overlapping, each with the replacement pick chose for it, appended
// to all and picked. It holds the index's read lock only while it reads
// the index.
func (x *textIndex) find(s string, only func(string) bool, sc *scanCache) (all []idxMatch, picked []textEntry) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.base.m.empty() && len(x.pendEntries) == 0 {
		return nil, nil
	}
	if sc != nil && sc.ok && sc.gen == x.gen && sc.s == s && !noTextShortcuts {
		all = append(all, sc.all...) // resolved below in place: a copy
	} else {
		all = x.scan(s)
		if sc != nil {
			*sc = scanCache{s: s, gen: x.gen, all: append([]idxMatch(nil), all...), ok: true}
		}
	}
	if only != nil {
		n := 0
		for _, m := range all {
			if only(s[m.start:m.end]) {
				all[n] = m
				n++
			}
		}
		all = all[:n]
	}
	if len(all) == 0 {
		return nil, nil
	}
	// Leftmost-longest, non-overlapping, over both parts at once; the same
	// folded pattern found by both merges into one match.
	kept := leftmostLongest(all, func(m *idxMatch) (int, int) { return m.start, m.end }, func(k, c *idxMatch) {
		if c.base >= 0 {
			k.base = c.base
		}
		if c.pend >= 0 {
			k.pend = c.pend
		}
	})
	for _, m := range kept {
		var bl, pl []textEntry
		if m.base >= 0 {
			bl = x.base.entries[m.base]
		}
		if m.pend >= 0 {
			pl = x.pendEntries[m.pend]
		}
		picked = append(picked, pick(s[m.start:m.end], bl, pl))
	}
	return kept, picked
}

// scan returns every occurrence of an indexed value in s, overlapping
// ones too; the caller holds x.mu.
func (x *textIndex) scan(s string) []idxMatch {
	var all []idxMatch // nil: most texts hold no learned value
	if !x.base.m.empty() {
		x.base.m.each(s, func(m match) bool {
			all = append(all, idxMatch{m.start, m.end, m.id, -1})
			return true
		})
	}
	all = x.pend.findAll(s, all)
	// A short name counts only as a whole name: not inside db10, mydb1,
	// db1-backup or db1.other.example.
	n := 0
	for _, m := range all {
		if !wordBounded(s, m.start, m.end) && x.wordOnly(m) {
			continue
		}
		all[n] = m
		n++
	}
	return all[:n]
}

// wordOnly says whether every entry of m's pattern is a short name.
func (x *textIndex) wordOnly(m idxMatch) bool {
	if m.base >= 0 {
		for _, e := range x.base.entries[m.base] {
			if !e.word {
				return false
			}
		}
	}
	if m.pend >= 0 {
		for _, e := range x.pendEntries[m.pend] {
			if !e.word {
				return false
			}
		}
	}
	return true
}

// wordBounded says whether s[start:end] is a whole name: not glued to a
// letter, digit, '_' or '-', nor to a '.' that continues a longer name.
func wordBounded(s string, start, end int) bool {
	if start > 0 {
		if c := s[start-1]; isWordByte(c) || c == '-' || c == '.' {
			return false
		}
	}
	if end < len(s) {
		c := s[end]
		if isWordByte(c) || c == '-' {
			return false
		}
		if c == '.' && end+1 < len(s) && isWordByte(s[end+1]) {
			return false
		}
	}
	return true
}

// shortName returns the first label of an FQDN when it is distinctive
// enough to stand for the host alone in text ("db1" of db1.corp.example.com):
// three or more characters mixing letters and digits. A plain word
// ("checkout", "www") is a service name or common, and is left alone.
func shortName(fqdn string) string {
	i := strings.IndexByte(fqdn, '.')
	if i < 3 || isIP(fqdn) {
		return ""
	}
	h := fqdn[:i]
	letter, digit := false, false
	for j := 0; j < len(h); j++ {
		c := h[j]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			letter = true
		case '0' <= c && c <= '9':
			digit = true
		case c == '-':
		default:
			return ""
		}
	}
	if !letter || !digit {
		return ""
	}
	return h
}

type span struct{ start, end int }

func overlapsAny(spans []span, start, end int) bool {
	for _, p := range spans {
		if start < p.end && p.start < end {
			return true
		}
	}
	return false
}

// protectedSpans finds opsdata's own output in s: placeholders and issued
// pseudonyms. Scrubbing them again would break idempotence.
func (a *Anonymizer) protectedSpans(s string) []span {
	var out []span
	for _, ph := range [...]string{RedactedIP, RedactedEmail, RedactedSecret} {
		for off := 0; ; {
			i := strings.Index(s[off:], ph)
			if i < 0 {
				break
			}
			out = append(out, span{off + i, off + i + len(ph)})
			off += i + len(ph)
		}
	}
	// A pseudonym is TYPE-<12 hex>; find the digest, then the longest
	// issued TYPE prefix before it.
	for off := 0; ; {
		i := strings.IndexByte(s[off:], '-')
		if i < 0 {
			break
		}
		dash := off + i
		off = dash + 1
		end := dash + 13
		if end > len(s) || !isLowerHex(s[dash+1:end]) {
			continue
		}
		start := dash
		for start > 0 && (isWordByte(s[start-1]) || s[start-1] == '.' || s[start-1] == ':') {
			start--
		}
		for ; start < dash; start++ {
			if a.isIssued(s[start:end]) {
				out = append(out, span{start, end})
				break
			}
		}
	}
	return out
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isWordByte: letters, digits and '_' (ASCII) or any non-ASCII byte.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c >= 0x80
}

func isLetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c >= 0x80
}

// extendAddr widens s[start:end] to the whole run of address characters
// around it (digits and dots; plus hex and ':' for IPv6), without a
// sentence's trailing dot.
func extendAddr(s string, start, end int) (int, int) {
	v6 := strings.IndexByte(s[start:end], ':') >= 0
	in := func(c byte) bool {
		return '0' <= c && c <= '9' || c == '.' || v6 && (isHexByte(c) || c == ':')
	}
	for start > 0 && in(s[start-1]) {
		start--
	}
	for end < len(s) && in(s[end]) {
		end++
	}
	for end > start && s[end-1] == '.' {
		end--
	}
	return start, end
}

// detector is one free-text rule. need is the set of pre-check keyword
// bits (see buildDetectors) that must all be present, bytes a set of which
// at least one byte must be present; both are cheap single passes, so most
// lines never reach a regexp.
type detector struct {
	name  string
	need  uint32
	bytes string  // the detector runs only on a text with one of these bytes
	set   byteSet // bytes as a set
	apply func(a *Anonymizer, s string, st *stats) string
}

// Pre-check keyword bits.
const (
	preSecretKey uint32 = 1 << iota
	preScheme
	preBearer
	preDomain
	preUser
)

var secretWords = []string{"token", "key", "secret", "password", "passwd", "pwd", "auth", "sig"}

var (
	// URL userinfo: scheme://user[:pass]@
	userinfoRe = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@?#]+@`)
	// key=value and "key":"value" for every secret word, with optional
	// prefixes such as db_password or X-Api-Key; "key: value" only for the
	// unambiguous words ("auth: failed" is not a secret). Group 1 is the
	// boundary byte RE2 cannot look behind; group 3 the value.
	secretKVRes = []*regexp.Regexp{
		regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_])((?:[A-Za-z0-9]+[_.-])*(?:access_token|api_key|apikey|token|key|secret|password|passwd|pwd|auth|sig|signature)(?:\s*=|"\s*:)\s*["']?)([^\s&"',;<>)\]}]+)`),
		regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_])((?:[A-Za-z0-9]+[_.-])*(?:access_token|api_key|apikey|token|secret|password|passwd)\s*:\s*["']?)([^\s&"',;<>)\]}]+)`),
	}
	bearerRe = regexp.MustCompile(`(?i)\b(bearer|basic)\s+([A-Za-z0-9._~+/=-]{8,})`)
	emailRe  = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}`)
	// Username forms; group 1 is NAME.
	userRes = []*regexp.Regexp{
		regexp.MustCompile(`(?i)"user(?:name)?"\s*:\s*"([^"<]+)"`),
		regexp.MustCompile(`(?i)(?:^|[^A-Za-z0-9_])(?:[A-Za-z0-9]+[_-])?user(?:name)?\s*=\s*["']?([^\s"',;&)<]+)`),
		regexp.MustCompile(`(?i)\buser(?:name)?:\s*["']?([^\s"',;&)<]+)`),
		regexp.MustCompile(`(?i)\buser(?:name)?\s+"([^"<]+)"`),
		regexp.MustCompile(`(?i)\buser(?:name)?\s+'([^'<]+)'`),
		regexp.MustCompile(`(?i)\bfor user\s+([^\s"',;&)<]+)`),
	}
	// userMayMatch[i] is a cheap condition every text a match of
	// userRes[i] occurs in meets (lower is the text lower-cased): most
	// lines that mention "user" use one form, so most regexps never run.
	userMayMatch = []func(lower string) bool{
		func(l string) bool { return strings.Contains(l, `"user`) },
		func(l string) bool { return strings.Contains(l, "=") },
		func(l string) bool { return userFollowedBy(l, func(c byte) bool { return c == ':' }) },
		func(l string) bool { return strings.Contains(l, `"`) && userFollowedBy(l, isSpaceRE) },
		func(l string) bool { return strings.Contains(l, `'`) && userFollowedBy(l, isSpaceRE) },
		func(l string) bool { return strings.Contains(l, "for user") },
	}
)

// userFollowedBy says whether "user" or "username" occurs in lower with a
// byte after it that next accepts.
func userFollowedBy(lower string, next func(byte) bool) bool {
	for from := 0; ; {
		i := strings.Index(lower[from:], "user")
		if i < 0 {
			return false
		}
		j := from + i + len("user")
		if j < len(lower) && next(lower[j]) {
			return true
		}
		if strings.HasPrefix(lower[j:], "name") && j+4 < len(lower) && next(lower[j+4]) {
			return true
		}
		from = j
	}
}

// isSpaceRE is RE2's \s: [\t\n\f\r ].
func isSpaceRE(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// userAssignForm is the index of the `user=NAME` form in userRes. Its
// regexp ((?:^|[^A-Za-z0-9_])(?:[A-Za-z0-9]+[_-])?user...) backtracks over
// the whole line; findUserAssignments finds the same matches by hand.
const userAssignForm = 1

// findUserAssignments returns the matches of userRes[userAssignForm] in s,
// in FindAllStringSubmatchIndex's shape (m[2]:m[3] is NAME). lower is
// asciiLower(s): the same bytes at the same offsets but A-Z folded
// (strings.ToLower can change the length: invalid UTF-8 becomes U+FFFD).
func findUserAssignments(s, lower string) [][]int {
	var out [][]int
	isWord := func(c byte) bool {
		return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	isAlnum := func(c byte) bool { return c != '_' && isWord(c) }
	isSpace := func(c byte) bool { return strings.IndexByte(" \t\n\r\f\v", c) >= 0 }
	stop := func(c byte) bool { return strings.IndexByte(" \t\n\r\f\v\"',;&)<", c) >= 0 }
	last := 0
	for from := 0; ; {
		k := strings.Index(lower[from:], "user")
		if k < 0 {
			return out
		}
		i := from + k
		from = i + 4
		// left context: start, a non-word byte, or "<alnum>+[_-]" after one
		if i > 0 {
			c := s[i-1]
			switch {
			case c == '-':
				// '-' is itself a non-word byte: "-user=" and "db-user=" both match
			case c == '_':
				j := i - 1
				for j > 0 && isAlnum(s[j-1]) {
					j--
				}
				if j == i-1 || (j > 0 && isWord(s[j-1])) {
					continue
				}
			case isWord(c):
				continue
			}
		}
		j := i + 4
		if strings.HasPrefix(lower[j:], "name") {
			j += 4
		}
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if j >= len(s) || s[j] != '=' {
			continue
		}
		j++
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if j < len(s) && (s[j] == '"' || s[j] == '\'') {
			j++
		}
		v := j
		for j < len(s) && !stop(s[j]) {
			j++
		}
		if j == v || i < last {
			continue
		}
		out = append(out, []int{i, j, v, j})
		last = j
		from = j
	}
}

// buildDetectors returns the detectors in the order they run and the
// keyword matcher of their pre-checks. Secrets go first: URL userinfo
// ("user:pass@host") would otherwise look like an email.
func buildDetectors(domains []string, r rules, gl *gitleaksSet) (ds []detector, pre *matcher, preBits []uint32, hosts *hostFinder) {
	var pats []string
	var bits []uint32
	for _, w := range append(append([]string{}, secretWords...), moreSecretWords...) {
		pats, bits = append(pats, w), append(bits, preSecretKey)
	}
	pats, bits = append(pats, "://"), append(bits, preScheme)
	pats, bits = append(pats, "bearer", "basic"), append(bits, preBearer, preBearer)
	pats, bits = append(pats, "user"), append(bits, preUser)
	pats, bits = append(pats, "/home/", "/users/", "\\users\\"), append(bits, preHome, preHome, preHome)
	if gl != nil {
		need := preGitleaks
		if len(gl.always) > 0 {
			need = 0
		}
		for _, k := range gl.keywords {
			pats, bits = append(pats, k), append(bits, preGitleaks)
		}
		ds = append(ds, detector{name: "gitleaks", need: need, apply: scrubGitleaks(gl)})
	}
	for _, td := range tokenDetectors {
		for _, k := range td.keywords {
			pats, bits = append(pats, k), append(bits, td.bit)
		}
		ds = append(ds, detector{name: td.name, need: td.bit, apply: redactToken(td.re, td.name)})
	}
	pats, bits = append(pats, "curl"), append(bits, preCurl)
	ds = append(ds,
		detector{name: "curl_user", need: preCurl, apply: scrubCurlUser},
		detector{name: "userinfo", need: preScheme, bytes: "@", apply: scrubUserinfo},
		detector{name: "secret", need: preSecretKey, bytes: "=:", apply: scrubSecretKV},
		detector{name: "secret_entropy", need: preSecretKey, apply: scrubSecretAny},
		detector{name: "bearer", need: preBearer, apply: scrubBearer},
		detector{name: "email", bytes: "@", apply: scrubEmails},
		detector{name: "home", need: preHome, apply: scrubHome},
	)
	var alts, folded []string
	for _, d := range domains {
		d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "."))
		pats, bits = append(pats, "."+d), append(bits, preDomain)
		alts = append(alts, regexp.QuoteMeta(d))
		folded = append(folded, foldString(d))
	}
	if len(alts) > 0 {
		sort.Sort(sort.Reverse(sort.StringSlice(alts))) // longer suffix first among shared prefixes
		re := regexp.MustCompile(`(?i)(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:` + strings.Join(alts, "|") + `)`)
		hf := newHostFinder(re, folded)
		hosts = hf
		ds = append(ds, detector{name: "host", need: preDomain, apply: func(a *Anonymizer, s string, st *stats) string {
			return scrubHosts(a, hf, s, st)
		}})
	}
	if r.fqdn {
		ds = append(ds,
			detector{name: "url_host", need: preScheme, apply: scrubURLHosts},
			detector{name: "fqdn", bytes: ".", apply: scrubFQDNs},
		)
	}
	ds = append(ds, detector{name: "mac", bytes: ":-", apply: scrubMACs})
	if r.uuids != spec.RuleKeep {
		ds = append(ds, detector{name: "uuid", bytes: "-", apply: scrubUUIDs(r.uuids)})
	}
	ds = append(ds,
		detector{name: "k8s", bytes: "-", apply: scrubK8sNames},
		detector{name: "tilde_user", bytes: "~", apply: scrubTildeUsers},
		detector{name: "ip", bytes: ".:", apply: scrubIPs},
		detector{name: "user", need: preUser, apply: scrubUsers},
	)
	// One pattern may serve several detectors (gitleaks' "akia" and the
	// AWS detector's): merge their bits, the matcher keeps one id.
	idx := map[string]int{}
	var up []string
	var ub []uint32
	for i, p := range pats {
		p = foldString(p)
		if j, ok := idx[p]; ok {
			ub[j] |= bits[i]
			continue
		}
		idx[p] = len(up)
		up, ub = append(up, p), append(ub, bits[i])
	}
	for i := range ds {
		ds[i].set = bytesOf(ds[i].bytes)
	}
	return ds, newMatcher(up), ub, hosts
}

// mask ORs the bits of every pattern occurring in text.
func (m *matcher) mask(text string, bits []uint32) uint32 {
	var out uint32
	s := int32(0)
	for i := 0; i < len(text); i++ {
		if s = m.next(s, fold(text[i])); s == 0 {
			continue
		}
		for o := m.output(s); o >= 0; o = m.states[o].dict {
			out |= bits[m.states[o].out]
		}
	}
	return out
}

// replaceSpans rebuilds s with each span replaced by repl(span text).
func replaceSpans(s string, spans []span, repl func(string) string) string {
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, p := range spans {
		b.WriteString(s[last:p.start])
		b.WriteString(repl(s[p.start:p.end]))
		last = p.end
	}
	b.WriteString(s[last:])
	return b.String()
}

func scrubUserinfo(a *Anonymizer, s string, st *stats) string {
	var spans []span
	for _, m := range userinfoRe.FindAllStringSubmatchIndex(s, -1) {
		if s[m[3]:m[1]-1] == RedactedSecret {
			continue
		}
		spans = append(spans, span{m[3], m[1] - 1})
	}
	return replaceSpans(s, spans, func(string) string { st.add("redact:secret"); return RedactedSecret })
}

func scrubSecretKV(a *Anonymizer, s string, st *stats) string {
	for _, re := range secretKVRes {
		var spans []span
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			if v := s[m[6]:m[7]]; a.isIssued(v) {
				continue
			}
			spans = append(spans, span{m[6], m[7]})
		}
		s = replaceSpans(s, spans, func(string) string { st.add("redact:secret"); return RedactedSecret })
	}
	return s
}

func scrubBearer(a *Anonymizer, s string, st *stats) string {
	var spans []span
	for _, m := range bearerRe.FindAllStringSubmatchIndex(s, -1) {
		spans = append(spans, span{m[4], m[5]})
	}
	return replaceSpans(s, spans, func(string) string { st.add("redact:secret"); return RedactedSecret })
}

func scrubEmails(a *Anonymizer, s string, st *stats) string {
	var spans []span
	for _, m := range emailRe.FindAllStringIndex(s, -1) {
		spans = append(spans, span{m[0], m[1]})
	}
	return replaceSpans(s, spans, func(raw string) string {
		a.learnRedacted(st, raw, RedactedEmail)
		st.add("redact:email")
		return RedactedEmail
	})
}

func scrubHosts(a *Anonymizer, hf *hostFinder, s string, st *stats) string {
	var spans []span
	for _, m := range hf.findAll(s) {
		// RE2 has no look-around: reject matches glued to a longer name,
		// unless the match is a host already learned. Such hosts are not in
		// the text matcher (learnFound), so this detector must find every
		// occurrence: "_worker-2.prod.acme.internal" too.
		glued := m[0] > 0 && (isWordByte(s[m[0]-1]) || s[m[0]-1] == '-' || s[m[0]-1] == '.') ||
			m[1] < len(s) && (isWordByte(s[m[1]]) || s[m[1]] == '-')
		if glued && !a.isLearned(TypeHost, s[m[0]:m[1]]) {
			continue
		}
		spans = append(spans, span{m[0], m[1]})
	}
	return replaceSpans(s, spans, func(raw string) string {
		st.add("pseudonymize:" + TypeHost)
		return a.learnFound(st, TypeHost, raw)
	})
}

// asciiLower folds A-Z only, so every byte keeps its offset.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = fold(c)
	}
	return string(b)
}

func scrubUsers(a *Anonymizer, s string, st *stats) string {
	lower := strings.ToLower(s)
	for i, re := range userRes {
		if !userMayMatch[i](lower) {
			continue
		}
		var spans []span
		var ms [][]int
		if i == userAssignForm {
			ms = findUserAssignments(s, asciiLower(s))
		} else {
			ms = re.FindAllStringSubmatchIndex(s, -1)
		}
		for _, m := range ms {
			start, end := m[2], m[3]
			for end > start && strings.IndexByte(".:!?", s[end-1]) >= 0 {
				end--
			}
			name := s[start:end]
			if strings.TrimSpace(name) == "" || name == "-" || strings.HasPrefix(name, "<") || a.isIssued(name) {
				continue
			}
			spans = append(spans, span{start, end})
		}
		s = replaceSpans(s, spans, func(raw string) string {
			st.add("pseudonymize:" + TypeUser)
			return a.learn(st, TypeUser, raw)
		})
	}
	return s
}

// scrubIPs finds IP addresses by hand, validated by net/netip: first IPv6
// candidates (runs of hex digits, ':' and '.' with at least two colons),
// then IPv4 candidates (runs of digits and dots). A port stays (useful, not
// identifying); brackets around IPv6 go with the address. Runs glued to a
// word (v1.2.3, 12.5ms) and non-addresses (12:30:45, 1.2.3) are left alone.
func scrubIPs(a *Anonymizer, s string, st *stats) string {
	// Most texts hold an address or two: room for them on the stack.
	var spanBuf [4]span
	var replBuf [4]string
	spans, repls := spanBuf[:0], replBuf[:0]
	if strings.Count(s, ":") >= 2 {
		for i := 0; i < len(s); {
			if !isHexByte(s[i]) && s[i] != ':' {
				i++
				continue
			}
			j := i
			for j < len(s) && (isHexByte(s[j]) || s[j] == ':' || s[j] == '.') {
				j++
			}
			start, end := i, j
			i = j
			if s[start] == ':' && !(start+1 < end && s[start+1] == ':') {
				start++ // "ip:2001:db8::1": a single leading ':' separates
			}
			for end > start && s[end-1] == '.' {
				end--
			}
			cand := s[start:end]
			if strings.Count(cand, ":") < 2 || start > 0 && isLetter(s[start-1]) || end == j && j < len(s) && isLetter(s[j]) {
				continue
			}
			if _, err := netip.ParseAddr(cand); err != nil || !strings.ContainsAny(cand, "0123456789") {
				continue // "12:30:45", MACs; "dead::beef" is a word
			}
			if a.issuedAddr(s, start, end) {
				continue
			}
			repl, rule := a.textIP(st, cand)
			st.add(rule)
			as, ae := start, end
			if repl == RedactedIP && as > 0 && s[as-1] == '[' && ae < len(s) && s[ae] == ']' {
				as, ae = as-1, ae+1
			}
			spans = append(spans, span{as, ae})
			repls = append(repls, repl)
		}
	}
	nv6 := len(spans)
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
			j++
		}
		start, end := i, j
		i = j
		for end > start && s[end-1] == '.' {
			end--
		}
		if start > 0 && (isWordByte(s[start-1]) || s[start-1] == '.') || end == j && j < len(s) && isWordByte(s[j]) {
			continue
		}
		if overlapsAny(spans[:nv6], start, end) {
			continue
		}
		cand := s[start:end]
		if strings.Count(cand, ".") != 3 {
			continue
		}
		if ip, err := netip.ParseAddr(cand); err != nil || !ip.Is4() {
			continue
		}
		if a.issuedAddr(s, start, end) {
			continue
		}
		repl, rule := a.textIP(st, cand)
		st.add(rule)
		spans = append(spans, span{start, end})
		repls = append(repls, repl)
	}
	if len(spans) == 0 {
		return s
	}
	idx := make([]int, len(spans))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int { return spans[i].start - spans[j].start })
	var b strings.Builder
	b.Grow(len(s) + 8)
	last := 0
	for _, k := range idx {
		b.WriteString(s[last:spans[k].start])
		b.WriteString(repls[k])
		last = spans[k].end
	}
	b.WriteString(s[last:])
	return b.String()
}
