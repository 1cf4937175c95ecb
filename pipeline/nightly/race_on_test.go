//go:build race

package nightly

// raceEnabled: the race detector makes TestTenNights (ten exports of up to
// ten days) take minutes; make test-go runs it once without -race.
const raceEnabled = true
