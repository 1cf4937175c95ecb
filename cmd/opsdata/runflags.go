package main

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// runFlags are the flags of the commands that publish a version (export,
// raw), in help order: spec, afterSpec, from, to, afterRange, version,
// output, public, verbose. outputUsage and publicUsage word the last two
// for the command.
func runFlags(outputUsage, publicUsage string, afterSpec, afterRange []cli.Flag) []cli.Flag {
	fs := []cli.Flag{&cli.StringFlag{Name: "spec", Aliases: []string{"s"}, Usage: "dataset spec `FILE`", Required: true}}
	fs = append(fs, afterSpec...)
	fs = append(fs,
		&cli.StringFlag{Name: "from", Usage: "range start (RFC 3339 or YYYY-MM-DD, UTC); overrides the spec"},
		&cli.StringFlag{Name: "to", Usage: "range end, exclusive; overrides the spec"})
	fs = append(fs, afterRange...)
	return append(fs,
		&cli.StringFlag{Name: "version", Usage: "version name (default: derived from the range)"},
		&cli.StringFlag{Name: "output", Usage: outputUsage},
		&cli.BoolFlag{Name: "public", Usage: publicUsage},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log progress to stderr"})
}

// printReport writes a publishing command's report: what was published
// where, the rows per table and the malformed input per source, each in a
// fixed order, so two runs over the same inputs print the same bytes (the
// duration goes to the --verbose log, not here).
func printReport(w io.Writer, log *slog.Logger, already bool, dataset, version, output string, start time.Time, rows map[string]int64, problems map[string]schemas.InputProblems) {
	if already {
		fmt.Fprintf(w, "%s/%s at %s is already published with identical content: nothing to do\n", dataset, version, output)
	} else {
		fmt.Fprintf(w, "published %s/%s to %s\n", dataset, version, output)
	}
	log.Info("run finished", "dataset", dataset, "version", version, "duration", time.Since(start).Round(time.Millisecond))
	for _, t := range slices.Sorted(maps.Keys(rows)) {
		fmt.Fprintf(w, "  %-14s %10d rows\n", t, rows[t])
	}
	for _, input := range slices.Sorted(maps.Keys(problems)) {
		fmt.Fprintf(w, "  malformed input %s: %d records skipped (see manifest.json bad_input)\n", input, problems[input].Count)
	}
}

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
