package runner

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/label"
)

// TestLabelsAffectedBound: a window that starts before the time
// labelsAffected gives for an entity has the same labels with the old and
// the new incidents — over random histories and random changes (an
// incident added, removed, moved, ended, reopened, re-ranked), so a resumed
// export that carries such days unchanged carries what a batch export
// writes.
func TestLabelsAffectedBound(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	step := time.Minute
	grid, _ := pipeline.NewGrid(t0, t0.Add(3*24*time.Hour), step)
	cfg := label.Config{Horizon: 30 * time.Minute, Recovery: 15 * time.Minute}
	rng := rand.New(rand.NewPCG(1, 2))
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	incident := func(k int) pipeline.Incident {
		start := rng.IntN(4200)
		in := pipeline.Incident{ID: fmt.Sprintf("i%d", k), Start: at(start), Severity: []string{"minor", "major", "critical"}[rng.IntN(3)], Source: "ticket"}
		switch rng.IntN(4) {
		case 0: // open
		case 1:
			e := at(start + 1 + rng.IntN(90))
			in.End = &e
			ee := at(start + 1 + rng.IntN(200))
			in.EffectEnd = &ee
		default:
			e := at(start + 1 + rng.IntN(90))
			in.End = &e
		}
		return in
	}
	sortIncs := func(v []pipeline.Incident) {
		sort.SliceStable(v, func(i, j int) bool {
			if !v[i].Start.Equal(v[j].Start) {
				return v[i].Start.Before(v[j].Start)
			}
			return v[i].ID < v[j].ID
		})
	}
	checked := 0
	for trial := range 400 {
		var old []pipeline.Incident
		for k := range rng.IntN(8) {
			old = append(old, incident(k))
		}
		sortIncs(old)
		cur := append([]pipeline.Incident(nil), old...)
		switch op := rng.IntN(4); {
		case op == 0 || len(cur) == 0: // a new incident
			cur = append(cur, incident(100+trial))
		case op == 1: // one removed
			i := rng.IntN(len(cur))
			cur = append(cur[:i], cur[i+1:]...)
		case op == 2: // one replaced (moved, ended, re-ranked)
			i := rng.IntN(len(cur))
			n := incident(200 + trial)
			n.ID = cur[i].ID
			cur[i] = n
		default: // one's end changes
			i := rng.IntN(len(cur))
			e := cur[i].Start.Add(time.Duration(1+rng.IntN(300)) * time.Minute)
			cur[i].End = &e
		}
		sortIncs(cur)
		aff := labelsAffected(map[string][]pipeline.Incident{"a": old}, map[string][]pipeline.Incident{"a": cur}, step, cfg)
		from, changed := aff["a"]
		for _, day := range grid.Days() {
			a, b := label.Apply(day, old, cfg), label.Apply(day, cur, cfg)
			for i := range a {
				s := day.At(i)
				if changed && (from.IsZero() || !s.Before(from)) {
					continue // may differ
				}
				checked++
				if !reflect.DeepEqual(a[i], b[i]) {
					t.Fatalf("trial %d: window %s differs although labelsAffected says from %v (changed %v):\nold %+v\nnew %+v", trial, s, from, changed, a[i], b[i])
				}
			}
		}
	}
	if checked < 100000 {
		t.Fatalf("only %d windows checked", checked)
	}
}

// TestCarriedLineByPath: the last line read is kept per file path, so a
// line appended with an old time to the shorter of two files that share a
// base name (/var/log/pods/*/app/0.log) is late input, not a carried line.
func TestCarriedLineByPath(t *testing.T) {
	at := time.Date(2026, 1, 7, 0, 0, 0, 0, time.UTC)
	old := at.Add(-time.Hour)
	e := &export{resumeAt: at, lines: map[string]int64{}, resumed: &checkpoint{Lines: map[string]int64{
		"app\x00/var/log/pods/a/app/0.log": 100,
		"app\x00/var/log/pods/b/app/0.log": 10,
	}}}
	rec := func(path string, line int64, ts time.Time) *pipeline.LogRecord {
		return &pipeline.LogRecord{Source: "app", File: "0.log", Path: path, Line: line, Time: ts}
	}
	tests := []struct {
		name             string
		rec              *pipeline.LogRecord
		carried, refused bool
	}{
		{"read before, old time", rec("/var/log/pods/a/app/0.log", 90, old), true, false},
		{"new line, new day", rec("/var/log/pods/b/app/0.log", 11, at), false, false},
		{"new line in the shorter file, old time", rec("/var/log/pods/b/app/0.log", 11, old), true, true},
		{"new file, old time", rec("/var/log/pods/c/app/0.log", 1, old), true, true},
	}
	for _, tc := range tests {
		carried, err := e.carriedLine(tc.rec)
		if carried != tc.carried || (err != nil) != tc.refused || (err != nil && !errors.Is(err, ErrResume)) {
			t.Errorf("%s: carried %v, err %v; want carried %v, refused %v", tc.name, carried, err, tc.carried, tc.refused)
		}
	}
}
