//go:build race

package runner_test

// raceEnabled: the resume property test runs several multi-day exports,
// minutes under -race; make test-go runs it once without -race.
const raceEnabled = true
