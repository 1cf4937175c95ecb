package runner

import (
	"log/slog"
	"sync"
	"time"
)

// Stage is the wall time an export spent in one of its stages, summed over
// the days (Result.Stages). Stages that run on another goroutine (parsing
// ahead of pass 1 and pass 2, the log writer) are the time that goroutine
// was busy, so they overlap the others: the sum is not the export's wall
// time.
type Stage struct {
	Name string
	Wall time.Duration
}

// Stage names, in the order an export reports them.
const (
	stageLabels        = "labels"
	stageMetricsLearn  = "metrics.learn"
	stageLogs1Parse    = "logs.pass1.parse" // on the read-ahead goroutine
	stageLogs1         = "logs.pass1.mine"  // learning fields, mining (waits for parsing included)
	stageTemplatesFix  = "templates.fix"
	stageMetrics       = "metrics.features"
	stageLogs2Parse    = "logs.pass2.parse"     // on the read-ahead goroutine
	stageLogs2Wait     = "logs.pass2.wait"      // pass 2 waiting for parsed lines and for a batch's scrub
	stageLogs2Scrub    = "logs.pass2.anonymize" // scrubbing ahead and finding clusters, on every core
	stageLogs2Settle   = "logs.pass2.settle"    // in line order: scrubs checked (re-scrubbed), templates and counts
	stageLogs2Write    = "logs.pass2.write"     // on the writer goroutine
	stageLogCounts     = "log_counts"
	stageWindows       = "windows"
	stageTables        = "tables" // range-level tables after the last day
	stageCarry         = "carry"  // a resumed export: earlier days fetched, windows relabelled
	stageGate          = "gate"
	stagePublish       = "publish"
	stageExportOverall = "total"
)

var stageOrder = []string{stageLabels, stageMetricsLearn, stageLogs1Parse, stageLogs1, stageTemplatesFix, stageMetrics,
	stageLogs2Parse, stageLogs2Wait, stageLogs2Scrub, stageLogs2Settle, stageLogs2Write,
	stageLogCounts, stageWindows, stageTables, stageCarry, stageGate, stagePublish, stageExportOverall}

// stageClock sums wall time per stage; safe for concurrent use (the
// read-ahead and writer goroutines report into it). A nil clock times
// nothing.
type stageClock struct {
	mu sync.Mutex
	d  map[string]time.Duration
}

func newStageClock() *stageClock { return &stageClock{d: map[string]time.Duration{}} }

// since adds the time from t0 to now to stage name.
func (c *stageClock) since(name string, t0 time.Time) {
	c.add(name, time.Since(t0))
}

func (c *stageClock) add(name string, d time.Duration) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.d[name] += d
	c.mu.Unlock()
}

// stages lists the timed stages in report order.
func (c *stageClock) stages() []Stage {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Stage
	for _, n := range stageOrder {
		if d, ok := c.d[n]; ok {
			out = append(out, Stage{Name: n, Wall: d})
		}
	}
	return out
}

// log writes the stages at Info level: the CLI shows them with --verbose
// only, so the default output stays deterministic.
func (c *stageClock) log(l *slog.Logger) {
	attrs := []any{}
	for _, s := range c.stages() {
		attrs = append(attrs, s.Name, s.Wall.Round(time.Millisecond).String())
	}
	l.Info("stage times", attrs...)
}
