package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
)

// BaselinesFormat is the version of the baselines results file.
const BaselinesFormat = 1

// ScoreReport is what `opsdata score` reports (datasets/score), as JSON:
// the baselines results file holds one per baseline, and the dataset card
// renders them. The JSON names are a contract with readers of that file.
type ScoreReport struct {
	Split     string  `json:"split"`
	Threshold float64 `json:"threshold"`
	Windows   int     `json:"windows"`
	Predicted int     `json:"predictions_matched"`
	Point     PRF     `json:"point"`
	// PointAdjusted counts every window of an event as detected once one
	// is: it inflates scores (a single lucky window detects a long event).
	PointAdjusted PRF `json:"point_adjusted"`
	Events        int `json:"events"`
	// EventRecall is the fraction of events with a positive window inside.
	EventRecall float64 `json:"event_recall"`
	// DelayMinutes are the minutes from an event's start to its first
	// positive window, over detected events.
	MeanDelayMinutes   *float64 `json:"mean_delay_minutes"`
	MedianDelayMinutes *float64 `json:"median_delay_minutes"`
	// Warned counts events with a positive window in the pre_incident run
	// just before them; lead time is from the first such window to the start.
	Warned            int      `json:"early_warned"`
	WarnedFraction    float64  `json:"early_warned_fraction"`
	MeanLeadMinutes   *float64 `json:"mean_lead_minutes"`
	FalseAlarmsPerDay float64  `json:"false_alarms_per_day"`
}

// PRF is precision, recall and F1 with their counts.
type PRF struct {
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// BaselineResults is a baselines results file (datasets/demo-baselines.json,
// written by scripts/baselines.sh): baselines run on one version's windows
// and scored by `opsdata score`. A spec's `baselines:` names one; the card
// shows it only when WindowsDigest is the exported windows' digest
// (docs/decisions/0035-baselines-in-the-card.md).
type BaselineResults struct {
	Format int `json:"format"`
	// Dataset and ComputedOn name the version the baselines ran on.
	Dataset    string `json:"dataset"`
	ComputedOn string `json:"computed_on"`
	// WindowsDigest is WindowsDigest of that version's files.
	WindowsDigest string `json:"windows_digest"`
	// Split is the split the reports score (test).
	Split     string     `json:"split"`
	Generator string     `json:"generator"`
	Baselines []Baseline `json:"baselines"`
}

// Baseline is one baseline's description and score.
type Baseline struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Threshold   float64 `json:"threshold"`
	// ThresholdChosenOn is the split the threshold was tuned on.
	ThresholdChosenOn string `json:"threshold_chosen_on"`
	// Command is the `opsdata score` command that produced Report.
	Command string      `json:"command"`
	Report  ScoreReport `json:"report"`
}

// ManifestBaselines is the manifest's record of a spec's baselines file.
type ManifestBaselines struct {
	// File is the results file's base name.
	File          string `json:"file"`
	ComputedOn    string `json:"computed_on"`
	WindowsDigest string `json:"windows_digest"`
	Generator     string `json:"generator"`
	Split         string `json:"split"`
	// Stale says why the results are not shown (the file was computed on
	// other windows); Baselines is then empty.
	Stale     string     `json:"stale,omitempty"`
	Baselines []Baseline `json:"baselines"`
}

// ParseBaselineResults decodes a baselines results file strictly: unknown
// keys and a format other than BaselinesFormat are errors.
func ParseBaselineResults(b []byte) (*BaselineResults, error) {
	var r BaselineResults
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	if r.Format != BaselinesFormat {
		return nil, fmt.Errorf("format %d, want %d (regenerate it with scripts/baselines.sh)", r.Format, BaselinesFormat)
	}
	if r.WindowsDigest == "" || len(r.Baselines) == 0 {
		return nil, fmt.Errorf("needs windows_digest and at least one baseline (regenerate it with scripts/baselines.sh)")
	}
	for i, bl := range r.Baselines {
		if bl.Name == "" {
			return nil, fmt.Errorf("baselines[%d] has no name", i)
		}
	}
	return &r, nil
}

// WindowsDigest identifies a version's windows files: "sha256:" and the
// SHA-256 of their SHA256SUMS lines ("<sha256>  <path>\n"), sorted by path.
// "" when files hold no windows file.
func WindowsDigest(files []File) string {
	var ws []File
	for _, f := range files {
		if f.Table == TableWindows {
			ws = append(ws, f)
		}
	}
	if len(ws) == 0 {
		return ""
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Path < ws[j].Path })
	h := sha256.New()
	for _, f := range ws {
		fmt.Fprintf(h, "%s  %s\n", f.SHA256, f.Path)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
