package main

import (
	"github.com/opsdata/opsdata/labelers"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/sources/github"
	"github.com/opsdata/opsdata/pipeline/sources/jira"
	"github.com/opsdata/opsdata/pipeline/sources/logfile"
	"github.com/opsdata/opsdata/pipeline/sources/loki"
	"github.com/opsdata/opsdata/pipeline/sources/promapi"
	"github.com/opsdata/opsdata/pipeline/sources/promfile"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/opsdata/opsdata/pipeline/sources/ticketfile"
)

// components registers every source and labeler kind in one place: adding
// a kind means one line here and its spec validation, nothing hidden in init().
func components() pipeline.Components {
	return pipeline.Components{
		Metrics: map[string]pipeline.MetricSourceFactory{
			"tsdb":        promtsdb.New,
			"prometheus":  promapi.New,
			"openmetrics": promfile.NewOpenMetrics,
			"csv":         promfile.NewCSV,
		},
		Logs: map[string]pipeline.LogSourceFactory{
			"jsonl":  logfile.New,
			"text":   logfile.New,
			"logfmt": logfile.New,
			"syslog": logfile.New,
			"klog":   logfile.New,
			"logpai": logfile.New,
			"loki":   loki.New,
		},
		Tickets: map[string]pipeline.TicketSourceFactory{
			"json":   ticketfile.New,
			"csv":    ticketfile.New,
			"github": github.New,
			"jira":   jira.New,
		},
		Labelers: map[string]pipeline.LabelerFactory{
			"ticket":        labelers.NewTicket,
			"rule":          labelers.NewRule,
			"manual":        labelers.NewManual,
			"alertmanager":  labelers.NewAlertmanager,
			"alerts_series": labelers.NewAlertSeries,
		},
	}
}
