package anonymize

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// Secrets by shape come from gitleaks' default rule set (the community's
// list, kept up to date upstream; decision 0025): each rule's regex,
// secret group, entropy threshold, keywords and allowlists, applied the way
// gitleaks' detector applies them. Its keyword prefilter is one
// Aho-Corasick pass per line (keywordless rules run on every line), so a
// line without any of ~400 keywords costs no regexp at all.
//
// Two deviations, both for log text rather than source files: gitleaks'
// end-of-secret boundary (`(?:[\x60'"\s;]|\\[nr]|$)`) also accepts the
// delimiters logs put after a value (, ) ] } > & |), and rules that need a
// file path are left out (a log line has none).

// gitleaksSkip are rules left to opsdata's own detectors. generic-api-key
// (any "key|token|auth|access|api...=value" with entropy > 3.5) is the
// shape secretKV and secretAny already cover for log text; its keywords
// occur in most log lines and its regexp is the slowest of the set, so
// running it too cost a third of Text's throughput for no recall on
// gitleaks' own cases (BENCHMARKS.md).
var gitleaksSkip = map[string]bool{"generic-api-key": true}

// gitleaksRule is one compiled rule.
type gitleaksRule struct {
	id          string
	re          *regexp.Regexp
	secretGroup int
	entropy     float64
	allow       []*config.Allowlist
}

// gitleaksSet is the whole rule set with its keyword prefilter.
type gitleaksSet struct {
	rules    []gitleaksRule
	always   []int    // rules without keywords
	kw       *matcher // keywords, folded
	kwRules  [][]int  // keyword id -> rule indexes
	global   []*config.Allowlist
	keywords []string // for the Text pre-check
}

var (
	gitleaksOnce sync.Once
	gitleaksRS   *gitleaksSet
	gitleaksErr  error
)

// gitleaksBoundary is the secret suffix gitleaks' generator appends to most
// rules, and logBoundary what this package uses instead.
const (
	gitleaksBoundary = "(?:[\\x60'\"\\s;]|\\\\[nr]|$)"
	logBoundary      = "(?:[\\x60'\"\\s;,)\\]}>&|]|\\\\[nr]|$)"
)

// loadGitleaks parses and compiles gitleaks' default config once.
func loadGitleaks() (*gitleaksSet, error) {
	gitleaksOnce.Do(func() { gitleaksRS, gitleaksErr = parseGitleaks(config.DefaultConfig) })
	return gitleaksRS, gitleaksErr
}

func parseGitleaks(toml string) (*gitleaksSet, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(toml)); err != nil {
		return nil, fmt.Errorf("gitleaks config: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("gitleaks config: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("gitleaks config: %w", err)
	}
	rs := &gitleaksSet{global: cfg.Allowlists}
	kwIndex := map[string]int{}
	for _, id := range cfg.OrderedRules {
		r := cfg.Rules[id]
		if r.Regex == nil || r.Path != nil || r.SkipReport || gitleaksSkip[id] {
			continue
		}
		src := strings.ReplaceAll(r.Regex.String(), gitleaksBoundary, logBoundary)
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("gitleaks rule %s: %w", id, err)
		}
		i := len(rs.rules)
		rs.rules = append(rs.rules, gitleaksRule{id: id, re: re, secretGroup: r.SecretGroup, entropy: r.Entropy, allow: r.Allowlists})
		if len(r.Keywords) == 0 {
			rs.always = append(rs.always, i)
			continue
		}
		for _, k := range r.Keywords {
			k = strings.ToLower(k)
			j, ok := kwIndex[k]
			if !ok {
				j = len(rs.keywords)
				kwIndex[k] = j
				rs.keywords = append(rs.keywords, k)
				rs.kwRules = append(rs.kwRules, nil)
			}
			rs.kwRules[j] = append(rs.kwRules[j], i)
		}
	}
	rs.kw = newMatcher(rs.keywords)
	return rs, nil
}

// gitleaksSpan is one secret found: s[start:end], by rule.
type gitleaksSpan struct {
	start, end int
	rule       string
}

// find returns the secrets in s, sorted and without overlaps (the earlier,
// then longer, wins).
func (rs *gitleaksSet) find(s string) []gitleaksSpan {
	var run []int
	seen := make([]bool, len(rs.rules))
	rs.kw.each(s, func(m match) bool {
		for _, i := range rs.kwRules[m.id] {
			if !seen[i] {
				seen[i] = true
				run = append(run, i)
			}
		}
		return true
	})
	run = append(run, rs.always...)
	if len(run) == 0 {
		return nil
	}
	sort.Ints(run) // rule order, deterministic
	var out []gitleaksSpan
	for _, i := range run {
		r := &rs.rules[i]
		for _, m := range r.re.FindAllStringSubmatchIndex(s, -1) {
			start, end := secretGroup(m, r.secretGroup)
			if start < 0 {
				continue
			}
			// gitleaks trims newlines off the match.
			for start < end && s[start] == '\n' {
				start++
			}
			for end > start && s[end-1] == '\n' {
				end--
			}
			secret := s[start:end]
			if secret == "" || r.entropy != 0 && shannon(secret) <= r.entropy {
				continue
			}
			if allowed(rs.global, secret, s[m[0]:m[1]], s) || allowed(r.allow, secret, s[m[0]:m[1]], s) {
				continue
			}
			out = append(out, gitleaksSpan{start, end, r.id})
		}
	}
	return leftmostLongest(out, func(sp *gitleaksSpan) (int, int) { return sp.start, sp.end }, nil)
}

// secretGroup picks the secret inside a match like gitleaks does: the
// configured group, else the first non-empty group, else the whole match.
func secretGroup(m []int, group int) (int, int) {
	if group > 0 {
		if 2*group+1 >= len(m) || m[2*group] < 0 {
			return -1, -1
		}
		return m[2*group], m[2*group+1]
	}
	for g := 1; 2*g+1 < len(m); g++ {
		if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
			return m[2*g], m[2*g+1]
		}
	}
	return m[0], m[1]
}

// allowed applies gitleaks allowlists to a finding. A log line has no
// commit or path: a condition on them never holds.
func allowed(lists []*config.Allowlist, secret, match, line string) bool {
	for _, a := range lists {
		target := secret
		switch a.RegexTarget {
		case "match":
			target = match
		case "line":
			target = line
		}
		var checks []bool
		if len(a.Commits) > 0 {
			checks = append(checks, false)
		}
		if len(a.Paths) > 0 {
			checks = append(checks, false)
		}
		if len(a.Regexes) > 0 {
			checks = append(checks, a.RegexAllowed(target))
		}
		if len(a.StopWords) > 0 {
			ok, _ := a.ContainsStopWord(secret)
			checks = append(checks, ok)
		}
		if len(checks) == 0 {
			continue
		}
		all, any := true, false
		for _, c := range checks {
			all = all && c
			any = any || c
		}
		if a.MatchCondition == config.AllowlistMatchAnd && all || a.MatchCondition != config.AllowlistMatchAnd && any {
			return true
		}
	}
	return false
}

// shannon is the Shannon entropy of s in bits per byte, as gitleaks
// computes it.
func shannon(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h, n := 0.0, float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// scrubGitleaks redacts what gitleaks' rules find.
func scrubGitleaks(rs *gitleaksSet) func(a *Anonymizer, s string, st *stats) string {
	return func(a *Anonymizer, s string, st *stats) string {
		var spans []span
		var ids []string
		for _, f := range rs.find(s) {
			if v := s[f.start:f.end]; strings.Contains(v, RedactedSecret) || a.isIssued(v) || v == RedactedSecret {
				continue
			}
			spans = append(spans, span{f.start, f.end})
			ids = append(ids, f.rule)
		}
		k := 0
		return replaceSpans(s, spans, func(raw string) string {
			a.learnRedacted(st, raw, RedactedSecret)
			st.add("redact:secret:" + ids[k])
			k++
			return RedactedSecret
		})
	}
}
