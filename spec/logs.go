package spec

import (
	"fmt"
	"regexp"
)

// LogTemplates are a log source's template-miner parameters (zero: the
// miner's defaults: depth 4, similarity 0.4, max_children 100, all masks).
type LogTemplates struct {
	Depth       int     `yaml:"depth"`
	Similarity  float64 `yaml:"similarity"`
	MaxChildren int     `yaml:"max_children"`
	// Masks names the built-in masks (ip, uuid, path, hex, number,
	// duration, size, numeric, host); absent: all; [] : none.
	Masks []string `yaml:"masks"`
	// ExtraMasks are regexps whose matches become <*> before mining.
	ExtraMasks []string `yaml:"extra_masks"`
}

// LogFeatures chooses the log template columns of the windows table.
type LogFeatures struct {
	// TopTemplates adds one count column tpl_<template_id> for each of the
	// N most frequent templates of the range's first day (ties by id),
	// chosen once so every day file has the same columns.
	TopTemplates int `yaml:"top_templates"`
}

var builtinMasks = map[string]bool{"ip": true, "uuid": true, "path": true, "hex": true, "number": true, "duration": true, "size": true, "numeric": true, "host": true}

// validateLogs checks the template parameters and log_features.
func validateLogs(s *Spec) []string {
	var errs []string
	for i, l := range s.Logs {
		add := func(format string, a ...any) {
			errs = append(errs, s.Path+": "+fmt.Sprintf("logs[%d] (%s).templates.", i, l.Name)+fmt.Sprintf(format, a...))
		}
		t := l.Templates
		if t.Depth != 0 && t.Depth < 3 {
			add("depth: %d must be at least 3", t.Depth)
		}
		if t.Similarity < 0 || t.Similarity > 1 {
			add("similarity: %v must be in (0, 1]", t.Similarity)
		}
		if t.MaxChildren != 0 && t.MaxChildren < 2 {
			add("max_children: %d must be at least 2", t.MaxChildren)
		}
		for _, m := range t.Masks {
			if !builtinMasks[m] {
				add("masks: %q is not a mask (ip, uuid, path, hex, number, duration, size, numeric, host)", m)
			}
		}
		for _, e := range t.ExtraMasks {
			if _, err := regexp.Compile(e); err != nil {
				add("extra_masks: %v", err)
			}
		}
	}
	if n := s.LogFeatures.TopTemplates; n < 0 || n > 1000 {
		errs = append(errs, s.Path+": "+fmt.Sprintf("log_features.top_templates: %d must be in 0..1000", n))
	}
	return errs
}
