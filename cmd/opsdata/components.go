package main

import (
	"github.com/opsdata/opsdata/labelers/alertmanager"
	"github.com/opsdata/opsdata/labelers/alertseries"
	"github.com/opsdata/opsdata/labelers/manual"
	"github.com/opsdata/opsdata/labelers/rule"
	"github.com/opsdata/opsdata/labelers/ticket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/sources/github"
	"github.com/opsdata/opsdata/pipeline/sources/jira"
	"github.com/opsdata/opsdata/pipeline/sources/logfile"
	"github.com/opsdata/opsdata/pipeline/sources/loki"
	"github.com/opsdata/opsdata/pipeline/sources/promapi"
	"github.com/opsdata/opsdata/pipeline/sources/promblocks"
	"github.com/opsdata/opsdata/pipeline/sources/promfile"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/opsdata/opsdata/pipeline/sources/ticketfile"
)

// components registers every source and labeler kind in one place: adding
// a kind means one line here and its package's Config and factory, nothing
// hidden in init() and nothing in the spec or the runner.
func components() pipeline.Components {
	return pipeline.Components{
		Metrics: map[string]pipeline.MetricSourceFactory{
			"tsdb":        promtsdb.Factory(),
			"blocks":      promblocks.Factory(),
			"prometheus":  promapi.Factory(),
			"openmetrics": promfile.Factory(promfile.OpenMetrics),
			"csv":         promfile.Factory(promfile.CSV),
		},
		Logs: map[string]pipeline.LogSourceFactory{
			"jsonl":  logfile.Factory("jsonl"),
			"text":   logfile.Factory("text"),
			"logfmt": logfile.Factory("logfmt"),
			"syslog": logfile.Factory("syslog"),
			"klog":   logfile.Factory("klog"),
			"logpai": logfile.Factory("logpai"),
			"cri":    logfile.Factory(logfile.FormatCRI),
			"loki":   loki.Factory(),
		},
		Tickets: map[string]pipeline.TicketSourceFactory{
			"json":   ticketfile.Factory(ticketfile.FormatJSON),
			"csv":    ticketfile.Factory(ticketfile.FormatCSV),
			"github": github.Factory(),
			"jira":   jira.Factory(),
		},
		Labelers: map[string]pipeline.LabelerFactory{
			"ticket":        ticket.Factory(),
			"rule":          rule.Factory(),
			"manual":        manual.Factory(),
			"alertmanager":  alertmanager.Factory(),
			"alerts_series": alertseries.Factory(),
		},
	}
}
