package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/pipeline/raw"
	"github.com/opsdata/opsdata/pipeline/runner"
)

// ExitShardsIncomplete is `opsdata commit`'s exit code when shards have no
// receipt yet (0 published, 3 already published, 1 failed).
const ExitShardsIncomplete = 5

// jobIndexEnv is set by a Kubernetes Indexed Job to the pod's index.
const jobIndexEnv = "JOB_COMPLETION_INDEX"

func rawCommand() *cli.Command {
	return &cli.Command{
		Name:  "raw",
		Usage: "publish every sample of the selected series, unaggregated, as a version of <dataset>-raw",
		Description: `Reads every sample of the series matching --match (all series when none is
given) in the range, from the spec's TSDB directly or from a live Prometheus by
remote read, and writes the tables samples (series_id, ts, value, stale) and
raw_series (series_id, metric, labels as JSON, anonymized by the spec's policy).
The version goes through the same leakage gate and publish protocol as export,
under the dataset <dataset>-raw. Native histogram series are refused: exclude
them with a matcher.

With --shard i/N (or --shards N, i from $JOB_COMPLETION_INDEX as a Kubernetes
Indexed Job sets it) the run writes only its share of the hash buckets to the
output's staging prefix (<dataset>-raw/_state/staging/<version>/) with a receipt;
'opsdata commit --shards N' then publishes the version: the same bytes as one
process. Exit codes: 0 done (or already published), 1 failed.`,
		Flags: runFlags( // runflags.go
			"output URL (file://DIR or s3://BUCKET/PREFIX); overrides the spec",
			"s3:// only: let anyone read the dataset's prefix without credentials",
			[]cli.Flag{&cli.StringSliceFlag{Name: "match", Usage: "series `SELECTOR` (e.g. 'up{job=\"api\"}'); repeatable, a series matching any is exported"}},
			append([]cli.Flag{&cli.StringFlag{Name: "source", Usage: "tsdb (the spec's metrics.tsdb.path) or remote-read (metrics.prometheus.url); default follows metrics.source"}},
				append(shardFlags(true), bucketsFlag())...)),
		Action: func(c *cli.Context) error {
			shard, shards, err := shardArgs(c)
			if err != nil {
				return err
			}
			a, err := readRunArgs(c) // runflags.go
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := runner.Raw(c.Context, rawOptions(c, a, shard, shards))
			if err != nil {
				return err
			}
			w := c.App.Writer
			if shards > 0 {
				if res.AlreadyPublished {
					fmt.Fprintf(w, "%s/%s at %s is already published: shard %d/%d has nothing to do\n", res.Dataset, res.Version, res.Output, shard, shards)
					return nil
				}
				fmt.Fprintf(w, "staged shard %d/%d of %s/%s at %s\n", shard, shards, res.Dataset, res.Version, res.Output)
			} else {
				printReport(w, a.logger, res.AlreadyPublished, res.Dataset, res.Version, res.Output, start, nil, nil)
			}
			fmt.Fprintf(w, "  %-10s %10d rows (%d staleness markers)\n", "samples", res.Stats.Samples, res.Stats.Stale)
			fmt.Fprintf(w, "  %-10s %10d rows\n", "raw_series", res.Stats.Series)
			return nil
		},
	}
}

func commitCommand() *cli.Command {
	return &cli.Command{
		Name:  "commit",
		Usage: "publish the version that the shards of 'opsdata raw --shards N' (or, with --windowed, 'opsdata export --shards N') staged",
		Description: `Checks that every one of the N shards left a receipt that agrees with this run
(spec digest, key epoch, code version, range, selectors, buckets, N) and that
every staged file matches it, lists the series once more for the leakage gate,
then publishes the version with the usual protocol (manifest last, catalog and
latest after) and removes the staging prefix. Give it the same spec, range,
--match, --version and --buckets as the shards.
With --windowed it commits a windowed export: every piece of the range must be
in its shard's receipt; the export then runs in this process (logs, labels,
anonymization, gate) with the features read from the pieces.
Exit codes: 0 published, 3 already published (nothing to do), 5 shards
incomplete (the missing ones are named), 1 failed. --exit-zero-unless-failed
turns 3 and 5 into 0, for a commit run after each shard of a Kubernetes
Indexed Job: only the last shard's commit publishes, and the others must not
count as failed pods.`,
		Flags: runFlags(
			"output URL the shards staged to (file://DIR or s3://BUCKET/PREFIX); overrides the spec",
			"s3:// only: let anyone read the dataset's prefix without credentials",
			[]cli.Flag{&cli.StringSliceFlag{Name: "match", Usage: "the shards' series `SELECTOR`s"}},
			append([]cli.Flag{&cli.StringFlag{Name: "source", Usage: "as for raw"},
				&cli.BoolFlag{Name: "windowed", Usage: "commit the windowed export that 'opsdata export --shards N' staged (default: the raw export of 'opsdata raw --shards N')"},
				&cli.BoolFlag{Name: "allow-empty", Usage: "--windowed: as for export"},
				&cli.BoolFlag{Name: "exit-zero-unless-failed", Usage: "exit 0 when already published (3) or shards are incomplete (5); say so on stdout"}}, append(shardFlags(false), bucketsFlag())...)),
		Action: func(c *cli.Context) error {
			err := commit(c)
			var ee *exitError
			if c.Bool("exit-zero-unless-failed") && errors.As(err, &ee) && (ee.code == ExitNothingToDo || ee.code == ExitShardsIncomplete) {
				if ee.err != nil {
					fmt.Fprintf(c.App.Writer, "not committed (exit %d mapped to 0): %v\n", ee.code, ee.err)
				}
				return nil
			}
			return err
		},
	}
}

// commit is the commit command's action; its exit codes are the command's.
func commit(c *cli.Context) error {
	n := c.Int("shards")
	if n < 1 || n > runner.MaxShards {
		return &exitError{code: ExitFailed, err: fmt.Errorf("--shards %d: give the number of shards, 1 to %d", n, runner.MaxShards)}
	}
	a, err := readRunArgs(c)
	if err != nil {
		return err
	}
	start := time.Now()
	w := c.App.Writer
	// committed maps a commit's outcome to the command's exit codes; print
	// reports what it published.
	committed := func(err error, already bool, dataset, version, output string, print func()) error {
		switch {
		case errors.Is(err, runner.ErrShardsIncomplete):
			return &exitError{code: ExitShardsIncomplete, err: err}
		case err != nil:
			return err
		case already:
			fmt.Fprintf(w, "%s/%s at %s is already published: nothing to do\n", dataset, version, output)
			return &exitError{code: ExitNothingToDo}
		}
		print()
		return nil
	}
	if c.Bool("windowed") {
		res, err := runner.ExportCommit(c.Context, exportOptions(c, a), n)
		if res == nil {
			res = &runner.Result{}
		}
		return committed(err, res.AlreadyPublished, res.Dataset, res.Version, res.Output, func() {
			printReport(w, a.logger, false, res.Dataset, res.Version, res.Output, start, res.Rows, res.Problems)
			fmt.Fprintf(w, "  from %d shards: %d feature pieces (%d evaluated here), %d slices of the labelers' range queries (%d evaluated here)\n",
				n, res.Pieces, res.PiecesEvaluated, res.Slices, res.SlicesEvaluated)
		})
	}
	res, err := runner.RawCommit(c.Context, rawOptions(c, a, 0, n))
	if res == nil {
		res = &runner.CommitResult{}
	}
	return committed(err, res.AlreadyPublished, res.Dataset, res.Version, res.Output, func() {
		printReport(w, a.logger, false, res.Dataset, res.Version, res.Output, start, nil, nil)
		fmt.Fprintf(w, "  %-10s %10d rows (%d staleness markers)\n", "samples", res.Stats.Samples, res.Stats.Stale)
		fmt.Fprintf(w, "  %-10s %10d rows\n", "raw_series", res.Stats.Series)
	})
}

func shardFlags(withShard bool) []cli.Flag {
	fs := []cli.Flag{&cli.IntFlag{Name: "shards", Usage: "number of shards `N`; the shard index comes from $" + jobIndexEnv}}
	if withShard {
		fs = append(fs, &cli.StringFlag{Name: "shard", Usage: "run shard `i/N` only (0 <= i < N)"})
	}
	return fs
}

// bucketsFlag fixes a raw export's layout: its shards and commit agree on it.
func bucketsFlag() cli.Flag {
	return &cli.IntFlag{Name: "buckets", Value: raw.DefaultBuckets, Usage: "raw only: hash buckets of scrape targets (files per day); fixes the layout: shards, their commit and a one-process run must agree"}
}

// shardArgs reads --shard i/N or --shards N with $JOB_COMPLETION_INDEX;
// shards 0 means no sharding.
func shardArgs(c *cli.Context) (int, int, error) {
	s, n := c.String("shard"), c.Int("shards")
	switch {
	case s != "" && c.IsSet("shards"):
		return 0, 0, errors.New("give either --shard i/N or --shards N (with $" + jobIndexEnv + "), not both")
	case s != "":
		is, ns, ok := strings.Cut(s, "/")
		i, err1 := strconv.Atoi(is)
		n, err2 := strconv.Atoi(ns)
		if !ok || err1 != nil || err2 != nil || n < 1 || n > runner.MaxShards || i < 0 || i >= n {
			return 0, 0, fmt.Errorf("--shard %q: want i/N with 0 <= i < N <= %d, e.g. --shard 2/7", s, runner.MaxShards)
		}
		return i, n, nil
	case c.IsSet("shards"):
		if n < 1 || n > runner.MaxShards {
			return 0, 0, fmt.Errorf("--shards %d: want 1 to %d", n, runner.MaxShards)
		}
		v, ok := os.LookupEnv(jobIndexEnv)
		if !ok {
			return 0, 0, errors.New("--shards N takes the shard index from $" + jobIndexEnv + ", which is not set: run it as a Kubernetes Indexed Job (completionMode: Indexed) or pass --shard i/N")
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || i >= n {
			return 0, 0, fmt.Errorf("$%s is not a shard index 0..%d (--shards %d)", jobIndexEnv, n-1, n)
		}
		return i, n, nil
	}
	return 0, 0, nil
}

func rawOptions(c *cli.Context, a runArgs, shard, shards int) runner.RawOptions {
	return runner.RawOptions{
		Spec: a.spec, SpecBytes: a.bytes, Match: c.StringSlice("match"), From: a.from, To: a.to,
		Source: c.String("source"), Version: c.String("version"), Output: c.String("output"),
		Public: c.Bool("public"), CodeVersion: version, Components: components(),
		Logger: a.logger, Buckets: c.Int("buckets"), Shard: shard, Shards: shards,
	}
}
