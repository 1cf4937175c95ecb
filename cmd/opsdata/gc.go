package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
)

func gcCommand() *cli.Command {
	return &cli.Command{
		Name:      "gc",
		Usage:     "remove what no reader can reach: uploads killed before their manifest (older than --grace)",
		ArgsUsage: "DATASET-URL (e.g. out/demo-cluster, s3://bucket/prefix/demo-cluster)",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "grace", Value: 24 * time.Hour, Usage: "keep an unfinished upload younger than this (it may still be running)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "list what would be removed, remove nothing"},
		},
		Action: func(c *cli.Context) error {
			arg := c.Args().First()
			if arg == "" || c.NArg() > 1 {
				return fmt.Errorf("gc: name one dataset, e.g. `opsdata gc out/demo-cluster`")
			}
			output, dataset := splitDatasetURL(arg)
			bkt, prefix, err := bucket.OpenBucket(c.Context, output, bucket.ForReading())
			if err != nil {
				return fmt.Errorf("gc %s: %w", arg, err)
			}
			defer bkt.Close()
			abandoned, err := publish.FindAbandoned(c.Context, bkt, prefix, dataset, c.Duration("grace"), time.Now())
			if err != nil {
				return fmt.Errorf("gc %s: %w", arg, err)
			}
			w := c.App.Writer
			verb := "removed"
			if c.Bool("dry-run") {
				verb = "would remove"
			} else if err := publish.RemoveAbandoned(c.Context, bkt, abandoned); err != nil {
				return fmt.Errorf("gc %s: %w", arg, err)
			}
			n := 0
			for _, a := range abandoned {
				fmt.Fprintf(w, "%s abandoned upload %s (%d objects, last written %s)\n", verb, a.Version, len(a.Objects), a.Newest.UTC().Format(time.RFC3339))
				n += len(a.Objects)
			}
			fmt.Fprintf(w, "%s %d objects of %d abandoned uploads\n", verb, n, len(abandoned))
			return nil
		},
	}
}
