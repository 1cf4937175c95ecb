package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/pipeline/nightly"
	"github.com/opsdata/opsdata/pipeline/runner"
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
	case nightly.ShardsIncomplete:
		return ExitShardsIncomplete
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

With --shard i/N (or --shards N, i from $JOB_COMPLETION_INDEX) the run is one
shard of the night: it evaluates its share of the PromQL of the days the night
will export (features, rule range queries), staged under the output's
<dataset>/_state/staging/nightly-<watermark>/, and takes no lease.
--from-shards N then runs the night with what the N shards staged (decision
0041): the same snapshot as without shards.

Exit codes: 0 published (a shard: staged), 3 nothing to do, 4 lease held by
another run (nothing written), 5 shards incomplete (--from-shards: nothing
read or written), 1 failed. --exit-zero-unless-failed maps 3, 4 and 5 to 0.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Aliases: []string{"s"}, Usage: "dataset spec `FILE`", Required: true},
			&cli.StringFlag{Name: "now", Usage: "the run's clock (RFC 3339 or YYYY-MM-DD, UTC), for tests and backfills; default: now"},
			&cli.StringFlag{Name: "output", Usage: "output URL (file://DIR or s3://BUCKET/PREFIX); overrides the spec"},
			&cli.BoolFlag{Name: "exit-zero-unless-failed", Usage: "exit 0 for nothing to do and lease held too (for schedulers that count every other code as a failure)"},
			&cli.BoolFlag{Name: "full", Usage: "export every day from its inputs instead of resuming from the last snapshot's checkpoint (after a backfill into published days)"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log progress to stderr"},
			&cli.IntFlag{Name: "from-shards", Usage: "run the night with the PromQL that `N` shards (nightly --shards N) staged"},
			&cli.IntFlag{Name: "shards", Usage: "run as one of `N` shards; the shard index comes from $" + jobIndexEnv},
			&cli.StringFlag{Name: "shard", Usage: "run as shard `i/N` (0 <= i < N)"},
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
			o := nightly.Options{
				Spec: a.spec, SpecBytes: a.bytes, Components: components(), Now: now,
				Output: c.String("output"), CodeVersion: version, Logger: a.logger, Full: c.Bool("full"),
				FromShards: c.Int("from-shards"),
			}
			shard, shards, err := shardArgs(c) // raw.go
			if err != nil {
				return err
			}
			if shards > 0 {
				if o.FromShards > 0 {
					return fmt.Errorf("--from-shards runs the night from the shards; a shard (--shard/--shards) cannot also be it")
				}
				res, err := nightly.Shard(c.Context, o, shard, shards)
				if err != nil {
					return err
				}
				if res == nil {
					fmt.Fprintf(c.App.Writer, "nothing to do: no new complete day for shard %d/%d to evaluate\n", shard, shards)
					if c.Bool("exit-zero-unless-failed") {
						return nil
					}
					return &exitError{code: ExitNothingToDo}
				}
				fmt.Fprintf(c.App.Writer, "staged shard %d/%d of the night (%s) at %s: %d feature pieces, %d slices of the labelers' range queries\n",
					shard, shards, res.Version, res.Output, res.Pieces, res.Slices)
				return nil
			}
			if o.FromShards < 0 || o.FromShards > runner.MaxShards {
				return fmt.Errorf("--from-shards %d: want 1 to %d", o.FromShards, runner.MaxShards)
			}
			rep, err := nightly.Run(c.Context, o)
			printNightly(c.App.Writer, rep)
			code := outcomeCode(rep.Outcome)
			if c.Bool("exit-zero-unless-failed") && code != ExitFailed {
				code = 0
			}
			if rep.Outcome == nightly.LeaseHeld || rep.Outcome == nightly.ShardsIncomplete {
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
		if sh := rep.Shards; sh != nil && sh.Unused != "" {
			fmt.Fprintf(w, "  the %d shards' results were not used (everything evaluated here): %s\n", sh.Shards, sh.Unused)
		} else if sh != nil {
			fmt.Fprintf(w, "  from %d shards: %d feature pieces (%d evaluated here), %d slices (%d evaluated here)\n", sh.Shards, sh.Pieces, sh.PiecesEvaluated, sh.Slices, sh.SlicesEvaluated)
		}
		if rep.ModeReason != "" {
			fmt.Fprintf(w, "  export: %s (%s)\n", rep.Mode, rep.ModeReason)
		} else {
			fmt.Fprintf(w, "  export: %s\n", rep.Mode)
		}
		fmt.Fprintf(w, "  parts: %d uploaded (%d bytes), %d shared with earlier snapshots\n", rep.PartsUploaded, rep.BytesUploaded, rep.PartsReused)
	}
}
