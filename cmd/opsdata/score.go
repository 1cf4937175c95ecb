package main

import (
	"fmt"

	"github.com/opsdata/opsdata/datasets/score"
	"github.com/urfave/cli/v2"
)

func scoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "score",
		Usage:     "score predictions against a version's labels: point-wise, point-adjusted and event-wise F1, detection delay, early warning",
		ArgsUsage: "VERSION-DIR PREDICTIONS (a local version directory, e.g. after `opsdata pull`; a CSV or Parquet file of entity, window_start, score or label)",
		Flags: []cli.Flag{
			&cli.Float64Flag{Name: "threshold", Value: 0.5, Usage: "a window is predicted positive when its score >= threshold"},
			&cli.StringFlag{Name: "split", Usage: "score only this split (train, validation, test); default: every window except gap ones"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return fmt.Errorf("score: want VERSION-DIR PREDICTIONS, e.g. `opsdata score ./pulled preds.csv`")
			}
			truth, err := score.LoadTruth(c.Args().Get(0))
			if err != nil {
				return err
			}
			preds, err := score.LoadPredictions(c.Args().Get(1))
			if err != nil {
				return err
			}
			r, err := score.Score(truth, preds, score.Options{Threshold: c.Float64("threshold"), Split: c.String("split")})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return r.WriteJSON(c.App.Writer)
			}
			r.WriteTable(c.App.Writer)
			return nil
		},
	}
}
