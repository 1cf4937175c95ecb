package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/logtemplates"
	"github.com/opsdata/opsdata/pipeline/sources/logfile"
)

// templatesOptions are the flags of `opsdata templates`.
type templatesOptions struct {
	input      string // file name, or "-" for stdin
	format     string // raw or a logfile format
	pattern    string
	logFormat  string
	timeLayout string
	timezone   string
	multiline  string
	miner      logtemplates.Config
	out        string // per-line CSV; "" or "-": stdout
	templates  string // template table CSV; "": not written
}

func templatesCommand() *cli.Command {
	return &cli.Command{
		Name:  "templates",
		Usage: "mine log templates from a file (or stdin) without building a dataset",
		ArgsUsage: "FILE|-\n\n" +
			"Writes one CSV row per log entry (line_number, template_id, template) and, with\n" +
			"--templates, the template table (template_id, template, count, first_line).\n" +
			"Template ids are the same as in a dataset's log_templates table for the same\n" +
			"miner parameters (before anonymization). Malformed lines are counted on stderr.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "raw", Usage: "raw (each line is the message), jsonl, text (with --pattern), logfmt, syslog, klog or logpai (with --log-format)"},
			&cli.StringFlag{Name: "pattern", Usage: "format text: regexp with named groups time and message (level, entity optional)"},
			&cli.StringFlag{Name: "log-format", Usage: "format logpai: e.g. \"<Date> <Time> <Level> <Component>: <Content>\""},
			&cli.StringFlag{Name: "time-layout", Usage: "Go time layout of the timestamps (default RFC 3339)"},
			&cli.StringFlag{Name: "timezone", Value: "UTC", Usage: "IANA zone for timestamps without offset"},
			&cli.StringFlag{Name: "multiline-start", Usage: "regexp matching the first line of an entry; other lines join the entry before (stack traces)"},
			&cli.IntFlag{Name: "depth", Value: logtemplates.DefaultDepth, Usage: "prefix tree depth (>= 3)"},
			&cli.Float64Flag{Name: "similarity", Value: logtemplates.DefaultSimilarity, Usage: "similarity threshold in (0, 1]"},
			&cli.IntFlag{Name: "max-children", Value: logtemplates.DefaultMaxChildren, Usage: "max children of a tree node"},
			&cli.StringSliceFlag{Name: "mask", Usage: "built-in masks to apply (" + strings.Join(logtemplates.AllMasks, ", ") + "), repeatable; default all; \"none\" for none"},
			&cli.StringSliceFlag{Name: "extra-mask", Usage: "regexp whose matches become <*> before mining, repeatable"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "per-line CSV file (default stdout)"},
			&cli.StringFlag{Name: "templates", Usage: "write the template table CSV to this file"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("templates: name one log file, or - for stdin, e.g. `opsdata templates --format raw app.log`")
			}
			o := templatesOptions{
				input: c.Args().First(), format: c.String("format"), pattern: c.String("pattern"),
				logFormat: c.String("log-format"), timeLayout: c.String("time-layout"), timezone: c.String("timezone"),
				multiline: c.String("multiline-start"), out: c.String("out"), templates: c.String("templates"),
				miner: logtemplates.Config{
					Depth: c.Int("depth"), Similarity: c.Float64("similarity"), MaxChildren: c.Int("max-children"),
					ExtraMasks: c.StringSlice("extra-mask"),
				},
			}
			if c.IsSet("mask") {
				o.miner.Masks = []string{}
				for _, m := range c.StringSlice("mask") {
					if m != "none" {
						o.miner.Masks = append(o.miner.Masks, m)
					}
				}
			}
			return runTemplates(c.Context, o, os.Stdin, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// zeroTime: the command reports line numbers, not times.
var zeroTime time.Time

// entry is one log entry the miner sees.
type entry struct {
	line int64
	msg  string
}

// runTemplates mines in two passes over the input (stdin is buffered to a
// temporary file first), so every line gets its final template.
func runTemplates(ctx context.Context, o templatesOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	miner, err := logtemplates.New(o.miner)
	if err != nil {
		return fmt.Errorf("templates: miner parameters: %w", err)
	}
	path := o.input
	if path == "-" {
		tmp, err := os.CreateTemp("", "opsdata-templates-*.log")
		if err != nil {
			return fmt.Errorf("templates: buffering stdin: %w", err)
		}
		defer os.Remove(tmp.Name())
		_, err = io.Copy(tmp, stdin)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("templates: buffering stdin to %s: %w", tmp.Name(), err)
		}
		path = tmp.Name()
	}
	problems := &pipeline.Problems{}
	each, err := templatesReader(o, path, problems)
	if err != nil {
		return err
	}
	// Pass 1: mine, counting malformed lines.
	if err := each(ctx, func(e entry) error { miner.Add(e.msg, zeroTime); return nil }); err != nil {
		return err
	}
	// Pass 2 reads the same lines; its problems were counted already.
	if each, err = templatesReader(o, path, &pipeline.Problems{}); err != nil {
		return err
	}
	rows, byCluster := miner.Templates(nil)
	type stat struct {
		id, tpl   string
		count     int64
		firstLine int64
	}
	stats := make([]stat, len(rows))
	for i, r := range rows {
		stats[i] = stat{id: r.ID, tpl: r.Template, firstLine: -1}
	}
	unmatched := map[string]int{} // masked text -> index in stats
	// Pass 2: assign final templates.
	var w io.Writer = stdout
	var outFile *os.File
	if o.out != "" && o.out != "-" {
		if outFile, err = os.Create(o.out); err != nil {
			return fmt.Errorf("templates: --out: %w", err)
		}
		defer outFile.Close()
		w = outFile
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write([]string{"line_number", "template_id", "template"}); err != nil {
		return fmt.Errorf("templates: writing CSV: %w", err)
	}
	err = each(ctx, func(e entry) error {
		i := -1
		if c := miner.Match(e.msg); c != nil {
			i = byCluster[c]
		} else {
			// Cannot happen for a line added in pass 1, but stay total.
			text := miner.MaskedTemplate(e.msg)
			j, ok := unmatched[text]
			if !ok {
				j = len(stats)
				unmatched[text] = j
				stats = append(stats, stat{id: logtemplates.ID(text), tpl: text, firstLine: -1})
			}
			i = j
		}
		s := &stats[i]
		s.count++
		if s.firstLine < 0 {
			s.firstLine = e.line
		}
		return cw.Write([]string{strconv.FormatInt(e.line, 10), s.id, s.tpl})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("templates: writing CSV: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("templates: writing CSV: %w", err)
	}
	if outFile != nil {
		if err := outFile.Close(); err != nil {
			return fmt.Errorf("templates: --out %s: %w", o.out, err)
		}
	}
	if o.templates != "" {
		kept := stats[:0:0]
		for _, s := range stats {
			if s.count > 0 {
				kept = append(kept, s)
			}
		}
		sort.Slice(kept, func(a, b int) bool {
			if kept[a].count != kept[b].count {
				return kept[a].count > kept[b].count
			}
			return kept[a].id < kept[b].id
		})
		var buf bytes.Buffer
		tw := csv.NewWriter(&buf)
		_ = tw.Write([]string{"template_id", "template", "count", "first_line"})
		for _, s := range kept {
			_ = tw.Write([]string{s.id, s.tpl, strconv.FormatInt(s.count, 10), strconv.FormatInt(s.firstLine, 10)})
		}
		tw.Flush()
		if err := os.WriteFile(o.templates, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("templates: --templates: %w", err)
		}
	}
	if n := problems.Total(); n > 0 {
		fmt.Fprintf(stderr, "templates: %d malformed lines skipped\n", n)
		for _, in := range problems.Inputs() {
			rep := problems.Report()[in]
			reasons := make([]string, 0, len(rep.Reasons))
			for r, k := range rep.Reasons {
				reasons = append(reasons, fmt.Sprintf("%s=%d", r, k))
			}
			sort.Strings(reasons)
			fmt.Fprintf(stderr, "  %s\n", strings.Join(reasons, " "))
			for _, ex := range rep.Examples {
				fmt.Fprintf(stderr, "  e.g. %s\n", ex)
			}
		}
	}
	return nil
}

// templatesReader returns a function that streams the entries of path once
// per call (both passes read the same entries).
func templatesReader(o templatesOptions, path string, problems *pipeline.Problems) (func(context.Context, func(entry) error) error, error) {
	if o.format == "raw" {
		if o.multiline != "" {
			return nil, fmt.Errorf("templates: --multiline-start needs a format with timestamps, not raw")
		}
		return func(ctx context.Context, fn func(entry) error) error {
			return eachRawLine(ctx, path, problems, fn)
		}, nil
	}
	cfg := logfile.Config{
		Name: "templates", Path: globEscape(path), Format: o.format, Pattern: o.pattern, LogFormat: o.logFormat,
		TimeLayout: o.timeLayout, Timezone: o.timezone, Entity: "-",
		Multiline: logfile.Multiline{Start: o.multiline},
	}
	src, err := logfile.New(cfg, problems)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return func(ctx context.Context, fn func(entry) error) error {
		it, err := src.Open(ctx, pipeline.Grid{})
		if err != nil {
			return fmt.Errorf("templates: %w", err)
		}
		defer it.Close()
		for it.Next() {
			r := it.At()
			if err := fn(entry{line: r.Line, msg: r.Message}); err != nil {
				return err
			}
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("templates: %w", err)
		}
		return it.Close()
	}, nil
}

// eachRawLine calls fn for every non-blank line of path.
func eachRawLine(ctx context.Context, path string, problems *pipeline.Problems, fn func(entry) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var (
		line int64
		buf  []byte
	)
	for {
		buf = buf[:0]
		tooLong := false
		for {
			chunk, err := br.ReadSlice('\n')
			if !tooLong {
				buf = append(buf, chunk...)
				if len(buf) > logfile.MaxLineBytes+2 {
					tooLong, buf = true, buf[:0]
				}
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err == io.EOF {
				if len(buf) == 0 && !tooLong {
					return nil
				}
				break
			}
			if err != nil {
				return fmt.Errorf("templates: %s: after line %d: %w", path, line, err)
			}
			break
		}
		line++
		if line%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		where := "line " + strconv.FormatInt(line, 10)
		if tooLong {
			problems.Add("templates", where, "line_too_long", fmt.Sprintf("longer than %d bytes", logfile.MaxLineBytes))
			continue
		}
		b := bytes.TrimRight(buf, "\r\n")
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		s := string(b)
		if !utf8.ValidString(s) {
			problems.Add("templates", where, "invalid_utf8", "replaced invalid bytes with U+FFFD")
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		if err := fn(entry{line: line, msg: s}); err != nil {
			return err
		}
	}
}

// globEscape quotes glob metacharacters so a file name is matched literally.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '*', '?', '[', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
