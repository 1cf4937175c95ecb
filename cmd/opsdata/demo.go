package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/datasets/demo"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "generate the demo cluster's inputs (TSDB, logs, tickets, ground truth)",
		Description: `Simulates a small microservice cluster with injected incidents, deterministically
from a seed, and writes what a real cloud would hand to opsdata. datasets/demo.yaml
exports it.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: "demo-data", Usage: "output `DIR` (must be empty or absent)"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "random seed"},
			&cli.DurationFlag{Name: "duration", Value: 72 * time.Hour, Usage: "simulated time span"},
			&cli.BoolFlag{Name: "nightly", Usage: "also write the nightly scenario (late and edited tickets, a late log file; needs --duration of 6 days or more) into DIR/nightly, see datasets/demo/nightly.go"},
			&cli.BoolFlag{Name: "openmetrics", Usage: "also write metrics.om, an OpenMetrics text file of the same samples (large)"},
		},
		Action: func(c *cli.Context) error {
			start := time.Now()
			sum, err := demo.Generate(c.Context, demo.Config{
				Dir: c.String("dir"), Seed: c.Int64("seed"), Duration: c.Duration("duration"),
				OpenMetrics: c.Bool("openmetrics"),
			})
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if c.Bool("nightly") {
				if _, err := demo.WriteNightly(sum.Dir, sum.Start, sum.End.Sub(sum.Start)); err != nil {
					return fmt.Errorf("demo: %w", err)
				}
			}
			fmt.Fprintf(c.App.Writer, "demo cluster written to %s in %s: %d series, %d samples, %d log lines, %d tickets, %d injected incidents (%s to %s)\n",
				sum.Dir, time.Since(start).Round(time.Millisecond), sum.Series, sum.Samples, sum.LogLines, sum.Tickets, sum.Incidents,
				sum.Start.Format(time.RFC3339), sum.End.Format(time.RFC3339))
			return nil
		},
	}
}
