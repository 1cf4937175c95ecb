// Package pipelinetest holds what tests of several stages share: a fixed
// clock on the demo's first day, in minutes.
package pipelinetest

import "time"

// T0 is 2026-01-05T00:00:00Z, the demo's first instant.
var T0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// At is T0 plus m minutes.
func At(m float64) time.Time { return T0.Add(time.Duration(m * float64(time.Minute))) }

// AtP is At as a pointer (optional times: End, EffectEnd, Resolved).
func AtP(m float64) *time.Time {
	t := At(m)
	return &t
}
