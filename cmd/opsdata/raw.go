package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/pipeline/runner"
)

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
them with a matcher.`,
		Flags: runFlags( // runflags.go
			"output URL (file://DIR or s3://BUCKET/PREFIX); overrides the spec",
			"s3:// only: let anyone read the dataset's prefix without credentials",
			[]cli.Flag{&cli.StringSliceFlag{Name: "match", Usage: "series `SELECTOR` (e.g. 'up{job=\"api\"}'); repeatable, a series matching any is exported"}},
			[]cli.Flag{&cli.StringFlag{Name: "source", Usage: "tsdb (the spec's metrics.tsdb.path) or remote-read (metrics.prometheus.url); default follows metrics.source"}}),
		Action: func(c *cli.Context) error {
			a, err := readRunArgs(c) // runflags.go
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := runner.Raw(c.Context, runner.RawOptions{
				Spec: a.spec, SpecBytes: a.bytes, Match: c.StringSlice("match"), From: a.from, To: a.to,
				Source: c.String("source"), Version: c.String("version"), Output: c.String("output"),
				Public: c.Bool("public"), CodeVersion: version, Components: components(),
				Logger: a.logger,
			})
			if err != nil {
				return err
			}
			w := c.App.Writer
			printReport(w, a.logger, res.AlreadyPublished, res.Dataset, res.Version, res.Output, start, nil, nil)
			fmt.Fprintf(w, "  %-10s %10d rows (%d staleness markers)\n", "samples", res.Stats.Samples, res.Stats.Stale)
			fmt.Fprintf(w, "  %-10s %10d rows\n", "raw_series", res.Stats.Series)
			return nil
		},
	}
}
