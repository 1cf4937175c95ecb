package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/spec"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "validate a dataset spec and open every file it references, without running it",
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
			plan, err := runner.Resolve(s, components())
			if err != nil {
				return err
			}
			// Open every referenced file, reporting all problems at once.
			problems := &pipeline.Problems{}
			if errs := runner.CheckInputs(c.Context, plan, problems); len(errs) > 0 {
				return fmt.Errorf("%w: %w", spec.ErrInvalid, errors.Join(errs...))
			}
			for _, input := range problems.Inputs() {
				r := problems.Report()[input]
				fmt.Fprintf(c.App.Writer, "%s: warning: %s: %d malformed records in what was read (a run counts and skips them), e.g. %s\n",
					path, input, r.Count, strings.Join(r.Examples, "; "))
			}
			fmt.Fprintf(c.App.Writer, "%s: ok (dataset %s, %d features, %d log sources, %d ticket sources, %d labelers, licence %s; every referenced file opened)\n",
				path, s.Dataset, len(s.Metrics.Features), len(s.Logs), len(s.Tickets), len(s.Labelers), s.Licence)
			return nil
		},
	}
}
