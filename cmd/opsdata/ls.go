package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/urfave/cli/v2"
)

func lsCommand() *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list a dataset's published versions: time range, size, rows, licence",
		ArgsUsage: "DATASET-URL (e.g. out/demo-cluster, file:///data/out/demo-cluster, s3://bucket/prefix/demo-cluster)",
		Action: func(c *cli.Context) error {
			arg := c.Args().First()
			if arg == "" || c.NArg() > 1 {
				return fmt.Errorf("ls: name one dataset, e.g. `opsdata ls out/demo-cluster`")
			}
			output, dataset := splitDatasetURL(arg)
			bkt, prefix, err := bucket.OpenBucket(c.Context, output, bucket.ForReading())
			if err != nil {
				return fmt.Errorf("ls %s: %w", arg, err)
			}
			defer bkt.Close()
			cat, err := bucket.ReadCatalog(c.Context, bkt, prefix, dataset)
			if err != nil {
				return fmt.Errorf("ls %s: %w", arg, err)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "%s — %s (%d versions)\n", cat.Dataset, cat.Title, len(cat.Versions))
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tFROM (UTC)\tTO (UTC)\tWINDOW\tROWS\tSIZE\tLICENCE\t")
			for i := len(cat.Versions) - 1; i >= 0; i-- {
				e := cat.Versions[i]
				name := e.Version
				if e.Version == cat.Latest {
					name += " (latest)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t\n", name, e.From.UTC().Format(time.RFC3339), e.To.UTC().Format(time.RFC3339),
					e.Window, e.Rows, publish.HumanBytes(e.Bytes), e.Licence)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if cat.Latest != "" {
				fmt.Fprintf(w, "pull one with: opsdata pull %s@%s DIR\n", strings.TrimSuffix(arg, "/"), cat.Latest)
			}
			return nil
		},
	}
}
