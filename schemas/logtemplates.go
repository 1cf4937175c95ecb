package schemas

import "time"

// Tables of the log template mining (issue #7).
const (
	// TableLogTemplates lists every mined template once (unpartitioned).
	TableLogTemplates = "log_templates"
	// TableLogCounts counts log lines per (window, entity, template),
	// Hive-partitioned by date and sorted by window_start, entity,
	// template_id; windows without lines of a template have no row.
	TableLogCounts = "log_counts"
)

// LogTemplate is one mined log template. TemplateID is the first 12 hex
// digits of the SHA-256 of the published (anonymized) text the template had
// when first mined, plus a collision counter (pipeline/logtemplates), so it
// does not change when the template generalizes.
// Variables are <*>. Sources lists the log sources (spec names) whose lines
// have the template; Count, FirstSeen and LastSeen are over the logs table
// of this version.
type LogTemplate struct {
	TemplateID string    `parquet:"template_id"`
	Template   string    `parquet:"template"`
	Sources    []string  `parquet:"sources,list"`
	FirstSeen  time.Time `parquet:"first_seen,timestamp(microsecond)"`
	LastSeen   time.Time `parquet:"last_seen,timestamp(microsecond)"`
	Count      int64     `parquet:"count"`
	// FirstTemplate is the text the template had when first mined (its id
	// hashes it); PreviousTemplates the other texts it had as it
	// generalized, oldest first: the template's lineage.
	FirstTemplate     string   `parquet:"first_template"`
	PreviousTemplates []string `parquet:"previous_templates,list"`
}

// LogCount is the number of log lines of one template for one entity in one
// window: the long form of the windows table's tpl_<template_id> columns,
// for every template.
type LogCount struct {
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	Entity      string    `parquet:"entity,dict"`
	TemplateID  string    `parquet:"template_id,dict"`
	Count       int64     `parquet:"count"`
}
