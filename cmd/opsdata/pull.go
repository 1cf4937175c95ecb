package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/opsdata/opsdata/datasets/pull"
	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/schemas"
)

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:  "pull",
		Usage: "download a version (or some tables / dates of it), verified against its manifest",
		ArgsUsage: "[flags] DATASET-URL[@VERSION] DIR\n\n" +
			"   e.g. opsdata pull out/demo-cluster ./demo        (latest version)\n" +
			"        opsdata pull --tables windows,incidents s3://bucket/prefix/demo-cluster@2026-01-05_2026-01-08 ./demo\n" +
			"   Files already present with the right sha256 are kept, so re-running resumes. Afterwards\n" +
			"   `sha256sum -c SHA256SUMS` passes in DIR; a partial pull keeps the full list as SHA256SUMS.full.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tables", Usage: "only these tables (comma-separated); README, LICENSE, croissant.json always come"},
			&cli.StringFlag{Name: "from", Usage: "only date partitions overlapping [from, to): RFC 3339 time or YYYY-MM-DD (UTC)"},
			&cli.StringFlag{Name: "to", Usage: "end of the range, exclusive: RFC 3339 time or YYYY-MM-DD (UTC)"},
			&cli.IntFlag{Name: "parallel", Value: pull.DefaultParallel, Usage: "concurrent downloads"},
		},
		Action: func(c *cli.Context) error {
			for _, a := range c.Args().Slice() {
				if strings.HasPrefix(a, "-") {
					return fmt.Errorf("pull: flag %s after the arguments; put flags first: `opsdata pull --tables windows out/demo-cluster ./demo`", a)
				}
			}
			if c.NArg() != 2 {
				return fmt.Errorf("pull: want DATASET-URL[@VERSION] DIR, e.g. `opsdata pull out/demo-cluster ./demo`")
			}
			ref, dir := c.Args().Get(0), c.Args().Get(1)
			ref, version := splitVersion(ref)
			output, dataset := splitDatasetURL(ref)
			var o pull.Options
			var err error
			for _, t := range c.StringSlice("tables") {
				for _, t := range strings.Split(t, ",") {
					if t = strings.TrimSpace(t); t != "" {
						o.Tables = append(o.Tables, t)
					}
				}
			}
			if o.From, err = parseWhen("from", c.String("from")); err != nil {
				return err
			}
			if o.To, err = parseWhen("to", c.String("to")); err != nil {
				return err
			}
			o.Parallel = c.Int("parallel")
			bkt, prefix, err := bucket.OpenBucket(c.Context, output, bucket.ForReading())
			if err != nil {
				return fmt.Errorf("pull %s: %w", ref, err)
			}
			defer bkt.Close()
			errw := c.App.ErrWriter
			if errw == nil {
				errw = os.Stderr
			}
			bar := newProgress(errw, isTerminal(errw))
			o.Progress = bar
			res, err := pull.Pull(c.Context, bkt, prefix, dataset, version, dir, o)
			bar.finish()
			if err != nil {
				return err
			}
			what := "all tables"
			if res.Partial {
				what = "a subset (full list in " + pull.FullSumsFile + ")"
			}
			fmt.Fprintf(c.App.Writer, "pulled %s@%s into %s: %d files (%s), %d downloaded, %d already present, %s\n",
				res.Dataset, res.Version, dir, res.Files, publish.HumanBytes(res.Bytes), res.Fetched, res.Skipped, what)
			fmt.Fprintf(c.App.Writer, "verify with: (cd %s && sha256sum -c %s)\n", dir, schemas.SumsFile)
			return nil
		},
	}
}

// splitVersion cuts "url@version" when the @ comes after the last slash.
func splitVersion(ref string) (string, string) {
	i := strings.LastIndexByte(ref, '@')
	if i < 0 || i < strings.LastIndexByte(ref, '/') {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

func parseWhen(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time (2026-01-05T00:00:00Z) or a UTC date (2026-01-05)", flag, s)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress draws a one-line bar on a terminal and plain lines otherwise
// (logs, CI, pipes).
type progress struct {
	w          io.Writer
	tty        bool
	files, n   int
	total, got int64
	last       time.Time
}

func newProgress(w io.Writer, tty bool) *progress { return &progress{w: w, tty: tty} }

func (p *progress) Start(files int, bytes int64) {
	p.files, p.total = files, bytes
	if !p.tty {
		fmt.Fprintf(p.w, "pull: %d files, %s\n", files, publish.HumanBytes(bytes))
	}
}

func (p *progress) Done(path string, bytes int64, skipped bool) {
	p.n++
	p.got += bytes
	if !p.tty {
		verb := "fetched"
		if skipped {
			verb = "present"
		}
		fmt.Fprintf(p.w, "pull: [%d/%d] %s %s (%s)\n", p.n, p.files, verb, path, publish.HumanBytes(bytes))
		return
	}
	if now := time.Now(); p.n < p.files && now.Sub(p.last) < 100*time.Millisecond {
		return
	} else {
		p.last = now
	}
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.got) / float64(p.total)
	}
	fill := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %d/%d files  %s/%s ", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), frac*100, p.n, p.files, publish.HumanBytes(p.got), publish.HumanBytes(p.total))
}

func (p *progress) finish() {
	if p.tty && p.n > 0 {
		fmt.Fprintln(p.w)
	}
}
