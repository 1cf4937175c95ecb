package score

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/schemas"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// grid builds one entity's windows from a phase string: n normal, p
// pre_incident, I incident, r recovery; one character per minute.
func grid(entity, phases string) []Window {
	names := map[rune]string{'n': "normal", 'p': "pre_incident", 'I': "incident", 'r': "recovery"}
	var out []Window
	for i, c := range phases {
		out = append(out, Window{Entity: entity, Start: t0.Add(time.Duration(i) * time.Minute), Active: c == 'I', Phase: names[c]})
	}
	return out
}

// preds marks the windows whose character is '1'.
func preds(entity, marks string) []Prediction {
	var out []Prediction
	for i, c := range marks {
		v := 0.0
		if c == '1' {
			v = 1
		}
		out = append(out, Prediction{Entity: entity, Start: t0.Add(time.Duration(i) * time.Minute), Score: v})
	}
	return out
}

func TestScore(t *testing.T) {
	cases := []struct {
		name               string
		truth, marks       string
		wantPoint, wantAdj PRF
		events, warned     int
		eventRecall        float64
		delay, lead        float64 // -1: none
	}{
		{"perfect", "nnppIIIInn", "0000111100", mkPRF(4, 0, 0, 1, 1, 1), mkPRF(4, 0, 0, 1, 1, 1), 1, 0, 1, 0, -1},
		{"late single hit: point adjustment inflates", "nnnnIIIInn", "0000000100", mkPRF(1, 0, 3, 1, 0.25, 0.4), mkPRF(4, 0, 0, 1, 1, 1), 1, 0, 1, 3, -1},
		{"early warning and a false alarm", "nnnnppIIrn", "1000010000", mkPRF(0, 2, 2, 0, 0, 0), mkPRF(0, 2, 2, 0, 0, 0), 1, 1, 0, -1, 1},
		{"two events, one missed", "nIInnIIn", "01000000", mkPRF(1, 0, 3, 1, 0.25, 0.4), mkPRF(2, 0, 2, 1, 0.5, 2.0/3), 2, 0, 0.5, 0, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Score(grid("svc", tc.truth), preds("svc", tc.marks), Options{Threshold: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			if !near(r.Point, tc.wantPoint) || !near(r.PointAdjusted, tc.wantAdj) {
				t.Errorf("point %+v adjusted %+v, want %+v %+v", r.Point, r.PointAdjusted, tc.wantPoint, tc.wantAdj)
			}
			if r.Events != tc.events || r.Warned != tc.warned || r.EventRecall != tc.eventRecall {
				t.Errorf("events %d warned %d recall %v", r.Events, r.Warned, r.EventRecall)
			}
			if got := val(r.MeanDelayMinutes); got != tc.delay {
				t.Errorf("delay %v, want %v", got, tc.delay)
			}
			if got := val(r.MeanLeadMinutes); got != tc.lead {
				t.Errorf("lead %v, want %v", got, tc.lead)
			}
		})
	}
}

func TestSplitAndGap(t *testing.T) {
	truth := grid("svc", "nnIInnII")
	for i := range truth {
		truth[i].Split = "train"
		if i >= 4 {
			truth[i].Split = "test"
		}
	}
	truth[3].Split = "gap"
	r, err := Score(truth, preds("svc", "00110011"), Options{Threshold: 0.5, Split: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Windows != 4 || r.Point.TP != 2 || r.Events != 1 {
		t.Errorf("test split: %+v", r)
	}
	r, _ = Score(truth, preds("svc", "00110011"), Options{Threshold: 0.5})
	if r.Windows != 7 {
		t.Errorf("gap windows scored: %d windows", r.Windows)
	}
	if _, err := Score(truth, nil, Options{Split: "validation"}); !errors.Is(err, ErrNoWindows) {
		t.Errorf("empty split: %v", err)
	}
}

func TestReadCSV(t *testing.T) {
	got, err := readCSV(strings.NewReader("entity,window_start,label\nsvc,2026-01-05T00:01:00Z,true\nsvc,2026-01-05T00:02:00Z,0\n"))
	if err != nil || len(got) != 2 || got[0].Score != 1 || got[1].Score != 0 || !got[0].Start.Equal(t0.Add(time.Minute)) {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"entity,score\nsvc,1\n", "entity,window_start,score\nsvc,yesterday,1\n", "entity,window_start,score\nsvc,2026-01-05T00:00:00Z,high\n"} {
		if _, err := readCSV(strings.NewReader(bad)); !errors.Is(err, ErrPredictions) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func near(a, b PRF) bool {
	d := func(x, y float64) bool { return x-y < 1e-9 && y-x < 1e-9 }
	return a.TP == b.TP && a.FP == b.FP && a.FN == b.FN && d(a.Precision, b.Precision) && d(a.Recall, b.Recall) && d(a.F1, b.F1)
}

func val(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func mkPRF(tp, fp, fn int, p, r, f1 float64) PRF {
	return PRF{TP: tp, FP: fp, FN: fn, Precision: p, Recall: r, F1: f1}
}

// The JSON `opsdata score --json` prints is the schemas.ScoreReport the
// baselines results file and the card read: every key decodes, strictly.
func TestReportJSONIsTheContract(t *testing.T) {
	r, err := Score(grid("svc", "nnppIIIInn"), preds("svc", "0001110000"), Options{Threshold: 0.5, Split: ""})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"point", "point_adjusted", "event_recall", "mean_delay_minutes", "early_warned_fraction", "mean_lead_minutes", "false_alarms_per_day"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, buf.Bytes())
		}
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	var got schemas.ScoreReport
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode as schemas.ScoreReport: %v", err)
	}
	if got.Point != r.Point || got.Events != 1 || got.Warned != 1 || got.MeanLeadMinutes == nil || *got.MeanLeadMinutes != 1 {
		t.Errorf("decoded %+v, want the report %+v", got, r.ScoreReport)
	}
}
