package anonymize

import (
	"math"
	"regexp"
	"strings"

	"github.com/opsdata/opsdata/spec"
)

// Free-text detectors added for the publishable policy: secrets by shape
// (always redacted, never pseudonymized, and learned so the leakage scan
// finds them anywhere else), MAC addresses, UUIDs (when configured),
// hostnames by shape and inside URLs, and user names in home paths.

// More pre-check keyword bits (see text.go).
const (
	prePrivKey uint32 = 1 << (iota + 8)
	preAWS
	preGitHub
	preGitLab
	preSlack
	preJWT
	preGoogle
	preStripe
	preHome
	preAIKey
	preCurl
	preGitleaks uint32 = 1 << 24 // any keyword of gitleaks' rules (secrets.go)
)

// tokenDetector is a secret recognisable by its own shape.
type tokenDetector struct {
	name     string
	keywords []string
	bit      uint32
	re       *regexp.Regexp
}

var tokenDetectors = []tokenDetector{
	// A PEM private key block, also unterminated (to the end of the text)
	// and across lines (ticket bodies).
	{"private_key", []string{"private key"}, prePrivKey,
		regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)`)},
	{"aws_access_key", []string{"akia", "asia", "abia", "acca", "agpa", "aida", "aipa", "anpa", "anva", "aroa", "apka"}, preAWS,
		regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b`)},
	{"github_token", []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}, preGitHub,
		regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,251}|github_pat_[A-Za-z0-9_]{22,244})\b`)},
	{"gitlab_token", []string{"glpat-", "gldt-", "glrt-"}, preGitLab,
		regexp.MustCompile(`\bgl(?:pat|dt|rt)-[A-Za-z0-9_-]{20,}`)},
	{"slack_token", []string{"xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-", "hooks.slack.com"}, preSlack,
		regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/services/[A-Za-z0-9/_-]+`)},
	{"jwt", []string{"eyj"}, preJWT,
		regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)},
	// No \b at the end: a key may end in '-', where \b cannot match.
	{"google_api_key", []string{"aiza"}, preGoogle, regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35,}`)},
	// Provider API keys by prefix, looser than gitleaks' exact lengths so a
	// truncated or reformatted key in a log line is still redacted.
	{"openai_key", []string{"sk-proj-", "sk-svcacct-", "sk-admin-"}, preAIKey, regexp.MustCompile(`\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}`)},
	{"anthropic_key", []string{"sk-ant-"}, preAIKey, regexp.MustCompile(`\bsk-ant-[a-z]{2,6}[0-9]{2}-[A-Za-z0-9_-]{20,}`)},
	{"huggingface_token", []string{"hf_"}, preAIKey, regexp.MustCompile(`\bhf_[A-Za-z0-9]{30,}`)},
	{"stripe_key", []string{"k_live_", "k_test_"}, preStripe, regexp.MustCompile(`\b[rs]k_(?:live|test)_[0-9A-Za-z]{20,}\b`)},
}

var (
	// Any key name containing a secret word (camelCase too: SecretAccessKey,
	// clientSecret, dbPassword) followed by = or : and a value; the value is
	// redacted when it looks random (entropy, see highEntropy). Group 2 is
	// the value.
	secretAnyRe = regexp.MustCompile(`(?i)[A-Za-z0-9_.-]*(?:secret|token|passw(?:or)?d|pwd|api_?key|access_?key|private_?key|credential)s?[A-Za-z0-9_.-]*(["']?\s*[:=]\s*["']?)([^\s"',;&<>)\]}]{8,})`)
	// "password VALUE" in prose: redacted when the value holds a digit or
	// a symbol ("password policy updated" is prose).
	passwordWordRe = regexp.MustCompile(`(?i)\b(?:password|passwd|passphrase)\s+["']?([^\s"',;]{6,})`)
	// Home directories: the next path element is a user name.
	homeRe = regexp.MustCompile(`(?i)(?:/home/|/Users/|\\Users\\|/var/home/)([A-Za-z0-9._-]+)`)
	// URL host: scheme://[userinfo@]host
	urlHostRe = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://(?:[^/\s@]*@)?([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)`)
)

// tlds ends a hostname found by shape (three or more labels).
var tlds = map[string]bool{
	"com": true, "net": true, "org": true, "io": true, "internal": true, "local": true, "lan": true,
	"corp": true, "intranet": true, "cloud": true, "dev": true, "svc": true, "localdomain": true,
	"home": true, "priv": true, "example": true, "test": true, "de": true, "uk": true, "eu": true,
	"us": true, "info": true, "biz": true, "app": true, "ai": true, "co": true, "fr": true, "nl": true,
}

// publicDomains are names everybody knows (registries, standards bodies):
// not identifying, left as they are with their subdomains.
var publicDomains = []string{"kubernetes.io", "k8s.io", "docker.io", "docker.com", "gcr.io", "quay.io", "ghcr.io",
	"github.com", "gitlab.com", "googleapis.com", "w3.org", "apache.org", "golang.org", "go.dev", "maven.org",
	"pypi.org", "npmjs.org", "ubuntu.com", "debian.org", "prometheus.io", "grafana.com", "example.com", "example.org"}

// Secret words whose appearance before '=' or ':' triggers secretAnyRe.
var moreSecretWords = []string{"passphrase", "credential", "access_key", "accesskey", "privatekey", "private_key"}

// curlUserRe finds curl's -u/--user USER:PASSWORD; group 1 is the password
// (any bytes up to a space or quote: P@ss!w0rd is one).
var curlUserRe = regexp.MustCompile(`(?i)\bcurl\b[^\n]*?\s(?:-u|--user)(?:=|\s+)['"]?[^\s'":]*:([^\s'"]+)`)

func scrubCurlUser(a *Anonymizer, s string, st *stats) string {
	var spans []span
	for _, m := range curlUserRe.FindAllStringSubmatchIndex(s, -1) {
		if v := s[m[2]:m[3]]; v != RedactedSecret && !a.isIssued(v) {
			spans = append(spans, span{m[2], m[3]})
		}
	}
	return replaceSpans(s, spans, func(raw string) string {
		a.learnRedacted(st, raw, RedactedSecret)
		st.add("redact:secret:curl_user")
		return RedactedSecret
	})
}

func redactToken(re *regexp.Regexp, name string) func(a *Anonymizer, s string, st *stats) string {
	return func(a *Anonymizer, s string, st *stats) string {
		var spans []span
		for _, m := range re.FindAllStringIndex(s, -1) {
			spans = append(spans, span{m[0], m[1]})
		}
		return replaceSpans(s, spans, func(raw string) string {
			a.learnRedacted(st, raw, RedactedSecret)
			st.add("redact:secret:" + name)
			return RedactedSecret
		})
	}
}

// highEntropy says whether v looks random: 8+ bytes, at least 3 bits of
// Shannon entropy per byte, and more than one class of characters.
func highEntropy(v string) bool {
	if len(v) < 8 {
		return false
	}
	var counts [256]int
	classes := 0
	var lower, upper, digit, other bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		counts[c]++
		switch {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		default:
			other = true
		}
	}
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			classes++
		}
	}
	h := 0.0
	n := float64(len(v))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h >= 3.0 && classes >= 2
}

func scrubSecretAny(a *Anonymizer, s string, st *stats) string {
	var spans []span
	for _, m := range secretAnyRe.FindAllStringSubmatchIndex(s, -1) {
		v := s[m[4]:m[5]]
		if strings.Contains(v, RedactedSecret) || a.isIssued(v) || !highEntropy(v) {
			continue
		}
		spans = append(spans, span{m[4], m[5]})
	}
	s = replaceSpans(s, spans, func(raw string) string {
		a.learnRedacted(st, raw, RedactedSecret)
		st.add("redact:secret:assignment")
		return RedactedSecret
	})
	spans = spans[:0]
	for _, m := range passwordWordRe.FindAllStringSubmatchIndex(s, -1) {
		v := s[m[2]:m[3]]
		if strings.Contains(v, RedactedSecret) || a.isIssued(v) || !strings.ContainsAny(v, "0123456789!#$%&*+/=?@^_~-") {
			continue
		}
		spans = append(spans, span{m[2], m[3]})
	}
	return replaceSpans(s, spans, func(raw string) string {
		a.learnRedacted(st, raw, RedactedSecret)
		st.add("redact:secret:assignment")
		return RedactedSecret
	})
}

func scrubHome(a *Anonymizer, s string, st *stats) string {
	var spans []span
	for _, m := range homeRe.FindAllStringSubmatchIndex(s, -1) {
		name := s[m[2]:m[3]]
		switch strings.ToLower(name) {
		case "shared", "public", "default", "all users", "runner":
			continue
		}
		if a.isIssued(name) || strings.HasPrefix(name, "user-") {
			continue
		}
		spans = append(spans, span{m[2], m[3]})
	}
	return replaceSpans(s, spans, func(raw string) string {
		st.add("pseudonymize:" + TypeUser)
		return a.learn(st, TypeUser, raw)
	})
}

func isPublicDomain(h string) bool {
	h = strings.ToLower(h)
	for _, d := range publicDomains {
		if h == d || strings.HasSuffix(h, "."+d) {
			return true
		}
	}
	return false
}

func allDigitsDots(h string) bool {
	for i := 0; i < len(h); i++ {
		if !(h[i] >= '0' && h[i] <= '9' || h[i] == '.') {
			return false
		}
	}
	return true
}

func scrubURLHosts(a *Anonymizer, s string, st *stats) string {
	var spans []span
	for _, m := range urlHostRe.FindAllStringSubmatchIndex(s, -1) {
		h := s[m[2]:m[3]]
		if allDigitsDots(h) || isPublicDomain(h) || strings.EqualFold(h, "localhost") {
			continue
		}
		spans = append(spans, span{m[2], m[3]})
	}
	return replaceSpans(s, spans, func(raw string) string {
		st.add("pseudonymize:" + TypeHost)
		return a.learn(st, TypeHost, raw)
	})
}

func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// scrubFQDNs pseudonymizes names of three or more labels ending in a known
// TLD, by hand (one pass): reverse-DNS names (com.acme.Foo, Java packages)
// and public domains are left alone.
func scrubFQDNs(a *Anonymizer, s string, st *stats) string {
	var spans []span
	for i := 0; i < len(s); {
		if !isHostByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isHostByte(s[j]) {
			j++
		}
		start, end := i, j
		i = j
		for end > start && (s[end-1] == '.' || s[end-1] == '-') {
			end--
		}
		for start < end && (s[start] == '.' || s[start] == '-') {
			start++
		}
		if start > 0 && (s[start-1] == '_' || s[start-1] >= 0x80 || s[start-1] == '@') || j < len(s) && (s[j] == '_' || s[j] >= 0x80 || s[j] == '@') {
			continue
		}
		h := s[start:end]
		if strings.Count(h, ".") < 2 || strings.Contains(h, "..") {
			continue
		}
		labels := strings.Split(h, ".")
		last := strings.ToLower(labels[len(labels)-1])
		if !tlds[last] || tlds[strings.ToLower(labels[0])] || isPublicDomain(h) {
			continue
		}
		ok := true
		for _, l := range labels {
			if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		spans = append(spans, span{start, end})
	}
	return replaceSpans(s, spans, func(raw string) string {
		st.add("pseudonymize:" + TypeHost)
		return a.learn(st, TypeHost, raw)
	})
}

// findMACs returns the spans of MAC addresses (six hex pairs separated by
// one consistent ':' or '-'), not glued to other address characters.
func findMACs(s string) []span {
	var out []span
	for i := 0; i+17 <= len(s); i++ {
		sep := s[i+2]
		if sep != ':' && sep != '-' {
			continue
		}
		ok := true
		for k := 0; k < 6 && ok; k++ {
			p := i + 3*k
			ok = isHexByte(s[p]) && isHexByte(s[p+1]) && (k == 5 || s[p+2] == sep)
		}
		if !ok {
			continue
		}
		if i > 0 && (isHexByte(s[i-1]) || s[i-1] == sep || isWordByte(s[i-1])) || i+17 < len(s) && (isHexByte(s[i+17]) || s[i+17] == sep || isWordByte(s[i+17])) {
			continue
		}
		out = append(out, span{i, i + 17})
		i += 16
	}
	return out
}

func scrubMACs(a *Anonymizer, s string, st *stats) string {
	return replaceSpans(s, findMACs(s), func(raw string) string {
		st.add("pseudonymize:" + TypeMAC)
		return a.learn(st, TypeMAC, raw)
	})
}

// findUUIDs returns the spans of 8-4-4-4-12 hex UUIDs.
func findUUIDs(s string) []span {
	var out []span
	for i := 0; i+36 <= len(s); i++ {
		if s[i+8] != '-' {
			continue
		}
		ok := true
		for k := 0; k < 36 && ok; k++ {
			c := s[i+k]
			if k == 8 || k == 13 || k == 18 || k == 23 {
				ok = c == '-'
			} else {
				ok = isHexByte(c)
			}
		}
		if !ok || i > 0 && (isWordByte(s[i-1]) || s[i-1] == '-') || i+36 < len(s) && (isWordByte(s[i+36]) || s[i+36] == '-') {
			continue
		}
		out = append(out, span{i, i + 36})
		i += 35
	}
	return out
}

func scrubUUIDs(mode string) func(a *Anonymizer, s string, st *stats) string {
	return func(a *Anonymizer, s string, st *stats) string {
		return replaceSpans(s, findUUIDs(s), func(raw string) string {
			if mode == spec.RuleRedact {
				a.learnRedacted(st, raw, RedactedSecret)
				st.add("redact:uuid")
				return RedactedSecret
			}
			st.add("pseudonymize:" + TypeUUID)
			return a.learn(st, TypeUUID, raw)
		})
	}
}
