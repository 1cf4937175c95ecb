package schemas

// TableDescriptions says what each table holds, for the card, the catalog
// page and Croissant.
var TableDescriptions = map[string]string{
	"windows":       "The ML-ready table: one row per (window, entity) with the feature columns, log counts per level and the incident and prediction labels.",
	"metrics":       "The feature values in long form: one row per (window, series); join `series` on `series_id` for the series' labels.",
	"series":        "One row per metric series: its feature, entity and label set (a JSON object, identifying values pseudonymized).",
	"logs":          "Log lines with anonymized messages.",
	"log_templates": "Log templates mined from the messages.",
	"tickets":       "Incident tickets, title and body anonymized.",
	"incidents":     "Labelled incident intervals per entity with their provenance (label source and the source's id).",
}
