package publish

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/opsdata/opsdata/schemas"
)

// tasksSection names the tasks the labels support, their targets and how
// `opsdata score` scores each (datasets/score).
func tasksSection(m *schemas.Manifest) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## Tasks\n\n")
	p("The labels of `windows` support three tasks. `opsdata score VERSION-DIR PREDICTIONS` scores all three from one predictions file (CSV or Parquet of `entity`, `window_start` and `score` or `label`; a window is predicted positive when its score is at least `--threshold`, default 0.5; a window without a prediction counts as negative)")
	if m.Split != nil {
		p(". Report results on the test split, `--split test`, with thresholds and other choices made on `train` and `validation`; `gap` windows are never scored")
	}
	p(".\n\n")
	p("| task | target columns | how `opsdata score` scores it |\n|---|---|---|\n")
	p("| per-window detection | `incident_active`: the %s has an active incident in the window | point-wise precision, recall and F1 over windows; point-adjusted F1 (below) |\n", orDash(m.EntityKind))
	p("| incident-level detection with delay | an event is a run of consecutive `incident_active` windows of one %s (`incident_ids` names its incidents) | event-wise recall: the share of events with a positive window; detection delay: minutes from the event's first window to its first positive one (mean, median) |\n", orDash(m.EntityKind))
	p("| early warning within the horizon | `phase` = `pre_incident` (the labeler's horizon before an incident) and `minutes_to_next_incident` | an event is warned when a window of the pre_incident run just before it is positive; lead time: minutes from the first such window to the event's start (mean); false alarms per day (positive windows outside incidents) |\n\n")
	p("**Point-adjusted F1 inflates scores.** Point adjustment counts every window of an event as detected once any one of them is, so a detector that fires once per long event, or at random, scores high. Report it only beside the point-wise and event-wise figures.\n\n")
	return b.String()
}

// baselinesSection is the card's table of the spec's baseline scores
// (docs/decisions/0035-baselines-in-the-card.md).
func baselinesSection(m *schemas.Manifest) string {
	bl := m.Baselines
	if bl == nil {
		return ""
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## Baselines\n\n")
	if bl.Stale != "" {
		p("Baseline results are not shown: %s. Re-run `scripts/baselines.sh` on this version and export again.\n\n", bl.Stale)
		return b.String()
	}
	p("Unsupervised baselines, fitted on `train`, each with its threshold chosen on another split and scored by `opsdata score --split %s`; computed by %s on windows `%s` (this version's, so the figures are reproducible from it). Higher is better except delay and false alarms.\n\n", bl.Split, cell(orDash(bl.Generator)), bl.WindowsDigest)
	p("| baseline | threshold | point P | point R | point F1 | point-adjusted F1 | event recall | mean delay (min) | early warned | mean lead (min) | false alarms/day |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range bl.Baselines {
		p("%s\n", BaselineRow(x))
	}
	p("\n")
	for _, x := range bl.Baselines {
		p("- `%s`: %s; threshold chosen on %s (max point-wise F1). `%s`\n", x.Name, cell(x.Description), orDash(x.ThresholdChosenOn), x.Command)
	}
	p("\nTo reproduce them, `python notebooks/baselines.py VERSION-DIR OUT-DIR` (from the opsdata repository, with its notebooks/requirements.txt) writes each baseline's predictions to `OUT-DIR/<name>.csv` and runs these commands; notebook 05-baselines shows the same.\n\n")
	return b.String()
}

// BaselineRow is a baseline's row of the card's table: its figures
// rounded as shown (ratios to 3 decimals, minutes to 1; "-" for none).
// tests/python/test_baselines.py formats `opsdata score --json` the same
// way and looks for the row in the card.
func BaselineRow(x schemas.Baseline) string {
	r := x.Report
	f3 := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	f1 := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'f', 1, 64)
	}
	return fmt.Sprintf("| `%s` | %s | %s | %s | %s | %s | %s (%d of %d) | %s | %s (%d of %d) | %s | %s |",
		x.Name, strconv.FormatFloat(x.Threshold, 'g', 4, 64),
		f3(r.Point.Precision), f3(r.Point.Recall), f3(r.Point.F1), f3(r.PointAdjusted.F1),
		f3(r.EventRecall), roundCount(r.EventRecall, r.Events), r.Events, f1(r.MeanDelayMinutes),
		f3(r.WarnedFraction), r.Warned, r.Events, f1(r.MeanLeadMinutes),
		strconv.FormatFloat(r.FalseAlarmsPerDay, 'f', 1, 64))
}

func roundCount(frac float64, n int) int {
	return int(frac*float64(n) + 0.5)
}
