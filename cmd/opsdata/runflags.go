package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/datasets/spec"
)

// runArgs is what the commands that publish a version (export, raw) read
// from their common flags: the spec (and its bytes, for the digest), the
// range overrides and a logger at the --verbose level.
type runArgs struct {
	spec     *spec.Spec
	bytes    []byte
	from, to time.Time
	logger   *slog.Logger
}

func readRunArgs(c *cli.Context) (runArgs, error) {
	var a runArgs
	path := c.String("spec")
	b, err := os.ReadFile(path)
	if err != nil {
		return a, fmt.Errorf("read spec: %w", err)
	}
	if a.spec, err = spec.Parse(path, b); err != nil {
		return a, err
	}
	a.bytes = b
	if a.from, err = parseTime("--from", c.String("from")); err != nil {
		return a, err
	}
	if a.to, err = parseTime("--to", c.String("to")); err != nil {
		return a, err
	}
	level := slog.LevelWarn
	if c.Bool("verbose") {
		level = slog.LevelInfo
	}
	a.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return a, nil
}
