package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/pipeline/nightly"
)

// Exit codes of `opsdata nightly` and `opsdata gc` (docs/nightly.md). A
// scheduler that treats every non-zero code as failure runs with
// --exit-zero-unless-failed (the Kubernetes CronJob does); systemd lists
// 3 and 4 in SuccessExitStatus.
const (
	ExitPublished   = 0
	ExitFailed      = 1
	ExitNothingToDo = 3
	ExitLeaseHeld   = 4
)

// exitError carries a command's exit code to main; err may be nil.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// outcomeCode maps a run's outcome to its exit code.
func outcomeCode(o nightly.Outcome) int {
	switch o {
	case nightly.Published:
		return ExitPublished
	case nightly.NothingToDo:
		return ExitNothingToDo
	case nightly.LeaseHeld:
		return ExitLeaseHeld
	default:
		return ExitFailed
	}
}

func nightlyCommand() *cli.Command {
	return &cli.Command{
		Name:  "nightly",
		Usage: "grow the dataset by every complete day since the last run and republish days whose labels changed",
		Description: `Made for a scheduler (Kubernetes CronJob, systemd timer). All state is in the
bucket: the run takes the dataset's lease, exports every complete day since the
watermark (at most nightly.max_days, only days ended nightly.settle ago),
recomputes past days whose tickets changed, and publishes a snapshot that shares
unchanged day files with the previous ones. Nothing new: nothing is published and
no metric or log is read.

Exit codes: 0 published, 3 nothing to do, 4 lease held by another run (nothing
written), 1 failed. --exit-zero-unless-failed maps 3 and 4 to 0.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Aliases: []string{"s"}, Usage: "dataset spec `FILE`", Required: true},
			&cli.StringFlag{Name: "now", Usage: "the run's clock (RFC 3339 or YYYY-MM-DD, UTC), for tests and backfills; default: now"},
			&cli.StringFlag{Name: "output", Usage: "output URL (file://DIR or s3://BUCKET/PREFIX); overrides the spec"},
			&cli.BoolFlag{Name: "exit-zero-unless-failed", Usage: "exit 0 for nothing to do and lease held too (for schedulers that count every other code as a failure)"},
			&cli.BoolFlag{Name: "full", Usage: "export every day from its inputs instead of resuming from the last snapshot's checkpoint (after a backfill into published days)"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log progress to stderr"},
		},
		Action: func(c *cli.Context) error {
			a, err := readRunArgs(c)
			if err != nil {
				return err
			}
			now, err := parseTime("--now", c.String("now"))
			if err != nil {
				return err
			}
			rep, err := nightly.Run(c.Context, nightly.Options{
				Spec: a.spec, SpecBytes: a.bytes, Components: components(), Now: now,
				Output: c.String("output"), CodeVersion: version, Logger: a.logger, Full: c.Bool("full"),
			})
			printNightly(c.App.Writer, rep)
			code := outcomeCode(rep.Outcome)
			if c.Bool("exit-zero-unless-failed") && code != ExitFailed {
				code = 0
			}
			if rep.Outcome == nightly.LeaseHeld {
				err = nil // said on stdout
			}
			if code == 0 && err == nil {
				return nil
			}
			return &exitError{code: code, err: err}
		},
	}
}

func printNightly(w io.Writer, rep *nightly.Report) {
	if rep == nil {
		return
	}
	fmt.Fprintf(w, "%s: %s\n", rep.Outcome, rep.Message)
	for _, d := range rep.DaysAdded {
		fmt.Fprintf(w, "  added      %s\n", d)
	}
	for _, d := range rep.DaysChanged {
		fmt.Fprintf(w, "  republished %s (%v): %v\n", d.Date, d.Tables, d.Reasons)
	}
	if rep.Outcome == nightly.Published {
		if rep.ModeReason != "" {
			fmt.Fprintf(w, "  export: %s (%s)\n", rep.Mode, rep.ModeReason)
		} else {
			fmt.Fprintf(w, "  export: %s\n", rep.Mode)
		}
		fmt.Fprintf(w, "  parts: %d uploaded (%d bytes), %d shared with earlier snapshots\n", rep.PartsUploaded, rep.BytesUploaded, rep.PartsReused)
	}
}
