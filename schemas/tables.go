package schemas

// TableDescriptions says what each table holds, for the card, the catalog
// page and Croissant.
var TableDescriptions = map[string]string{
	"windows":       "The ML-ready table: one row per (window, entity) with the feature columns, log counts per level and the incident and prediction labels.",
	"metrics":       "The feature values in long form: one row per (window, series); join `series` on `series_id` for the series' labels.",
	"series":        "One row per metric series: its feature, entity and label set (a JSON object, identifying values pseudonymized).",
	"logs":          "Log lines with anonymized messages.",
	"log_templates": "Log templates mined from the messages, with their lineage (first text, previous texts); join logs or log_counts on template_id.",
	"tickets":       "Incident tickets, title and body anonymized.",
	"log_counts":    "Log lines per (window, entity, template): the long form of the windows table's tpl_<template_id> columns, for every template.",
	"samples":       "Raw samples (raw export): every sample of the selected series, no aggregation; join raw_series on series_id.",
	"raw_series":    "One row per raw series: its metric name and label set (a JSON object, anonymized).",
	"incidents":     "Labelled incident intervals per entity with their provenance (label source and the source's id).",
}
