package logtemplates

import (
	"fmt"
	"regexp"
	"strings"
)

// Wildcard is the template token for a variable, as in Drain and the
// public log-parsing benchmarks (loghub).
const Wildcard = "<*>"

// Mask kinds, the names used in the spec's templates.masks list.
const (
	MaskIP       = "ip"       // IPv4 and IPv6 addresses, with an optional :port or /prefix
	MaskUUID     = "uuid"     // 8-4-4-4-12 hex
	MaskNumber   = "number"   // integers, decimals, percentages, signed, exponents
	MaskHex      = "hex"      // 0x1f, and hex strings of 8+ characters with a digit
	MaskPath     = "path"     // /a/b, ./a, URLs (scheme://...)
	MaskDuration = "duration" // 30s, 12.5ms, 1h2m3s
	MaskSize     = "size"     // 10MB, 4KiB, 512b
	MaskNumeric  = "numeric"  // digit-and-separator runs: dates, times, versions (2026-01-05, 12:00:01.5, 1.2.3)
	MaskHost     = "host"     // fully qualified host names ending in a common TLD or internal suffix (db-1.prod.acme.internal)
	MaskID       = "id"       // a word, _ or -, then a digit-heavy id: blk_-160899, ORD-000123, req-3810a0b...
)

// AllMasks lists every built-in mask in the order they are tried.
var AllMasks = []string{MaskUUID, MaskIP, MaskPath, MaskHex, MaskNumber, MaskDuration, MaskSize, MaskNumeric, MaskHost, MaskID}

// Masker replaces variable parts of a message with Wildcard before mining.
// Masking works token by token (tokens split at white space): brackets,
// quotes and trailing punctuation around a token are kept, and in
// key=value tokens only the value is masked. Extra user regexps run over
// the whole message first (slower; use for formats the built-ins miss).
type Masker struct {
	on     [10]bool
	extra  []*regexp.Regexp
	quoted bool // key="a b" is one token (the miner's default, not Classic)
}

// NewMasker enables the named built-in masks (nil: all) and compiles the
// extra regexps; every match of one is replaced by Wildcard.
func NewMasker(masks []string, extra []string) (*Masker, error) {
	m := &Masker{}
	if masks == nil {
		masks = AllMasks
	}
	for _, name := range masks {
		i := indexOf(AllMasks, name)
		if i < 0 {
			return nil, fmt.Errorf("mask %q is not known (use %s)", name, strings.Join(AllMasks, ", "))
		}
		m.on[i] = true
	}
	for _, e := range extra {
		re, err := regexp.Compile(e)
		if err != nil {
			return nil, fmt.Errorf("mask regexp %q: %w", e, err)
		}
		m.extra = append(m.extra, re)
	}
	return m, nil
}

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}

func (m *Masker) enabled(kind string) bool { return m.on[indexOf(AllMasks, kind)] }

// Tokens masks msg and appends its tokens to dst.
func (m *Masker) Tokens(dst []string, msg string) []string {
	dst, _ = m.tokens(dst, nil, msg, false)
	return dst
}

// tokens masks msg and appends its tokens to dst and, when withRaw, to raw
// the token before masking where only constant-like kinds (numbers,
// durations, sizes) were masked in it, else "".
func (m *Masker) tokens(dst, raw []string, msg string, withRaw bool) ([]string, []string) {
	for _, re := range m.extra {
		msg = re.ReplaceAllLiteralString(msg, Wildcard)
	}
	i := 0
	for i < len(msg) {
		for i < len(msg) && isSpace(msg[i]) {
			i++
		}
		j, q, hasVar := tokenScan(msg, i, m.quoted)
		if j > i {
			tok, soft := msg[i:j], false
			switch {
			case q > 0:
				tok, soft = m.quotedToken(msg[i:j], q-i)
			case hasVar:
				tok, soft = m.token(msg[i:j])
			}
			dst = append(dst, tok)
			if withRaw {
				r := ""
				if soft {
					r = msg[i:j]
				}
				raw = append(raw, r)
			}
		}
		i = j
	}
	return dst, raw
}

// tokenEnd returns the end of the token starting at i and, when quoted is
// set and the token is key="...", the index of its opening quote (else 0):
// such a value is one token however many spaces it holds, so a logfmt
// line has one token per pair and a fixed length per statement.
func tokenEnd(s string, i int, quoted bool) (end, quote int) {
	end, quote, _ = tokenScan(s, i, quoted)
	return end, quote
}

// tokenScan is tokenEnd that also reports whether the token holds a byte
// a variable needs (a digit, '/' or '.').
func tokenScan(s string, i int, quoted bool) (end, quote int, hasVar bool) {
	j := i
	eq := -1
	var seen uint8
	for j < len(s) {
		c := classes[s[j]]
		if c&clsSpace != 0 {
			break
		}
		if c&clsEq != 0 && eq < 0 {
			eq = j
		}
		seen |= c
		j++
	}
	hasVar = seen&clsVar != 0
	if !quoted || eq <= i || eq+1 >= len(s) || s[eq+1] != '"' {
		return j, 0, hasVar
	}
	for k := i; k < eq; k++ {
		if c := s[k]; !isAlpha(c) && !isDigit(c) && c != '_' && c != '.' && c != '-' {
			return j, 0, hasVar
		}
	}
	for e := eq + 2; e < len(s); e++ {
		if s[e] == '\\' {
			e++
			continue
		}
		if s[e] == '"' {
			for e++; e < len(s) && !isSpace(s[e]); e++ {
			}
			return e, eq + 1, true
		}
	}
	return j, 0, hasVar // no closing quote: an ordinary token
}

// splitTokens splits a template text (already masked) into its tokens.
func splitTokens(dst []string, s string, quoted bool) []string {
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		j, _ := tokenEnd(s, i, quoted)
		if j > i {
			dst = append(dst, s[i:j])
		}
		i = j
	}
	return dst
}

// quotedToken masks the words of a key="..." token's value one by one;
// soft as for token, for all masked words.
func (m *Masker) quotedToken(t string, q int) (string, bool) {
	end := strings.LastIndexByte(t, '"')
	inner := t[q+1 : end]
	var b strings.Builder
	b.WriteString(t[:q+1])
	w := 0
	masked, soft := false, true
	for w < len(inner) {
		for w < len(inner) && isSpace(inner[w]) {
			b.WriteByte(inner[w])
			w++
		}
		e := w
		for e < len(inner) && !isSpace(inner[e]) {
			e++
		}
		if e > w {
			tok, sf := m.token(inner[w:e])
			if tok != inner[w:e] {
				masked, soft = true, soft && sf
			}
			b.WriteString(tok)
		}
		w = e
	}
	b.WriteString(t[end:])
	return b.String(), masked && soft
}

// Byte classes of the tokenizer's one scan per token (a lookup table: the
// hottest loop).
const (
	clsSpace = 1 << iota
	clsEq    // '='
	clsVar   // a digit, '/' or '.': a token without one is no variable
	clsOpen  // a bracket or quote a token may start with
	clsClose // a bracket, quote or punctuation a token may end with
)

var classes = func() (t [256]uint8) {
	for _, c := range " \t\n\r\v\f" {
		t[c] = clsSpace
	}
	t['='] = clsEq
	for _, c := range "0123456789/." {
		t[c] = clsVar
	}
	for _, c := range `([{<"'` {
		t[c] |= clsOpen
	}
	for _, c := range `)]}>"',;.:!?` {
		t[c] |= clsClose
	}
	return t
}()

func isSpace(c byte) bool { return classes[c]&clsSpace != 0 }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// token masks one white-space-free token.
// soft reports that only a number, duration or size was masked: a kind
// whose value may be a constant of the statement (limit 100, ttl 30s).
func (m *Masker) token(t string) (string, bool) {
	// Cheap exit: a variable needs a digit, a slash or a dot.
	has := false
	for k := 0; k < len(t); k++ {
		if isDigit(t[k]) || t[k] == '/' || t[k] == '.' {
			has = true
			break
		}
	}
	if !has {
		return t, false
	}
	// Leading brackets and quotes.
	// An escaped quote (\" inside a quoted logfmt value) is a quote.
	a := 0
	for a < len(t) && (classes[t[a]]&clsOpen != 0 || t[a] == '\\' && a+1 < len(t) && t[a+1] == '"') {
		a++
	}
	b := len(t)
	for b > a && (classes[t[b-1]]&clsClose != 0 || t[b-1] == '\\' && b < len(t) && t[b] == '"') {
		b--
	}
	core := t[a:b]
	if core == "" {
		return t, false
	}
	// A key=value pair keeps its key (externalURL=http://... is not a path).
	if k := m.kind(core); k >= 0 && keyLen(core) == 0 {
		if a == 0 && b == len(t) {
			return Wildcard, softKind(k) // the common case, no allocation
		}
		return t[:a] + Wildcard + t[b:], softKind(k)
	}
	// key=value or key:value: mask the value alone.
	if k := indexEqColon(core); k > 0 && k < len(core)-1 && isAlpha(core[0]) {
		v := core[k+1:]
		va := 0
		for va < len(v) && classes[v[va]]&clsOpen != 0 {
			va++
		}
		if va < len(v) {
			if kd := m.kind(v[va:]); kd >= 0 {
				// A key's value is a variable however constant it looks.
				return t[:a] + core[:k+1] + v[:va] + Wildcard + t[b:], false
			}
		}
	}
	return t, false
}

// variable reports whether s (stripped of surrounding punctuation) is a
// value of an enabled kind.
func (m *Masker) variable(s string) bool { return m.kind(s) >= 0 }

// kind is the index in AllMasks of the first enabled kind s is, or -1.
func (m *Masker) kind(s string) int {
	switch {
	case m.on[0] && isUUID(s):
		return 0
	case m.on[1] && isIP(s):
		return 1
	case m.on[2] && isPath(s):
		return 2
	case m.on[3] && isHexValue(s):
		return 3
	case m.on[4] && isNumber(s):
		return 4
	case m.on[5] && isUnitNumber(s, durationUnits):
		return 5
	case m.on[6] && isUnitNumber(s, sizeUnits):
		return 6
	case m.on[7] && isNumericRun(s):
		return 7
	case m.on[8] && isHostName(s):
		return 8
	case m.on[9] && isPrefixedID(s):
		return 9
	}
	return -1
}

// softKind: numbers, durations and sizes (not addresses, ids, paths,
// dates or names, which are never shown raw).
func softKind(k int) bool { return k == 4 || k == 5 || k == 6 }

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// isIP accepts a.b.c.d, a.b.c.d:port, a.b.c.d/len and IPv6 forms
// (including [v6]:port after bracket stripping, and v6 with a zone-less
// embedded IPv4).
func isIP(s string) bool {
	if s != "" && isDigit(s[0]) && isIPv4Port(s) {
		return true
	}
	if strings.IndexByte(s, ':') < 0 {
		return false // IPv6 has colons
	}
	// IPv6: hex groups and colons, at least two colons.
	colons, hex := 0, 0
	end := len(s)
	if k := strings.IndexByte(s, '/'); k > 0 {
		end = k
	}
	if k := strings.Index(s, "]:"); k > 0 {
		end = k
	}
	for i := 0; i < end; i++ {
		c := s[i]
		switch {
		case c == ':':
			colons++
		case isHex(c):
			hex++
		case c == '.':
		default:
			return false
		}
	}
	if colons < 2 || hex == 0 {
		return false
	}
	// "12:00:01" is a time, not an address: require a hex letter or "::".
	return strings.Contains(s[:end], "::") || strings.IndexFunc(s[:end], func(r rune) bool { return r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' }) >= 0
}

func isIPv4Port(s string) bool {
	parts := 0
	i := 0
	for parts < 4 {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i || j-i > 3 {
			return false
		}
		parts++
		i = j
		if parts < 4 {
			if i >= len(s) || s[i] != '.' {
				return false
			}
			i++
		}
	}
	if i == len(s) {
		return true
	}
	if s[i] != ':' && s[i] != '/' {
		return false
	}
	i++
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// indexEqColon is strings.IndexAny(s, "=:") without building a set per call.
func indexEqColon(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' || s[i] == ':' {
			return i
		}
	}
	return -1
}

func isPath(s string) bool {
	if strings.Contains(s, "://") {
		return true
	}
	if s == "/" || len(s) > 1 && s[0] == '/' && s[1] != '/' {
		return true
	}
	return strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~/")
}

func isHexValue(s string) bool {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		for i := 2; i < len(s); i++ {
			if !isHex(s[i]) {
				return false
			}
		}
		return true
	}
	if len(s) < 8 {
		return false
	}
	digit := false
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
		digit = digit || isDigit(s[i])
	}
	return digit
}

// numberEnd returns the end of a leading number in s (sign, digits,
// fraction, exponent) or 0 if s does not start with one.
func numberEnd(s string) int {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	d := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '.' && i+1 < len(s) && isDigit(s[i+1]) {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i == d {
		return 0
	}
	if i+1 < len(s) && (s[i] == 'e' || s[i] == 'E') {
		k := i + 1
		if s[k] == '-' || s[k] == '+' {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			i = k
		}
	}
	return i
}

func isNumber(s string) bool {
	n := numberEnd(s)
	if n == 0 {
		return false
	}
	return n == len(s) || n == len(s)-1 && s[n] == '%'
}

var (
	durationUnits = []string{"ns", "us", "µs", "ms", "s", "m", "h", "d", "sec", "secs", "min", "mins", "hr", "hrs", "seconds", "minutes", "hours", "days"}
	sizeUnits     = []string{"b", "kb", "mb", "gb", "tb", "pb", "kib", "mib", "gib", "tib", "k", "m", "g", "t", "bytes", "kbps", "mbps", "gbps", "b/s"}
)

// isUnitNumber accepts one or more number+unit pairs ("1h2m3.5s", "10MB").
func isUnitNumber(s string, units []string) bool {
	if s == "" {
		return false
	}
	for s != "" {
		n := numberEnd(s)
		if n == 0 {
			return false
		}
		s = s[n:]
		u := 0
		for u < len(s) && !isDigit(s[u]) && s[u] != '.' && s[u] != '-' && s[u] != '+' {
			u++
		}
		if u == 0 || !hasFold(units, s[:u]) {
			return false
		}
		s = s[u:]
	}
	return true
}

func hasFold(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// isNumericRun accepts digits joined by separators - : . , _ / + and a
// T or Z inside timestamps: dates, clock times, versions, ranges.
func isNumericRun(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			digits++
		case strings.IndexByte("-:.,_/+", c) >= 0:
		case (c == 'T' || c == 'Z') && i > 0 && isDigit(s[i-1]):
		default:
			return false
		}
	}
	return digits > 0 && digits*2 >= len(s)
}

// isPrefixedID accepts letters, '_' or '-', then a run of letters, digits,
// '_' and '-' holding at least 4 digits that make at least half of it:
// blk_-1608999687919862906, ORD-000123, task_200811092030_0001_m_000123,
// but not utf-8, x86_64 or java-17-openjdk-amd64.
func isPrefixedID(s string) bool {
	i := 0
	for i < len(s) && isAlpha(s[i]) {
		i++
	}
	if i == 0 || i+1 >= len(s) || s[i] != '_' && s[i] != '-' {
		return false
	}
	rest := s[i+1:]
	digits := 0
	for k := 0; k < len(rest); k++ {
		c := rest[k]
		switch {
		case isDigit(c):
			digits++
		case isAlpha(c) || c == '_' || c == '-':
		default:
			return false
		}
	}
	return digits >= 4 && digits*2 >= len(rest)
}

// hostSuffixes are the last labels that make a dotted name a host name and
// not, say, a Java class (java.io.IOException stays a constant).
var hostSuffixes = map[string]bool{
	"com": true, "net": true, "org": true, "io": true, "edu": true, "gov": true, "mil": true, "int": true,
	"internal": true, "local": true, "localdomain": true, "lan": true, "corp": true, "home": true, "intra": true,
	"cloud": true, "dev": true, "svc": true, "cluster": true, "de": true, "uk": true, "fr": true, "cn": true,
	"jp": true, "ru": true, "eu": true, "us": true, "ca": true, "au": true, "nl": true, "ch": true, "in": true,
}

// isHostName accepts lower-case DNS names with at least two labels whose
// last label is in hostSuffixes.
func isHostName(s string) bool {
	if strings.Count(s, ".") < 1 {
		return false
	}
	last := s[strings.LastIndexByte(s, '.')+1:]
	if !hostSuffixes[strings.ToLower(last)] {
		return false
	}
	prev := byte('.')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', isDigit(c), c == '-', c == '_':
		case c == '.':
			if prev == '.' {
				return false
			}
		default:
			return false
		}
		prev = c
	}
	return prev != '.'
}
