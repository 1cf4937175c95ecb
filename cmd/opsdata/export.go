package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/pipeline/runner"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "run the export pipeline for a dataset spec and publish a new version",
		Description: `Reads the spec's sources, aligns them on the window grid, labels incidents,
anonymizes, writes Parquet tables, checks that no raw identifier survived and
publishes an immutable version. Re-running with the same inputs is a no-op.

With --shard i/N (or --shards N, i from $JOB_COMPLETION_INDEX as a Kubernetes
Indexed Job sets it) the run only evaluates its share of the PromQL: pieces of
one feature over one slice of a day, and slices of the rule and alerts_series
labelers' range queries, sealed under the output's staging prefix
(<dataset>/_state/staging/<version>/) with a receipt.
'opsdata commit --windowed --shards N' then runs the rest of the export from
the pieces and publishes: the same bytes as one process.`,
		Flags: runFlags( // runflags.go
			"output URL (file://DIR or s3://BUCKET/PREFIX; S3 settings from the spec's s3: and AWS_* variables); overrides the spec",
			"s3:// only: let anyone read (not write or list elsewhere) the dataset's prefix without credentials",
			nil, append([]cli.Flag{&cli.BoolFlag{Name: "allow-empty", Usage: "publish even when the range holds no metric sample and no log line"}}, shardFlags(true)...)),
		Action: func(c *cli.Context) error {
			shard, shards, err := shardArgs(c) // raw.go
			if err != nil {
				return err
			}
			a, err := readRunArgs(c) // runflags.go
			if err != nil {
				return err
			}
			start := time.Now()
			w := c.App.Writer
			if shards > 0 {
				res, err := runner.ExportShard(c.Context, exportOptions(c, a), shard, shards)
				if err != nil {
					return err
				}
				if res.AlreadyPublished {
					fmt.Fprintf(w, "%s/%s at %s is already published: shard %d/%d has nothing to do\n", res.Dataset, res.Version, res.Output, shard, shards)
					return nil
				}
				fmt.Fprintf(w, "staged shard %d/%d of %s/%s at %s: %d feature pieces (%d series, %d values), %d slices of the labelers' range queries\n",
					shard, shards, res.Dataset, res.Version, res.Output, res.Pieces, res.Series, res.Points, res.Slices)
				return nil
			}
			res, err := runner.Export(c.Context, exportOptions(c, a))
			if err != nil {
				return err
			}
			printReport(w, a.logger, res.AlreadyPublished, res.Dataset, res.Version, res.Output, start, res.Rows, res.Problems)
			return nil
		},
	}
}

// exportOptions are a windowed export's options from its flags (export,
// and commit --windowed).
func exportOptions(c *cli.Context, a runArgs) runner.Options {
	return runner.Options{
		Spec: a.spec, SpecBytes: a.bytes, From: a.from, To: a.to, Version: c.String("version"),
		Output: c.String("output"), Public: c.Bool("public"), AllowEmpty: c.Bool("allow-empty"), CodeVersion: version, Components: components(),
		Logger: a.logger,
	}
}

// parseTime accepts RFC 3339 or a bare UTC date.
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	// today and yesterday are UTC midnights by the clock: a scheduled run's
	// shards and its commit name the same day without a date in their args.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	switch s {
	case "today":
		return today, nil
	case "yesterday":
		return today.Add(-24 * time.Hour), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: use RFC 3339 (2026-01-05T00:00:00Z), a UTC date (2026-01-05), today or yesterday", flag, s)
}
