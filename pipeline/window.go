// Package pipeline holds the contracts between the stages of an export:
// the window grid, the records that flow between stages, and the small
// interfaces a source or labeler implements. The runner that wires them
// together lives in pipeline/runner; concrete sources in pipeline/sources.
//
//	sources ──► align ──► labelers ──► anonymize ──► write ──► publish
package pipeline

import (
	"errors"
	"fmt"
	"time"
)

// Grid is the UTC window grid of an export: windows [Start+i*Step,
// Start+(i+1)*Step) for i in [0, Len()). Start and End are multiples of Step
// since the Unix epoch, so grids of different exports line up.
type Grid struct {
	Start time.Time
	End   time.Time
	Step  time.Duration
}

// ErrEmptyRange is returned when an export range holds no window.
var ErrEmptyRange = errors.New("empty export range")

// NewGrid aligns [from, to) outward to the epoch-aligned grid of step.
func NewGrid(from, to time.Time, step time.Duration) (Grid, error) {
	if step <= 0 {
		return Grid{}, fmt.Errorf("window step must be positive, got %s", step)
	}
	if !to.After(from) {
		return Grid{}, fmt.Errorf("%w: from %s is not before to %s", ErrEmptyRange, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	s := step.Milliseconds()
	if s <= 0 || time.Duration(s)*time.Millisecond != step {
		return Grid{}, fmt.Errorf("window step %s must be a whole number of milliseconds", step)
	}
	start := floorDiv(from.UnixMilli(), s) * s
	end := -floorDiv(-to.UnixMilli(), s) * s
	return Grid{Start: time.UnixMilli(start).UTC(), End: time.UnixMilli(end).UTC(), Step: step}, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Len is the number of windows.
func (g Grid) Len() int { return int(g.End.Sub(g.Start) / g.Step) }

// At is the start of window i.
func (g Grid) At(i int) time.Time { return g.Start.Add(time.Duration(i) * g.Step) }

// Index returns the window containing t, and false when t is outside the grid.
func (g Grid) Index(t time.Time) (int, bool) {
	if t.Before(g.Start) || !t.Before(g.End) {
		return 0, false
	}
	return int(t.Sub(g.Start) / g.Step), true
}

// Overlapping returns the half-open index range [lo, hi) of windows that
// overlap the interval [from, to). A nil to means "still open": up to the
// end of the grid.
func (g Grid) Overlapping(from time.Time, to *time.Time) (lo, hi int) {
	end := g.End
	if to != nil && to.Before(end) {
		end = *to
	}
	if !end.After(from) || !end.After(g.Start) || !from.Before(g.End) {
		return 0, 0
	}
	if from.Before(g.Start) {
		lo = 0
	} else {
		lo = int(from.Sub(g.Start) / g.Step)
	}
	// last window whose start is before end
	hi = int((end.Sub(g.Start) + g.Step - 1) / g.Step)
	if hi > g.Len() {
		hi = g.Len()
	}
	return lo, hi
}

// Days splits the grid at UTC midnights, the boundaries of the Hive
// date=YYYY-MM-DD partitions. Each part keeps the grid's step.
func (g Grid) Days() []Grid {
	var out []Grid
	for s := g.Start; s.Before(g.End); {
		y, m, d := s.Date()
		next := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
		if next.After(g.End) {
			next = g.End
		}
		// keep every part on the grid: a window straddling midnight belongs to the day it starts in
		n := int((next.Sub(s) + g.Step - 1) / g.Step)
		e := s.Add(time.Duration(n) * g.Step)
		if e.After(g.End) {
			e = g.End
		}
		out = append(out, Grid{Start: s, End: e, Step: g.Step})
		s = e
	}
	return out
}

// FeatureSliceSteps is how many windows one range query of a feature
// evaluates: sources cut a day into slices of it (bounding the points a
// query holds), and sharded exports split their work at the same
// boundaries, so a slice evaluated alone is the very query one process
// runs.
const FeatureSliceSteps = 240

// Slices cuts the grid into consecutive grids of at most steps windows
// each, counted from its start; together they hold its windows in order.
func (g Grid) Slices(steps int) []Grid {
	n := g.Len()
	var out []Grid
	for lo := 0; lo < n; lo += steps {
		hi := min(lo+steps, n)
		out = append(out, Grid{Start: g.At(lo), End: g.At(hi), Step: g.Step})
	}
	return out
}

// Date is the partition value of a time: its UTC date.
func Date(t time.Time) string { return t.UTC().Format("2006-01-02") }

// FirstEndingAfter is the first window i with At(i)+Step > t, clamped
// to [0, Len()]: the window holding t, or 0 / Len() when t is outside.
func (g Grid) FirstEndingAfter(t time.Time) int {
	if t.Before(g.Start) {
		return 0
	}
	if !t.Before(g.End) {
		return g.Len()
	}
	return int(t.Sub(g.Start) / g.Step)
}

// FirstStartingAtOrAfter is the first window i with At(i) >= t,
// clamped to [0, Len()].
func (g Grid) FirstStartingAtOrAfter(t time.Time) int {
	if !t.After(g.Start) {
		return 0
	}
	if !t.Before(g.End) {
		return g.Len()
	}
	d := t.Sub(g.Start)
	return int((d + g.Step - 1) / g.Step)
}
