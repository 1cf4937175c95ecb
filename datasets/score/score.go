// Package score scores anomaly and incident predictions against a
// published version's labels (`opsdata score VERSION PREDICTIONS`):
// point-wise precision/recall/F1, event-wise recall with detection delay,
// point-adjusted F1 and early-warning lead time. Ground truth is the
// windows table of a local version directory (after `opsdata pull`): a
// window is positive when incident_active; an event is a run of positive
// windows of one entity. It imports schemas only (and parquet-go).
package score

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/schemas"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrPredictions: the predictions file cannot be read or lacks columns.
	ErrPredictions = errors.New("bad predictions")
	// ErrNoWindows: the selection holds no windows to score.
	ErrNoWindows = errors.New("no windows to score")
)

// Window is one labelled window of the ground truth.
type Window struct {
	Entity      string
	Start       time.Time
	Active      bool   // incident_active
	Phase       string // normal, pre_incident, incident, recovery
	Split       string // "" without a split policy
	Predicted   bool
	PredictedAt bool // a prediction was given for the window
}

type truthRow struct {
	WindowStart    time.Time `parquet:"window_start,timestamp(millisecond)"`
	Entity         string    `parquet:"entity"`
	IncidentActive bool      `parquet:"incident_active"`
	Phase          string    `parquet:"phase"`
	Split          *string   `parquet:"split,optional"`
}

// LoadTruth reads the windows table of the version directory dir.
func LoadTruth(dir string) ([]Window, error) {
	files, err := filepath.Glob(filepath.Join(dir, schemas.TableWindows, "*", "*.parquet"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("score: %s has no %s files: %w", dir, schemas.TableWindows, ErrNoWindows)
	}
	sort.Strings(files)
	var out []Window
	for _, f := range files {
		rows, err := parquet.ReadFile[truthRow](f)
		if err != nil {
			return nil, fmt.Errorf("score: read %s: %w", f, err)
		}
		for _, r := range rows {
			w := Window{Entity: r.Entity, Start: r.WindowStart.UTC(), Active: r.IncidentActive, Phase: r.Phase}
			if r.Split != nil {
				w.Split = *r.Split
			}
			out = append(out, w)
		}
	}
	return out, nil
}

// Prediction is one predicted window.
type Prediction struct {
	Entity string
	Start  time.Time
	// Score is compared with the threshold; a label prediction is 0 or 1.
	Score float64
}

// LoadPredictions reads a CSV (header with entity, window_start and score
// or label; RFC 3339 times) or Parquet file (the same columns; score a
// double, label a boolean) of predictions.
func LoadPredictions(path string) ([]Prediction, error) {
	if strings.HasSuffix(path, ".parquet") {
		return loadParquet(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	defer f.Close()
	return readCSV(f)
}

func readCSV(r io.Reader) ([]Prediction, error) {
	cr := csv.NewReader(r)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("score: predictions header: %w: %w", ErrPredictions, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.ToLower(h))] = i
	}
	ei, ok1 := col["entity"]
	ti, ok2 := col["window_start"]
	vi, ok3 := col["score"]
	if !ok3 {
		vi, ok3 = col["label"]
	}
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("score: predictions need columns entity, window_start and score or label (have %s): %w", strings.Join(head, ", "), ErrPredictions)
	}
	var out []Prediction
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("score: predictions line %d: %w: %w", line, ErrPredictions, err)
		}
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(rec[ti]))
		if err != nil {
			return nil, fmt.Errorf("score: predictions line %d: window_start %q: %w", line, rec[ti], ErrPredictions)
		}
		v, err := parseValue(rec[vi])
		if err != nil {
			return nil, fmt.Errorf("score: predictions line %d: %w: %w", line, ErrPredictions, err)
		}
		out = append(out, Prediction{Entity: rec[ei], Start: t.UTC(), Score: v})
	}
}

func parseValue(s string) (float64, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	}
	return strconv.ParseFloat(strings.TrimSpace(s), 64)
}

type scoreRow struct {
	Entity      string    `parquet:"entity"`
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	Score       float64   `parquet:"score"`
}

type labelRow struct {
	Entity      string    `parquet:"entity"`
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	Label       bool      `parquet:"label"`
}

func loadParquet(path string) ([]Prediction, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("score: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("score: %s: %w: %w", path, ErrPredictions, err)
	}
	var out []Prediction
	switch {
	case hasColumn(pf, "score"):
		rows, err := parquet.ReadFile[scoreRow](path)
		if err != nil {
			return nil, fmt.Errorf("score: %s: %w: %w", path, ErrPredictions, err)
		}
		for _, r := range rows {
			out = append(out, Prediction{Entity: r.Entity, Start: r.WindowStart.UTC(), Score: r.Score})
		}
	case hasColumn(pf, "label"):
		rows, err := parquet.ReadFile[labelRow](path)
		if err != nil {
			return nil, fmt.Errorf("score: %s: %w: %w", path, ErrPredictions, err)
		}
		for _, r := range rows {
			v := 0.0
			if r.Label {
				v = 1
			}
			out = append(out, Prediction{Entity: r.Entity, Start: r.WindowStart.UTC(), Score: v})
		}
	default:
		return nil, fmt.Errorf("score: %s has neither a score nor a label column: %w", path, ErrPredictions)
	}
	return out, nil
}

func hasColumn(pf *parquet.File, name string) bool {
	_, ok := pf.Schema().Lookup(name)
	return ok
}

// Options choose what is scored.
type Options struct {
	// Threshold: a window is predicted positive when its score >= Threshold.
	Threshold float64
	// Split restricts scoring to windows of this split ("" = every window
	// but gap ones).
	Split string
}

// Report is the result of Score: schemas.ScoreReport, the JSON contract
// the baselines results file and the dataset card share.
type Report struct {
	schemas.ScoreReport
}

// PRF is precision, recall and F1 with their counts.
type PRF = schemas.PRF

func prf(tp, fp, fn int) PRF {
	p := PRF{TP: tp, FP: fp, FN: fn}
	if tp+fp > 0 {
		p.Precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		p.Recall = float64(tp) / float64(tp+fn)
	}
	if p.Precision+p.Recall > 0 {
		p.F1 = 2 * p.Precision * p.Recall / (p.Precision + p.Recall)
	}
	return p
}

type key struct {
	entity string
	start  int64
}

// Score scores preds against truth. Windows without a prediction count as
// predicted negative.
func Score(truth []Window, preds []Prediction, o Options) (*Report, error) {
	byKey := make(map[key]float64, len(preds))
	for _, p := range preds {
		byKey[key{p.Entity, p.Start.UnixMilli()}] = p.Score
	}
	var sel []Window
	for _, w := range truth {
		if w.Split == schemas.SplitGap || (o.Split != "" && w.Split != o.Split) {
			continue
		}
		if v, ok := byKey[key{w.Entity, w.Start.UnixMilli()}]; ok {
			w.PredictedAt = true
			w.Predicted = v >= o.Threshold
		}
		sel = append(sel, w)
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("score: split %q: %w", o.Split, ErrNoWindows)
	}
	sort.SliceStable(sel, func(i, j int) bool {
		if sel[i].Entity != sel[j].Entity {
			return sel[i].Entity < sel[j].Entity
		}
		return sel[i].Start.Before(sel[j].Start)
	})
	r := &Report{schemas.ScoreReport{Split: o.Split, Threshold: o.Threshold, Windows: len(sel)}}
	// The grid step: the smallest gap between an entity's windows.
	var step time.Duration
	days := map[string]bool{}
	for i, w := range sel {
		days[w.Start.Format(time.DateOnly)] = true
		if w.PredictedAt {
			r.Predicted++
		}
		if i > 0 && sel[i-1].Entity == w.Entity {
			if d := w.Start.Sub(sel[i-1].Start); d > 0 && (step == 0 || d < step) {
				step = d
			}
		}
	}
	var tp, fp, fn, atp, afn int
	var delays, leads []float64
	for i := 0; i < len(sel); {
		w := sel[i]
		if !w.Active {
			if w.Predicted {
				fp++
			}
			i++
			continue
		}
		// An event: the run of consecutive active windows of this entity from i.
		j := i + 1
		for j < len(sel) && sel[j].Entity == w.Entity && sel[j].Active && sel[j].Start.Sub(sel[j-1].Start) == step {
			j++
		}
		r.Events++
		detected := -1
		for k := i; k < j; k++ {
			if sel[k].Predicted {
				tp++
				if detected < 0 {
					detected = k
				}
			} else {
				fn++
			}
		}
		if detected >= 0 {
			atp += j - i
			delays = append(delays, sel[detected].Start.Sub(w.Start).Minutes())
		} else {
			afn += j - i
		}
		// Early warning: a positive window in the pre_incident run just before the event.
		first := -1
		for k := i - 1; k >= 0 && sel[k].Entity == w.Entity && sel[k].Phase == schemas.PhasePreIncident; k-- {
			if sel[k].Predicted {
				first = k
			}
		}
		if first >= 0 {
			r.Warned++
			leads = append(leads, w.Start.Sub(sel[first].Start).Minutes())
		}
		i = j
	}
	r.Point = prf(tp, fp, fn)
	r.PointAdjusted = prf(atp, fp, afn)
	if r.Events > 0 {
		r.EventRecall = float64(len(delays)) / float64(r.Events)
		r.WarnedFraction = float64(r.Warned) / float64(r.Events)
	}
	r.MeanDelayMinutes, r.MedianDelayMinutes = mean(delays), median(delays)
	r.MeanLeadMinutes = mean(leads)
	if len(days) > 0 {
		r.FalseAlarmsPerDay = float64(fp) / float64(len(days))
	}
	return r, nil
}

func mean(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	m := s / float64(len(xs))
	return &m
}

func median(xs []float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	c := append([]float64(nil), xs...)
	sort.Float64s(c)
	m := c[len(c)/2]
	if len(c)%2 == 0 {
		m = (c[len(c)/2-1] + c[len(c)/2]) / 2
	}
	return &m
}

// WriteTable prints the report as a text table.
func (r *Report) WriteTable(w io.Writer) {
	split := r.Split
	if split == "" {
		split = "all (gap windows excluded)"
	}
	fmt.Fprintf(w, "split %s, threshold %g: %d windows, %d with a prediction, %d events\n\n", split, r.Threshold, r.Windows, r.Predicted, r.Events)
	fmt.Fprintf(w, "%-28s %9s %9s %9s %7s %7s %7s\n", "metric", "precision", "recall", "f1", "tp", "fp", "fn")
	for _, row := range []struct {
		name string
		p    PRF
	}{{"point-wise", r.Point}, {"point-adjusted (inflated)", r.PointAdjusted}} {
		fmt.Fprintf(w, "%-28s %9.3f %9.3f %9.3f %7d %7d %7d\n", row.name, row.p.Precision, row.p.Recall, row.p.F1, row.p.TP, row.p.FP, row.p.FN)
	}
	fmt.Fprintf(w, "\nevent-wise recall      %.3f (%d of %d events)\n", r.EventRecall, int(math.Round(r.EventRecall*float64(r.Events))), r.Events)
	fmt.Fprintf(w, "detection delay        mean %s, median %s minutes\n", fmtPtr(r.MeanDelayMinutes), fmtPtr(r.MedianDelayMinutes))
	fmt.Fprintf(w, "early warning          %d of %d events (%.3f), mean lead %s minutes\n", r.Warned, r.Events, r.WarnedFraction, fmtPtr(r.MeanLeadMinutes))
	fmt.Fprintf(w, "false alarms           %.1f windows per day\n", r.FalseAlarmsPerDay)
	fmt.Fprintf(w, "\nPoint adjustment marks a whole event detected when any one of its windows is: it inflates F1\n(a random detector scores high on long events). Report point-wise and event-wise figures too.\n")
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.ScoreReport)
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64)
}
