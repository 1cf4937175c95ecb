package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/spec"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "validate a dataset spec without running it",
		ArgsUsage: "[SPEC]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Aliases: []string{"s"}, Usage: "dataset spec `FILE`"},
		},
		Action: func(c *cli.Context) error {
			path := c.String("spec")
			if path == "" {
				path = c.Args().First()
			}
			if path == "" {
				return fmt.Errorf("check: name a spec file (--spec FILE)")
			}
			s, err := spec.Load(path)
			if err != nil {
				return err
			}
			if _, err := runner.Resolve(s, components()); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s: ok (dataset %s, %d features, %d log sources, %d ticket sources, licence %s)\n",
				path, s.Dataset, len(s.Metrics.Features), len(s.Logs), len(s.Tickets), s.Licence)
			return nil
		},
	}
}
