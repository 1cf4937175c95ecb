// Package schemas holds one Go row type per published table. The parquet
// struct tags are the schema: what parquet-go derives from them is checked
// against golden files in testdata/, so a schema change is always a
// deliberate, reviewed diff with a bumped version.
//
// Conventions, for researchers: every timestamp is UTC with the
// UTC-adjusted Parquet logical type (pandas reads datetime64[..., UTC]);
// windows are [window_start, window_start + step) and a row is named by its
// start; identifiers that came from the cloud are pseudonyms.
package schemas

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Table names, which are also the directory names in a version.
const (
	TableWindows   = "windows"
	TableMetrics   = "metrics"
	TableSeries    = "series"
	TableLogs      = "logs"
	TableTickets   = "tickets"
	TableIncidents = "incidents"
)

// Versions is the schema version of every table. Bump a table's version
// when its columns change meaning or type; adding a column bumps the minor.
var Versions = map[string]string{
	TableWindows:      "1.2", // 1.1: tpl_<template_id> columns (log_features); 1.2: split
	TableMetrics:      "1.0",
	TableSeries:       "1.0",
	TableLogs:         "1.1", // 1.1: template_id
	TableTickets:      "1.0",
	TableIncidents:    "1.0",
	TableSamples:      "1.0", // raw export, schemas/raw.go
	TableRawSeries:    "1.0", // raw export, schemas/raw.go
	TableLogTemplates: "1.1", // schemas/logtemplates.go; 1.1: first_template, previous_templates (lineage)
	TableLogCounts:    "1.0", // schemas/logtemplates.go
}

// Partitioned tables are split into Hive partitions date=YYYY-MM-DD.
var Partitioned = map[string]bool{TableWindows: true, TableMetrics: true, TableLogs: true, TableLogCounts: true}

// WindowKey names a row of the windows table. The row type of windows is
// built at run time: WindowKey's columns, then one optional DOUBLE column per
// metric feature, then WindowLogs and WindowLabels (see pipeline/align).
type WindowKey struct {
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	Entity      string    `parquet:"entity,dict"`
}

// WindowLogs counts log lines in a window for the row's entity, per level.
type WindowLogs struct {
	LogLines int64 `parquet:"log_lines"`
	LogDebug int64 `parquet:"log_debug"`
	LogInfo  int64 `parquet:"log_info"`
	LogWarn  int64 `parquet:"log_warn"`
	LogError int64 `parquet:"log_error"`
	LogOther int64 `parquet:"log_other"`
}

// Phases of the prediction label.
const (
	PhaseNormal      = "normal"
	PhasePreIncident = "pre_incident"
	PhaseIncident    = "incident"
	PhaseRecovery    = "recovery"
)

// WindowLabels are the incident and prediction labels of a window.
type WindowLabels struct {
	// IncidentActive is true when an incident's cause interval overlaps the window.
	IncidentActive bool `parquet:"incident_active"`
	// IncidentIDs lists the incidents active in the window, sorted.
	IncidentIDs []string `parquet:"incident_ids,list"`
	// Severity is the highest severity among the active incidents.
	Severity *string `parquet:"severity,optional,dict"`
	// Phase is normal, pre_incident, incident or recovery.
	Phase string `parquet:"phase,dict"`
	// MinutesToNextIncident is the time from the window's start to the
	// start of the next incident of this entity (0 while one is active);
	// null when no incident follows within the export.
	MinutesToNextIncident *float64 `parquet:"minutes_to_next_incident,optional"`
	// LabelSources lists where the active labels came from (ticket, alert, rule, manual).
	LabelSources []string `parquet:"label_sources,list"`
	// Split is the window's benchmark split (train, validation, test, or
	// gap: within the embargo before a boundary); null when the spec
	// declares no split policy.
	Split *string `parquet:"split,optional,dict"`
}

// Splits of the windows table's split column.
const (
	SplitTrain      = "train"
	SplitValidation = "validation"
	SplitTest       = "test"
	SplitGap        = "gap"
)

// SplitPolicy is the version's split policy as the manifest records it.
type SplitPolicy struct {
	// Validation and Test are the boundaries (UTC midnights; nil = none).
	Validation *time.Time `json:"validation,omitempty"`
	Test       *time.Time `json:"test,omitempty"`
	// Embargo (a Go duration string) before each boundary is gap.
	Embargo        string  `json:"embargo"`
	EmbargoSeconds float64 `json:"embargo_seconds"`
	// Straddling lists the incidents (incident_id, entity) whose cause
	// interval crosses a boundary: their windows fall in two splits.
	Straddling []string `json:"straddling"`
	// EntityGroups, when set, holds whole entities out (EntityGroupOf).
	EntityGroups *EntityGroups `json:"entity_groups,omitempty"`
}

// EntityGroups are the shares of entities held out as validation and test,
// and the published entities each group got.
type EntityGroups struct {
	Validation float64 `json:"validation"`
	Test       float64 `json:"test"`
	// Method says how an entity's group is drawn, so anyone can recompute it.
	Method string `json:"method"`
	// HeldOut lists the published entities of the validation and test
	// groups, sorted.
	HeldOut map[string][]string `json:"held_out"`
}

// EntityGroupMethod is how EntityGroupOf draws an entity's group.
const EntityGroupMethod = "u = first 8 bytes of sha256(\"opsdata-split\\x00\" + published entity), big-endian, / 2^64; test if u < test, validation if u < test + validation, else train"

// EntityGroupOf is the split group of a published entity under g: test,
// validation or train.
func EntityGroupOf(g *EntityGroups, entity string) string {
	sum := sha256.Sum256([]byte("opsdata-split\x00" + entity))
	u := float64(binary.BigEndian.Uint64(sum[:8])) / (1 << 64)
	switch {
	case u < g.Test:
		return SplitTest
	case u < g.Test+g.Validation:
		return SplitValidation
	}
	return SplitTrain
}

// splitRank orders splits by how far they are held out: a window takes the
// later of its time split and its entity's group.
var splitRank = map[string]int{SplitTrain: 0, SplitGap: 1, SplitValidation: 2, SplitTest: 3}

// SplitOfEntity is SplitOf for a window of a published entity: the later of
// the window's time split and the entity's group (a held-out entity is
// never train, whatever the time).
func SplitOfEntity(p *SplitPolicy, start time.Time, step time.Duration, entity string) string {
	s := SplitOf(p, start, step)
	if p.EntityGroups != nil {
		if g := EntityGroupOf(p.EntityGroups, entity); splitRank[g] > splitRank[s] {
			return g
		}
	}
	return s
}

// SplitOf is the split of the window [start, start+step) under policy p:
// the split its start falls in, or gap when the window or the embargo after
// it reaches the next boundary.
func SplitOf(p *SplitPolicy, start time.Time, step time.Duration) string {
	embargo := time.Duration(p.EmbargoSeconds * float64(time.Second))
	next := func(b *time.Time) bool { return b != nil && start.Before(*b) && start.Add(step+embargo).After(*b) }
	switch {
	case p.Test != nil && !start.Before(*p.Test):
		return SplitTest
	case p.Validation != nil && !start.Before(*p.Validation):
		if next(p.Test) {
			return SplitGap
		}
		return SplitValidation
	}
	if next(p.Validation) || (p.Validation == nil && next(p.Test)) {
		return SplitGap
	}
	return SplitTrain
}

// Metric is one value of one feature series at one window: the long form
// of the windows table's feature columns, without the entity roll-up.
type Metric struct {
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	SeriesID    int64     `parquet:"series_id"`
	Value       float64   `parquet:"value"`
}

// Series describes one series of the metrics table. Label values the policy
// pseudonymizes are pseudonyms.
type Series struct {
	SeriesID int64  `parquet:"series_id"`
	Feature  string `parquet:"feature,dict"`
	Entity   string `parquet:"entity,dict"`
	// Labels is the series' label set as a JSON object with sorted keys.
	Labels string `parquet:"labels"`
}

// Log is one log line, its message anonymized.
type Log struct {
	Timestamp time.Time `parquet:"ts,timestamp(microsecond)"`
	Entity    string    `parquet:"entity,dict"`
	Level     string    `parquet:"level,dict"`
	Message   string    `parquet:"message"` // zstd, as every column (write.pageCodec)
	Source    string    `parquet:"source,dict"`
	File      string    `parquet:"file,dict"`
	Line      int64     `parquet:"line"`
	// TemplateID is the line's template in log_templates.
	TemplateID string `parquet:"template_id,dict"`
}

// Ticket is one incident ticket, title and body anonymized.
type Ticket struct {
	TicketID    string     `parquet:"ticket_id"`
	Source      string     `parquet:"source,dict"`
	Title       string     `parquet:"title"`
	Body        string     `parquet:"body"`
	Status      string     `parquet:"status,dict"`
	Severity    string     `parquet:"severity,dict"`
	Created     time.Time  `parquet:"created,timestamp(millisecond)"`
	ImpactStart *time.Time `parquet:"impact_start,optional,timestamp(millisecond)"`
	Resolved    *time.Time `parquet:"resolved,optional,timestamp(millisecond)"`
	Entities    []string   `parquet:"entities,list"`
}

// Incident is one labelled interval of one entity, with its provenance.
type Incident struct {
	IncidentID string     `parquet:"incident_id"`
	Entity     string     `parquet:"entity,dict"`
	Start      time.Time  `parquet:"start,timestamp(millisecond)"`
	End        *time.Time `parquet:"end,optional,timestamp(millisecond)"`
	EffectEnd  *time.Time `parquet:"effect_end,optional,timestamp(millisecond)"`
	Severity   string     `parquet:"severity,dict"`
	Type       string     `parquet:"type,dict"`
	Source     string     `parquet:"source,dict"`
	SourceID   string     `parquet:"source_id"`
	Confidence float64    `parquet:"confidence"`
	Title      string     `parquet:"title"`
}
