package anonymize

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/opsdata/opsdata/spec"
)

// ReportFile is the anonymization report's name inside a version.
const ReportFile = "anonymization_report.json"

// ReportDoc is the anonymization report published with a version. It holds
// counts and rule names only, never a value: it passes the leakage gate
// like every other file.
type ReportDoc struct {
	// KeyEpoch is the key's fingerprint (Epoch): equal epochs, joinable pseudonyms.
	KeyEpoch string `json:"key_epoch"`
	// Counts is the number of replacements per rule and type, e.g.
	// "label:instance", "pseudonymize:host", "redact:secret:jwt", "ip_prefix:ip".
	Counts map[string]int64 `json:"counts"`
	// Rules is the effective rule per metric label, log field and column
	// named by the policy ("labels.node": "pseudonymize:host").
	Rules map[string]string `json:"rules"`
	// Default is what happens to a metric label the policy does not name.
	Default string `json:"default_label_rule"`
	// Text is the free-text detector configuration.
	Text map[string]string `json:"text"`
	// InventorySize is how many raw values (and canaries) the gate searched for.
	InventorySize int `json:"inventory_size"`
	// Weak is, per type, how many distinct learned values were common or
	// vocabulary words or too short to identify anyone: pseudonymized where
	// found, but neither matched in other text nor searched for by the gate.
	Weak map[string]int64 `json:"weak_identifiers,omitempty"`
}

func ruleString(r spec.Rule) string {
	switch r.Kind {
	case spec.RulePseudonymize:
		return "pseudonymize:" + r.Type
	case spec.RuleGeneralize:
		return fmt.Sprintf("generalize:%d:%d", r.V4Bits, r.V6Bits)
	}
	return r.Kind
}

// ReportDoc returns the report of the run so far.
func (a *Anonymizer) ReportDoc() ReportDoc {
	d := ReportDoc{KeyEpoch: Epoch(a.key), Counts: a.Report(), Rules: map[string]string{},
		Default: "pseudonymize:<label name>", InventorySize: len(a.Inventory()), Weak: a.weakCounts()}
	for k, r := range a.rules.labels {
		d.Rules["labels."+k] = ruleString(r)
	}
	keep := make([]string, 0, len(a.keep))
	for k := range a.keep {
		keep = append(keep, k)
	}
	sort.Strings(keep)
	for _, k := range keep {
		if _, ok := a.rules.labels[k]; !ok {
			d.Rules["labels."+k] = spec.RuleKeep
		}
	}
	for k, r := range a.rules.fields {
		d.Rules["log_fields."+k] = ruleString(r)
	}
	for _, c := range spec.TextColumns {
		r, ok := a.rules.columns[c]
		if !ok {
			r = spec.Rule{Kind: spec.RuleText}
		}
		d.Rules["columns."+c] = ruleString(r)
	}
	fq := spec.RulePseudonymize
	if !a.rules.fqdn {
		fq = spec.RuleKeep
	}
	d.Text = map[string]string{"ips": ruleString(a.rules.textIP), "uuids": a.rules.uuids, "hostnames": fq,
		"secrets": "redact", "emails": "redact"}
	return d
}

// WriteReport writes ReportFile into dir (a staging directory).
func (a *Anonymizer) WriteReport(dir string) error {
	b, err := json.MarshalIndent(a.ReportDoc(), "", "  ")
	if err != nil {
		return fmt.Errorf("anonymization report: %w", err)
	}
	p := filepath.Join(dir, ReportFile)
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("anonymization report: write %s: %w", p, err)
	}
	return nil
}

func (a *Anonymizer) weakCounts() map[string]int64 {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if len(a.weakN) == 0 {
		return nil
	}
	out := make(map[string]int64, len(a.weakN))
	for k, v := range a.weakN {
		out[k] = v
	}
	return out
}
