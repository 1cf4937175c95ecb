package anonymize

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/opsdata/opsdata/spec"
)

// rules is the parsed policy.
type rules struct {
	labels map[string]spec.Rule
	fields map[string]spec.Rule
	// fieldOrder lists the log fields with a rule other than keep, sorted:
	// Fields learns in this order, so what it learns (and the text
	// matcher's learning order, which MarshalState writes) does not depend
	// on map iteration.
	fieldOrder []string
	fieldStat  []string // fieldStat[i] is the report key of fieldOrder[i]'s rule
	columns    map[string]spec.Rule
	textIP     spec.Rule
	uuids      string // keep, pseudonymize, redact
	fqdn       bool   // pseudonymize hostnames found by shape and in URLs
}

func parseRules(p spec.Anonymize) (rules, error) {
	r := rules{labels: map[string]spec.Rule{}, fields: map[string]spec.Rule{}, columns: map[string]spec.Rule{}}
	for where, m := range map[string]map[string]string{"labels": p.Labels, "log_fields": p.LogFields, "columns": p.Columns} {
		for k, v := range m {
			rule, err := spec.ParseRule(k, v)
			if err != nil {
				return r, fmt.Errorf("anonymize.%s.%s: %w", where, k, err)
			}
			switch where {
			case "labels":
				r.labels[k] = rule
			case "log_fields":
				r.fields[k] = rule
			default:
				r.columns[k] = rule
			}
		}
	}
	for k, rule := range r.fields {
		if rule.Kind != spec.RuleKeep {
			r.fieldOrder = append(r.fieldOrder, k)
		}
	}
	sort.Strings(r.fieldOrder)
	for _, k := range r.fieldOrder {
		r.fieldStat = append(r.fieldStat, "field:"+ruleName(r.fields[k]))
	}
	ips := strings.TrimSpace(p.Text.IPs)
	if ips == "" {
		ips = spec.RuleRedact
	}
	var err error
	if r.textIP, err = spec.ParseRule("ip", ips); err != nil {
		return r, fmt.Errorf("anonymize.text.ips: %w", err)
	}
	switch r.textIP.Kind {
	case spec.RuleRedact, spec.RuleIPPrefix, spec.RuleGeneralize:
	default:
		return r, fmt.Errorf("anonymize.text.ips: %q: use redact, ip_prefix or generalize", p.Text.IPs)
	}
	r.uuids = strings.TrimSpace(p.Text.UUIDs)
	if r.uuids == "" {
		r.uuids = spec.RuleKeep
	}
	r.fqdn = strings.TrimSpace(p.Text.Hostnames) != spec.RuleKeep
	return r, nil
}

// labelRule is the rule of a metric label: keep for __name__, the entity
// label and policy.Keep; the policy's rule if it names the label; else
// pseudonymize under the label's own name (the safe default).
func (a *Anonymizer) labelRule(name string) spec.Rule {
	if a.keep[name] {
		return spec.Rule{Kind: spec.RuleKeep}
	}
	if r, ok := a.rules.labels[name]; ok {
		return r
	}
	return spec.Rule{Kind: spec.RulePseudonymize, Type: name}
}

// ruleName names a rule in the report and in the inventory's keys: the
// pseudonym type for pseudonymize (so counts read "label:host"), else the
// rule with its arguments.
func ruleName(r spec.Rule) string {
	switch r.Kind {
	case spec.RulePseudonymize:
		return r.Type
	case spec.RuleGeneralize:
		return "generalize/" + strconv.Itoa(r.V4Bits) + "/" + strconv.Itoa(r.V6Bits)
	}
	return r.Kind
}

// apply anonymizes one value by rule, learning it for free text and the
// leakage scan. keep is false when the value is dropped.
func (a *Anonymizer) apply(r spec.Rule, v string) (out string, keep bool) {
	switch r.Kind {
	case spec.RuleKeep:
		return v, true
	case spec.RulePseudonymize:
		return a.learn(nil, r.Type, v), true
	case spec.RuleIPPrefix, spec.RuleGeneralize:
		if p, ok := a.learnIP(nil, r, v); ok {
			return p, true
		}
		// Not an address: never publish it raw.
		return a.learn(nil, TypeIP, v), true
	case spec.RuleDrop:
		a.learnRedacted(nil, strings.TrimSpace(v), RedactedSecret)
		return "", false
	default: // redact
		a.learnRedacted(nil, strings.TrimSpace(v), RedactedSecret)
		return RedactedSecret, true
	}
}

// parseAddrPort accepts "1.2.3.4", "1.2.3.4:80", "2001:db8::1",
// "[2001:db8::1]:443"; port < 0 when there is none.
func parseAddrPort(v string) (netip.Addr, int, bool) {
	v = strings.TrimSpace(v)
	if ip, err := netip.ParseAddr(v); err == nil {
		return ip, -1, true
	}
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr(), int(ap.Port()), true
	}
	return netip.Addr{}, 0, false
}

// ipReplacement is what an ip_prefix or generalize rule publishes for an
// address (a port is kept by ip_prefix, dropped by generalize).
func (a *Anonymizer) ipReplacement(r spec.Rule, ip netip.Addr, port int) string {
	ip = ip.Unmap().WithZone("")
	if r.Kind == spec.RuleGeneralize {
		bits := r.V4Bits
		if ip.Is6() {
			bits = r.V6Bits
		}
		p, _ := ip.Prefix(bits) // bits validated by ParseRule
		return p.String()
	}
	out := a.cpan.Anonymize(ip)
	if port >= 0 {
		return netip.AddrPortFrom(out, uint16(port)).String()
	}
	return out.String()
}

// learnIP learns an address under an IP rule; ok is false for a value that
// is not an address.
func (a *Anonymizer) learnIP(st *stats, r spec.Rule, v string) (string, bool) {
	ip, port, ok := parseAddrPort(v)
	if !ok {
		return "", false
	}
	out := a.learnAs(st, ruleName(r), v, func(string, string) string { return a.ipReplacement(r, ip, port) })
	if port >= 0 {
		// The bare address is opsdata's output too (Text must skip it).
		a.markIssued(st, a.ipReplacement(r, ip, -1))
	}
	return out, true
}

func (a *Anonymizer) markIssued(st *stats, p string) {
	if a.isIssued(p) {
		return
	}
	if st.speculative() {
		st.ahead.stale = true
		return
	}
	a.mu.Lock()
	if _, ok := a.issued[p]; !ok {
		a.issue(p)
		a.track(p)
	}
	a.mu.Unlock()
}

// textIP is the replacement of an address found in free text, by
// policy.Text.IPs, and the report rule.
func (a *Anonymizer) textIP(st *stats, raw string) (string, string) {
	r := a.rules.textIP
	if r.Kind != spec.RuleRedact {
		if p, ok := a.learnIP(st, r, raw); ok {
			return p, ruleName(r) + ":ip"
		}
	}
	a.learnRedacted(st, raw, RedactedIP)
	return RedactedIP, "redact:ip"
}

// LearnLabel learns a metric label's raw value under the label's rule, so
// it is recognised in logs and tickets (and by the leakage scan).
func (a *Anonymizer) LearnLabel(name, value string) {
	if r := a.labelRule(name); r.Kind != spec.RuleKeep && strings.TrimSpace(value) != "" {
		a.apply(r, value)
	}
}

// EntityValue is the published name of an entity: the rule of its label if
// the policy names that label (the entity label is otherwise kept), a host
// pseudonym for entities of kind host, else the raw name.
func (a *Anonymizer) EntityValue(label, kind, raw string) string {
	if raw == "" {
		return raw
	}
	if r, ok := a.rules.labels[label]; ok {
		out, _ := a.apply(r, raw)
		return out
	}
	if kind == "host" {
		return a.learn(nil, TypeHost, raw)
	}
	return raw
}

// Column anonymizes a published free-text column (spec.TextColumns, e.g.
// "tickets.body") by its rule: the free-text scrubber unless the policy
// says redact, drop (empty) or keep.
func (a *Anonymizer) Column(column, v string) string {
	var st stats
	v = a.column(column, v, &st)
	st.flush(a)
	return v
}

// column is Column with the counts left in st.
func (a *Anonymizer) column(column, v string, st *stats) string {
	r, ok := a.rules.columns[column]
	if !ok || r.Kind == spec.RuleText {
		return a.text(v, st)
	}
	if v == "" {
		return v
	}
	switch r.Kind {
	case spec.RuleKeep:
		return v
	case spec.RuleDrop:
		st.add("column:drop")
		return ""
	default:
		st.add("column:redact")
		return RedactedSecret
	}
}
