package spec

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Anonymization rules. A policy entry (a value of anonymize.labels,
// anonymize.log_fields or anonymize.columns) is one of:
//
//	keep                 publish raw (explicit, never a default)
//	pseudonymize         keyed pseudonym, the entry's own name as type
//	pseudonymize:TYPE    keyed pseudonym of TYPE (host, user, pod, ...)
//	TYPE                 shorthand for pseudonymize:TYPE (the first spec form)
//	ip_prefix            Crypto-PAn, prefix-preserving (IPv4 and IPv6; a :port is kept)
//	generalize[:V4[:V6]] the address's network, default /24 and /48
//	redact               the placeholder <redacted>
//	drop                 a label is removed; a column or field is emptied
//	text                 columns only: the free-text scrubber (the default)
const (
	RuleKeep         = "keep"
	RulePseudonymize = "pseudonymize"
	RuleIPPrefix     = "ip_prefix"
	RuleGeneralize   = "generalize"
	RuleRedact       = "redact"
	RuleDrop         = "drop"
	RuleText         = "text"
)

// Rule is a parsed policy entry.
type Rule struct {
	Kind string // one of the Rule* constants
	// Type is the pseudonym type (pseudonymize only): the domain tag inside
	// the HMAC, so equal values of different types do not link.
	Type string
	// V4Bits and V6Bits are the prefix lengths kept by generalize.
	V4Bits, V6Bits int
}

var typeRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// ParseRule parses the policy entry s for the label, field or column name.
func ParseRule(name, s string) (Rule, error) {
	s = strings.TrimSpace(s)
	kind, arg, hasArg := strings.Cut(s, ":")
	switch kind {
	case RuleKeep, RuleIPPrefix, RuleRedact, RuleDrop, RuleText:
		if hasArg {
			return Rule{}, fmt.Errorf("%q takes no argument", kind)
		}
		return Rule{Kind: kind}, nil
	case RulePseudonymize:
		typ := name
		if hasArg {
			typ = arg
		}
		typ = strings.ToLower(typ)
		if !typeRe.MatchString(typ) {
			return Rule{}, fmt.Errorf("pseudonym type %q: use lower-case letters, digits and _ (e.g. pseudonymize:host)", typ)
		}
		return Rule{Kind: RulePseudonymize, Type: typ}, nil
	case RuleGeneralize:
		r := Rule{Kind: RuleGeneralize, V4Bits: 24, V6Bits: 48}
		if hasArg {
			v4, v6, two := strings.Cut(arg, ":")
			var err error
			if r.V4Bits, err = strconv.Atoi(v4); err != nil || r.V4Bits < 0 || r.V4Bits > 32 {
				return Rule{}, fmt.Errorf("generalize:%s: IPv4 prefix length must be 0..32", arg)
			}
			if two {
				if r.V6Bits, err = strconv.Atoi(v6); err != nil || r.V6Bits < 0 || r.V6Bits > 128 {
					return Rule{}, fmt.Errorf("generalize:%s: IPv6 prefix length must be 0..128", arg)
				}
			}
		}
		return r, nil
	}
	if hasArg || !typeRe.MatchString(s) {
		return Rule{}, fmt.Errorf("%q is not a rule (keep, pseudonymize[:type], ip_prefix, generalize[:v4[:v6]], redact, drop) nor a pseudonym type", s)
	}
	return Rule{Kind: RulePseudonymize, Type: s}, nil
}

// TextColumns are the published free-text columns anonymize.columns may
// name; every one of them is scrubbed by the free-text detectors unless the
// policy says redact or drop (or, explicitly, keep).
var TextColumns = []string{"incidents.title", "logs.file", "logs.message", "tickets.body", "tickets.title"}

// TextPolicy configures the free-text detectors.
type TextPolicy struct {
	// IPs: redact (default, "<ip>"), ip_prefix (Crypto-PAn, the same
	// mapping as labels with ip_prefix) or generalize[:v4[:v6]].
	IPs string `yaml:"ips"`
	// UUIDs: keep (default: request ids are useful and rarely identifying),
	// pseudonymize or redact.
	UUIDs string `yaml:"uuids"`
	// Hostnames: pseudonymize (default) FQDNs found by shape, in URLs and
	// under host_domains; keep leaves names outside host_domains alone.
	Hostnames string `yaml:"hostnames"`
}

// validateAnonymize checks the policy entries; it is called by Validate.
func (a *Anonymize) validateAnonymize(add func(string, ...any)) {
	check := func(where string, m map[string]string, column bool) {
		for _, k := range sortedNames(m) {
			r, err := ParseRule(k, m[k])
			if err != nil {
				add("anonymize.%s.%s: %v", where, k, err)
				continue
			}
			if r.Kind == RuleText && !column {
				add("anonymize.%s.%s: text is a rule for columns only", where, k)
			}
		}
	}
	check("labels", a.Labels, false)
	check("log_fields", a.LogFields, false)
	check("columns", a.Columns, true)
	for _, k := range sortedNames(a.Columns) {
		ok := false
		for _, c := range TextColumns {
			ok = ok || c == k
		}
		if !ok {
			add("anonymize.columns.%s: not a free-text column (%s)", k, strings.Join(TextColumns, ", "))
			continue
		}
		if r, err := ParseRule(k, a.Columns[k]); err == nil && r.Kind != RuleText && r.Kind != RuleRedact && r.Kind != RuleDrop && r.Kind != RuleKeep {
			add("anonymize.columns.%s: %s: a text column takes text, redact, drop or keep", k, a.Columns[k])
		}
	}
	switch r, err := ParseRule("ip", orDefault(a.Text.IPs, RuleRedact)); {
	case err != nil:
		add("anonymize.text.ips: %v", err)
	case r.Kind != RuleRedact && r.Kind != RuleIPPrefix && r.Kind != RuleGeneralize:
		add("anonymize.text.ips: %q: use redact, ip_prefix or generalize", a.Text.IPs)
	}
	switch orDefault(a.Text.UUIDs, RuleKeep) {
	case RuleKeep, RulePseudonymize, RuleRedact:
	default:
		add("anonymize.text.uuids: %q: use keep, pseudonymize or redact", a.Text.UUIDs)
	}
	switch orDefault(a.Text.Hostnames, RulePseudonymize) {
	case RuleKeep, RulePseudonymize:
	default:
		add("anonymize.text.hostnames: %q: use pseudonymize or keep", a.Text.Hostnames)
	}
}

func orDefault(s, d string) string {
	if s = strings.TrimSpace(s); s == "" {
		return d
	}
	return s
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
