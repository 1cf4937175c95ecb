package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/pipeline/nightly"
	"github.com/opsdata/opsdata/spec"
)

func gcCommand() *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "apply the spec's retention to nightly snapshots and delete the parts no kept snapshot references",
		Description: `Keeps the newest nightly.keep_last snapshots, every name in nightly.releases and,
with nightly.keep_monthly, the last snapshot of each month; deletes the others
(manifest first) and every shared part none of the kept snapshots names. Takes
the dataset's lease, like nightly. One-off export versions are never touched.
Exit codes: 0 done, 4 lease held, 1 failed.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Aliases: []string{"s"}, Usage: "dataset spec `FILE`", Required: true},
			&cli.StringFlag{Name: "output", Usage: "output URL; overrides the spec"},
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would be deleted, delete nothing"},
		},
		Action: func(c *cli.Context) error {
			s, err := spec.Load(c.String("spec"))
			if err != nil {
				return err
			}
			host, _ := os.Hostname()
			res, err := nightly.GC(c.Context, s, c.String("output"), fmt.Sprintf("gc@%s:%d", host, os.Getpid()), c.Bool("dry-run"))
			if errors.Is(err, nightly.ErrLeaseHeld) {
				fmt.Fprintf(c.App.Writer, "lease_held: %v\n", err)
				return &exitError{code: ExitLeaseHeld}
			}
			if err != nil {
				return err
			}
			verb := "deleted"
			if c.Bool("dry-run") {
				verb = "would delete"
			}
			fmt.Fprintf(c.App.Writer, "kept %d snapshot(s), %s %d: %v\n", len(res.Kept), verb, len(res.Deleted), res.Deleted)
			fmt.Fprintf(c.App.Writer, "parts: %d referenced, %s %d unreferenced (%d bytes)\n", res.PartsKept, verb, res.PartsDeleted, res.BytesFreed)
			return nil
		},
	}
}
