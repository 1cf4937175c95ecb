package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/nightly"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/spec"
)

func gcCommand() *cli.Command {
	return &cli.Command{
		Name:      "gc",
		Usage:     "delete what no kept snapshot and no reader needs: snapshots past retention, unreferenced parts, uploads killed before their manifest",
		ArgsUsage: "[DATASET-URL] (without --spec: only the killed uploads of that dataset)",
		Description: `With --spec: keeps the newest nightly.keep_last snapshots, every name in
nightly.releases and, with nightly.keep_monthly, the last snapshot of each month;
deletes the others (manifest first) and every shared part none of the kept
snapshots names. Takes the dataset's lease, like nightly. One-off export versions
are never deleted by retention.
Always: removes version directories without a manifest (an upload killed before
it finished) and the staging directories of sharded runs (raw or export
--shards) that no commit published, whose newest object is older than --grace;
readers never reach them. The raw dataset is its own: gc URL/DATASET-raw.
Exit codes: 0 done, 4 lease held, 1 failed.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Aliases: []string{"s"}, Usage: "dataset spec `FILE` (retention of nightly snapshots)"},
			&cli.StringFlag{Name: "output", Usage: "output URL; overrides the spec"},
			&cli.DurationFlag{Name: "grace", Value: 24 * time.Hour, Usage: "keep an unfinished upload younger than this (it may still be running)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would be deleted, delete nothing"},
		},
		Action: func(c *cli.Context) error {
			w := c.App.Writer
			verb := "deleted"
			if c.Bool("dry-run") {
				verb = "would delete"
			}
			var output, dataset string
			var opts []bucket.BucketOption
			switch {
			case c.String("spec") != "":
				s, err := spec.Load(c.String("spec"))
				if err != nil {
					return err
				}
				host, _ := os.Hostname()
				res, err := nightly.GC(c.Context, s, c.String("output"), fmt.Sprintf("gc@%s:%d", host, os.Getpid()), c.Bool("dry-run"))
				if errors.Is(err, nightly.ErrLeaseHeld) {
					fmt.Fprintf(w, "lease_held: %v\n", err)
					return &exitError{code: ExitLeaseHeld}
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "kept %d snapshot(s), %s %d: %v\n", len(res.Kept), verb, len(res.Deleted), res.Deleted)
				fmt.Fprintf(w, "parts: %d referenced, %s %d unreferenced (%d bytes)\n", res.PartsKept, verb, res.PartsDeleted, res.BytesFreed)
				output, dataset = s.Output, s.Dataset
				if c.String("output") != "" {
					output = c.String("output")
				}
				opts = append(opts, bucket.WithS3(s.S3))
			case c.NArg() == 1:
				output, dataset = splitDatasetURL(c.Args().First())
				opts = append(opts, bucket.ForReading())
			default:
				return fmt.Errorf("gc: give --spec FILE, or name one dataset, e.g. `opsdata gc out/demo-cluster`")
			}
			bkt, prefix, err := bucket.OpenBucket(c.Context, output, opts...)
			if err != nil {
				return fmt.Errorf("gc %s: %w", output, err)
			}
			defer bkt.Close()
			abandoned, err := publish.FindAbandoned(c.Context, bkt, prefix, dataset, c.Duration("grace"), time.Now())
			if err != nil {
				return fmt.Errorf("gc %s: %w", dataset, err)
			}
			if !c.Bool("dry-run") {
				if err := publish.RemoveAbandoned(c.Context, bkt, abandoned); err != nil {
					return fmt.Errorf("gc %s: %w", dataset, err)
				}
			}
			n := 0
			for _, a := range abandoned {
				fmt.Fprintf(w, "%s abandoned upload %s (%d objects, last written %s)\n", verb, a.Version, len(a.Objects), a.Newest.UTC().Format(time.RFC3339))
				n += len(a.Objects)
			}
			fmt.Fprintf(w, "uploads killed before their manifest: %s %d objects of %d\n", verb, n, len(abandoned))
			return nil
		},
	}
}
