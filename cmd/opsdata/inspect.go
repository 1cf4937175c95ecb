package main

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/urfave/cli/v2"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show a published version: tables, rows, time range, labels, malformed input",
		ArgsUsage: "DATASET-URL (e.g. out/demo-cluster or file:///data/out/demo-cluster)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "version", Usage: "version to show (default: latest)"},
		},
		Action: func(c *cli.Context) error {
			arg := c.Args().First()
			if arg == "" {
				return fmt.Errorf("inspect: name a dataset, e.g. `opsdata inspect out/demo-cluster`")
			}
			output, dataset := splitDatasetURL(arg)
			bkt, prefix, err := bucket.OpenBucket(c.Context, output, bucket.ForReading())
			if err != nil {
				return fmt.Errorf("inspect %s: %w", arg, err)
			}
			defer bkt.Close()
			version := c.String("version")
			if version == "" {
				if version, err = bucket.Latest(c.Context, bkt, prefix, dataset); err != nil {
					return fmt.Errorf("inspect %s: %w", arg, err)
				}
			}
			m, err := bucket.ReadManifest(c.Context, bkt, prefix, dataset, version)
			if err != nil {
				return fmt.Errorf("inspect %s: %w", arg, err)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "%s %s  (%s)\n", m.Dataset, m.Version, strings.TrimSuffix(output, "/")+"/"+dataset+"/"+version)
			fmt.Fprintf(w, "  range    %s .. %s, window %s, entity %s\n", m.From.Format(time.RFC3339), m.To.Format(time.RFC3339), m.Window, m.EntityKind)
			fmt.Fprintf(w, "  licence  %s   key epoch %s   code %s\n", m.Licence, m.KeyEpoch, m.CodeVersion)
			fmt.Fprintf(w, "  %-10s %6s %12s %12s\n", "table", "files", "rows", "bytes")
			tables := make([]string, 0, len(m.Tables))
			for t := range m.Tables {
				tables = append(tables, t)
			}
			sort.Strings(tables)
			for _, t := range tables {
				tt := m.Tables[t]
				fmt.Fprintf(w, "  %-10s %6d %12d %12d\n", t, tt.Files, tt.Rows, tt.Bytes)
			}
			l := m.Labels
			fmt.Fprintf(w, "  labels   %d incidents %v; %d of %d windows labelled incident; phases %v\n", l.Incidents, l.IncidentsBySource, l.LabelledWindows, l.Windows, l.WindowsByPhase)
			for _, g := range l.Gaps {
				fmt.Fprintf(w, "  gap      %s\n", g)
			}
			inputs := make([]string, 0, len(m.BadInput))
			for k := range m.BadInput {
				inputs = append(inputs, k)
			}
			sort.Strings(inputs)
			for _, k := range inputs {
				p := m.BadInput[k]
				fmt.Fprintf(w, "  malformed %s: %d (%v), e.g. %s\n", k, p.Count, p.Reasons, strings.Join(p.Examples, "; "))
			}
			return nil
		},
	}
}

// splitDatasetURL splits ".../out/demo-cluster" into the output URL and the
// dataset name. A plain path means a local directory.
func splitDatasetURL(arg string) (output, dataset string) {
	arg = strings.TrimSuffix(arg, "/")
	scheme := "file://"
	rest := arg
	if i := strings.Index(arg, "://"); i >= 0 {
		scheme, rest = arg[:i+3], arg[i+3:]
	}
	dir, ds := path.Split(rest)
	if dir == "" {
		dir = "."
	}
	return scheme + dir, ds
}
