package schemas

import (
	"fmt"
	"strings"
)

// ColumnDoc documents one published column: what it means and its unit
// ("" when it has none: identifiers, text, labels).
type ColumnDoc struct {
	Description string
	Unit        string
}

const utcNote = " UTC instant (Parquet timestamp, isAdjustedToUTC)."

// ColumnDocs documents the fixed columns of every table. The windows
// table's feature and tpl_<template_id> columns depend on the version; see
// DescribeColumn.
var ColumnDocs = map[string]map[string]ColumnDoc{
	TableWindows: {
		"window_start":             {"Start of the window [window_start, window_start + window); the row is named by it." + utcNote, "UTC timestamp"},
		"entity":                   {"The entity (service, namespace or host: manifest entity_kind) the row is about; identifiers from the cloud are keyed pseudonyms.", ""},
		"log_lines":                {"Log lines of the entity in the window, all levels (= log_debug + log_info + log_warn + log_error + log_other).", "lines"},
		"log_debug":                {"Log lines at level debug (or trace) in the window.", "lines"},
		"log_info":                 {"Log lines at level info (or notice) in the window.", "lines"},
		"log_warn":                 {"Log lines at level warn in the window.", "lines"},
		"log_error":                {"Log lines at level error (or critical, fatal) in the window.", "lines"},
		"log_other":                {"Log lines whose level is unknown or outside the vocabulary, in the window.", "lines"},
		"incident_active":          {"True when an incident's cause interval of this entity overlaps the window (the same as phase = 'incident').", ""},
		"incident_ids":             {"The incidents active in the window, sorted; join incidents on (incident_id, entity).", ""},
		"severity":                 {"Highest severity among the active incidents (critical, major, minor, warning, info, unknown); null when none is active.", ""},
		"phase":                    {"Prediction label: normal, pre_incident (within the spec's horizon before an incident of this entity), incident, or recovery (after an incident until the effect ends).", ""},
		"minutes_to_next_incident": {"Minutes from window_start to the start of the next incident of this entity; 0 while one is active; null when none follows within the export.", "minutes"},
		"label_sources":            {"Where the active labels came from (ticket, alert, rule, manual, injected), sorted.", ""},
		"split":                    {"Benchmark split of the window (spec split policy, manifest split): train, validation, test, or gap (the window or the embargo after it reaches the next split's boundary: its labels would leak across; use it in no split). Null when the spec declares no split.", ""},
	},
	TableMetrics: {
		"window_start": {"Start of the window the value belongs to (evaluated at the window's end)." + utcNote, "UTC timestamp"},
		"series_id":    {"The series (join series on series_id for its feature, entity and labels).", ""},
		"value":        {"The feature's value for the series at the window; its unit is the feature's (manifest features, card Features table).", "the feature's unit"},
	},
	TableSeries: {
		"series_id": {"Identifier of the series within this version.", ""},
		"feature":   {"The feature (a windows column, manifest features) the series is a term of.", ""},
		"entity":    {"The entity the series belongs to (published name).", ""},
		"labels":    {"The series' label set as a JSON object with sorted keys; identifying values are keyed pseudonyms.", ""},
	},
	TableLogs: {
		"ts":          {"When the line was logged." + utcNote, "UTC timestamp"},
		"entity":      {"The entity that logged the line (published name).", ""},
		"level":       {"Log level from a closed vocabulary (debug, info, warn, error, other).", ""},
		"message":     {"The message, anonymized: identifiers pseudonymized, IP addresses, e-mails and secrets redacted.", ""},
		"source":      {"The spec's name of the log source that read the line.", ""},
		"file":        {"The file the line was read from (base name).", ""},
		"line":        {"Line number in that file, from 1.", "line number"},
		"template_id": {"The line's template (join log_templates on template_id).", ""},
	},
	TableTickets: {
		"ticket_id":    {"The ticket's id in its tracker.", ""},
		"source":       {"The tracker (ticket source name in the spec).", ""},
		"title":        {"Title, anonymized.", ""},
		"body":         {"Body, anonymized.", ""},
		"status":       {"Status from a closed vocabulary (open, resolved, closed, other).", ""},
		"severity":     {"Severity from a closed vocabulary (critical, major, minor, warning, info, unknown).", ""},
		"created":      {"When the ticket was created." + utcNote, "UTC timestamp"},
		"impact_start": {"When the impact began, if the ticket says." + utcNote + " Null when unknown.", "UTC timestamp"},
		"resolved":     {"When the ticket was resolved." + utcNote + " Null while open.", "UTC timestamp"},
		"entities":     {"The entities the ticket names (published names).", ""},
	},
	TableIncidents: {
		"incident_id": {"The incident's id (a ticket id, or rule:<alert>:<start>:<hash>). Not unique across entities: one incident affecting several entities has one row per entity; the key is (incident_id, entity).", ""},
		"entity":      {"The entity the interval labels (published name).", ""},
		"start":       {"Start of the cause interval (impact start, else the ticket's creation or the alert's firing)." + utcNote, "UTC timestamp"},
		"end":         {"End of the cause interval (exclusive; resolution)." + utcNote + " Null when unknown (still open): labelled until the end of the export.", "UTC timestamp"},
		"effect_end":  {"End of the effect interval: when the metrics recovered, if a rule or alert outlasted the cause interval." + utcNote + " Null when no later recovery is known.", "UTC timestamp"},
		"severity":    {"Severity from a closed vocabulary (critical, major, minor, warning, info, unknown).", ""},
		"type":        {"The incident's type or category as its source names it (e.g. a ticket label or the alert name), anonymized.", ""},
		"source":      {"Where the label came from: ticket, alert, rule, manual or injected.", ""},
		"source_id":   {"The source's own id (ticket id, alert fingerprint, rule name).", ""},
		"confidence":  {"How sure the boundaries are, by provenance: 1.0 ticket with impact start or manual, 0.8 ticket known only from its creation time, 0.7 alert or rule, 0.3 silenced alert.", "probability (0-1)"},
		"title":       {"The incident's title (ticket title or alert summary), anonymized.", ""},
	},
	TableLogTemplates: {
		"template_id":        {"First 12 hex digits of the SHA-256 of first_template, plus a collision counter: stable while the template generalizes.", ""},
		"template":           {"The template text; variables are <*>.", ""},
		"sources":            {"The log sources (spec names) whose lines have the template.", ""},
		"first_seen":         {"First line of the template in this version." + utcNote, "UTC timestamp"},
		"last_seen":          {"Last line of the template in this version." + utcNote, "UTC timestamp"},
		"count":              {"Lines of the template in this version's logs table.", "lines"},
		"first_template":     {"The text the template had when first mined (its id hashes it).", ""},
		"previous_templates": {"The other texts the template had as it generalized, oldest first.", ""},
	},
	TableLogCounts: {
		"window_start": {"Start of the window." + utcNote, "UTC timestamp"},
		"entity":       {"The entity (published name).", ""},
		"template_id":  {"The template (join log_templates).", ""},
		"count":        {"Lines of the template for the entity in the window; windows without such lines have no row.", "lines"},
	},
	TableSamples: {
		"series_id": {"The series (join raw_series on series_id).", ""},
		"ts":        {"The sample's timestamp." + utcNote, "UTC timestamp"},
		"value":     {"The sample's value as Prometheus stored it (NaN for staleness markers); the metric's own unit.", "the metric's unit"},
		"stale":     {"True for a Prometheus staleness marker (the series ended).", ""},
	},
	TableRawSeries: {
		"series_id": {"Identifier of the series within this version.", ""},
		"metric":    {"The metric name (__name__).", ""},
		"labels":    {"The other labels as a JSON object with sorted keys, anonymized per the spec's policy.", ""},
	},
}

// PartitionDoc documents the Hive partition column date=YYYY-MM-DD that
// readers add to partitioned tables.
var PartitionDoc = ColumnDoc{
	Description: "Hive partition (directory date=YYYY-MM-DD): the UTC date of the row's time column. A DATE: DuckDB and polars read it as one; pandas/pyarrow read it as a categorical of strings unless given partitioning=ds.partitioning(pa.schema([(\"date\", pa.date32())]), flavor=\"hive\").",
	Unit:        "UTC date",
}

// DescribeColumn documents a column of table in version m: the fixed
// columns from ColumnDocs, the windows table's feature columns from the
// spec's help and unit (manifest features) and its tpl_<template_id>
// columns. ok is false for a column nothing documents.
func DescribeColumn(m *Manifest, table, column string) (d ColumnDoc, ok bool) {
	if d, ok := ColumnDocs[table][column]; ok {
		return d, true
	}
	if table != TableWindows {
		return ColumnDoc{}, false
	}
	for _, f := range m.Features {
		if f.Name == column {
			desc := strings.TrimSpace(f.Help)
			if desc == "" {
				desc = "Metric feature " + f.Name + "."
			} else if !strings.HasSuffix(desc, ".") {
				desc += "."
			}
			desc += fmt.Sprintf(" PromQL %q evaluated at the window's end; null when it returned no sample for the entity.", f.Expr)
			return ColumnDoc{Description: desc, Unit: f.Unit}, true
		}
	}
	if id, found := strings.CutPrefix(column, "tpl_"); found {
		return ColumnDoc{Description: fmt.Sprintf("Log lines of template %s (log_templates.template_id) for the entity in the window (one of the spec's log_features.top_templates, the most frequent of the first day).", id), Unit: "lines"}, true
	}
	return ColumnDoc{}, false
}
