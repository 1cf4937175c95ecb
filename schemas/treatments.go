package schemas

// Treatment says where the values of a published string column come from.
// Default deny: every string column of every table must declare one
// (TestEveryStringColumnHasATreatment walks the schemas), so a new column
// cannot reach a published byte without a decision.
type Treatment string

const (
	// Vocabulary: a closed set of values the code controls (phase,
	// severity, level, label source, ticket status).
	Vocabulary Treatment = "vocabulary"
	// Entity: the entity's published name, computed once per run under
	// the anonymization policy (pipeline/runner/entities.go).
	Entity Treatment = "entity"
	// Anonymized: free text or an id from a source system, passed through
	// the anonymizer (pseudonyms, Crypto-PAn, redaction of secrets).
	Anonymized Treatment = "anonymized"
	// Policy: label values under the per-label anonymization policy
	// (keep, pseudonymize, ip_prefix, generalize, redact, drop).
	Policy Treatment = "policy"
	// Generated: a value opsdata computes (a hash of published text).
	Generated Treatment = "generated"
	// SpecName: a name the operator wrote in the spec (source, feature).
	SpecName Treatment = "spec_name"
)

// StringColumns declares the treatment of every string column, by
// "table.column" (list columns by their name).
var StringColumns = map[string]Treatment{
	"windows.entity":        Entity,
	"windows.phase":         Vocabulary,
	"windows.severity":      Vocabulary,
	"windows.label_sources": Vocabulary,
	"windows.incident_ids":  Anonymized,
	"windows.split":         Vocabulary,

	"series.entity":  Entity,
	"series.feature": SpecName,
	"series.labels":  Policy,

	"logs.entity":      Entity,
	"logs.level":       Vocabulary,
	"logs.message":     Anonymized,
	"logs.source":      SpecName,
	"logs.file":        Anonymized,
	"logs.template_id": Generated,

	"log_templates.template_id":        Generated,
	"log_templates.template":           Anonymized,
	"log_templates.sources":            SpecName,
	"log_templates.first_template":     Anonymized,
	"log_templates.previous_templates": Anonymized,
	"log_counts.entity":                Entity,
	"log_counts.template_id":           Generated,

	"tickets.ticket_id": Anonymized,
	"tickets.source":    SpecName,
	"tickets.title":     Anonymized,
	"tickets.body":      Anonymized,
	"tickets.status":    Vocabulary,
	"tickets.severity":  Vocabulary,
	"tickets.entities":  Entity,

	"incidents.incident_id": Anonymized,
	"incidents.entity":      Entity,
	"incidents.severity":    Vocabulary,
	"incidents.type":        Anonymized,
	"incidents.source":      Vocabulary,
	"incidents.source_id":   Anonymized,
	"incidents.title":       Anonymized,

	"raw_series.metric": Policy,
	"raw_series.labels": Policy,
}
