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
	"runtime/debug"
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
	registry   string // id registry CSV to resume from (if present) and update; "": none
}

func templatesCommand() *cli.Command {
	return &cli.Command{
		Name:  "templates",
		Usage: "mine log templates from a file (or stdin) without building a dataset",
		ArgsUsage: "FILE|-\n\n" +
			"Writes one CSV row per log entry (line_number, template_id, template) and, with\n" +
			"--templates, the template table (template_id, template, count, first_line).\n" +
			"A template's id is that of the first text it had, so it stays when the template\n" +
			"generalizes; with --registry a later run resumes with the same ids. Flags may\n" +
			"follow the file name. Malformed lines are counted on stderr.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "raw", Usage: "raw (each line is the message), jsonl, text (with --pattern), logfmt, syslog, klog, logpai (with --log-format) or cri (Kubernetes pod logs)"},
			&cli.StringFlag{Name: "pattern", Usage: "format text: regexp with named groups time and message (level, entity optional)"},
			&cli.StringFlag{Name: "log-format", Usage: "format logpai: e.g. \"<Date> <Time> <Level> <Component>: <Content>\""},
			&cli.StringFlag{Name: "time-layout", Usage: "Go time layout of the timestamps (default RFC 3339)"},
			&cli.StringFlag{Name: "timezone", Value: "UTC", Usage: "IANA zone for timestamps without offset"},
			&cli.StringFlag{Name: "multiline-start", Usage: "regexp matching the first line of an entry; other lines join the entry before (stack traces)"},
			&cli.IntFlag{Name: "depth", Value: logtemplates.DefaultDepth, Usage: "prefix tree depth (>= 3)"},
			&cli.Float64Flag{Name: "similarity", Value: logtemplates.DefaultSimilarity, Usage: "similarity threshold in (0, 1]"},
			&cli.IntFlag{Name: "max-children", Value: logtemplates.DefaultMaxChildren, Usage: "max children of a tree node"},
			&cli.StringSliceFlag{Name: "mask", Usage: "built-in masks to apply (" + strings.Join(logtemplates.AllMasks, ", ") + "), repeatable; default all; \"none\" for none"},
			&cli.GenericFlag{Name: "extra-mask", Value: &repeatable{}, Usage: "regexp whose matches become <*> before mining, repeatable (taken whole: commas are part of it)"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "per-line CSV file (default stdout)"},
			&cli.StringFlag{Name: "templates", Usage: "write the template table CSV to this file"},
			&cli.StringFlag{Name: "registry", Usage: "template id registry CSV: resume from it when it exists, write it back after mining (ids stay the same across runs)"},
		},
		Action: func(c *cli.Context) error {
			input, err := argsAnywhere(c)
			if err != nil {
				return err
			}
			if input == "" {
				return fmt.Errorf("templates: name one log file, or - for stdin, e.g. `opsdata templates --format raw app.log`")
			}
			o := templatesOptions{
				input: input, format: c.String("format"), pattern: c.String("pattern"),
				logFormat: c.String("log-format"), timeLayout: c.String("time-layout"), timezone: c.String("timezone"),
				multiline: c.String("multiline-start"), out: c.String("out"), templates: c.String("templates"),
				registry: c.String("registry"),
				miner: logtemplates.Config{
					Depth: c.Int("depth"), Similarity: c.Float64("similarity"), MaxChildren: c.Int("max-children"),
					ExtraMasks: c.Generic("extra-mask").(*repeatable).values,
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

// repeatable is a string flag that collects every occurrence whole
// (urfave/cli's StringSliceFlag splits at commas, which regexps contain).
type repeatable struct{ values []string }

func (r *repeatable) Set(v string) error { r.values = append(r.values, v); return nil }
func (r *repeatable) String() string     { return strings.Join(r.values, " ") }

// argsAnywhere returns the one positional argument and applies the flags
// that follow it: urfave/cli v2 stops parsing flags at the first
// positional, so `templates app.log --format raw` would leave them unread.
// After "--" every argument is positional.
func argsAnywhere(c *cli.Context) (string, error) {
	var pos []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasVal {
			if i+1 == len(args) {
				return "", fmt.Errorf("templates: flag %s needs a value", a)
			}
			i++
			val = args[i]
		}
		if err := c.Set(name, val); err != nil {
			return "", fmt.Errorf("templates: flag %s: %w", a, err)
		}
	}
	if len(pos) > 1 {
		return "", fmt.Errorf("templates: name one log file, not %d (%s)", len(pos), strings.Join(pos, ", "))
	}
	if len(pos) == 0 {
		return "", nil
	}
	return pos[0], nil
}

func loadRegistryFile(path string) (*logtemplates.Registry, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // the first run
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	reg, err := logtemplates.ReadRegistryCSV(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return reg, nil
}

// saveRegistryFile replaces path atomically, so a failed run leaves the
// previous registry.
func saveRegistryFile(path string, reg *logtemplates.Registry) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	err = logtemplates.WriteRegistryCSV(bw, reg)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// entry is one log entry the miner sees.
type entry struct {
	line int64
	t    time.Time
	msg  string
}

// keptReasons are the problems of lines that are still mined: reported as
// what they are, not as skipped lines.
var keptReasons = map[string]string{
	"out_of_order": "lines earlier than the line before them (mined in file order)",
	"invalid_utf8": "lines with invalid UTF-8 (repaired and mined)",
}

// runTemplates mines the input in one pass: every line is parsed once and
// added; its template is that of the cluster it joined, as the cluster
// ended (Drain's assignment), so nothing is read twice.
func runTemplates(ctx context.Context, o templatesOptions, stdin io.Reader, stdout, stderr io.Writer) error {
	// A one-shot batch command: trade some memory for a tenth less GC CPU,
	// unless the user set GOGC.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	var reg *logtemplates.Registry
	if o.registry != "" {
		var err error
		if reg, err = loadRegistryFile(o.registry); err != nil {
			return fmt.Errorf("templates: --registry: %w", err)
		}
	}
	miner, err := logtemplates.NewMiner(o.miner, reg)
	if err != nil {
		return fmt.Errorf("templates: miner parameters: %w", err)
	}
	problems := &pipeline.Problems{}
	each, err := templatesReader(o, stdin, problems)
	if err != nil {
		return err
	}
	// Per line: its number and its cluster's creation index (12 bytes).
	var (
		lines []int64
		seqs  []int32
	)
	// Parsing runs on a second goroutine, a batch ahead of the miner; the
	// miner takes the batches in file order, so the output is the same.
	batches, free := make(chan []entry, 4), make(chan []entry, 6)
	for i := 0; i < cap(free); i++ {
		free <- make([]entry, 0, 1024)
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		b := <-free
		err := each(ctx, func(e entry) error {
			b = append(b, e)
			if len(b) == cap(b) {
				batches <- b
				b = (<-free)[:0]
			}
			return nil
		})
		if len(b) > 0 {
			batches <- b
		}
		readErr <- err
	}()
	for b := range batches {
		for _, e := range b {
			c := miner.Add(e.msg, e.t)
			lines, seqs = append(lines, e.line), append(seqs, int32(c.Index()))
		}
		free <- b[:0]
	}
	if err := <-readErr; err != nil {
		return err
	}
	if len(lines) == 0 && problems.Total() > 0 {
		reportProblems(stderr, problems)
		return fmt.Errorf("templates: none of the %d lines could be read; check --format, --log-format and --time-layout", problems.Total())
	}
	rows, byCluster := miner.Templates(nil)
	rowOf := make([]int, len(miner.Clusters()))
	for i, c := range miner.Clusters() {
		rowOf[i] = byCluster[c]
	}
	type stat struct {
		count     int64
		firstLine int64
	}
	stats := make([]stat, len(rows))
	var w io.Writer = stdout
	var outFile *os.File
	if o.out != "" && o.out != "-" {
		if outFile, err = os.Create(o.out); err != nil {
			return fmt.Errorf("templates: --out: %w", err)
		}
		defer outFile.Close()
		w = outFile
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	// Each row's ",id,template\n" is encoded once, as encoding/csv would.
	tails := make([][]byte, len(rows))
	for i, r := range rows {
		var b bytes.Buffer
		cw := csv.NewWriter(&b)
		_ = cw.Write([]string{"", r.ID, r.Template})
		cw.Flush()
		tails[i] = b.Bytes()
	}
	if _, err := bw.WriteString("line_number,template_id,template\n"); err != nil {
		return fmt.Errorf("templates: writing CSV: %w", err)
	}
	num := make([]byte, 0, 20)
	for i, line := range lines {
		r := rowOf[seqs[i]]
		s := &stats[r]
		if s.count == 0 {
			s.firstLine = line
		}
		s.count++
		num = strconv.AppendInt(num[:0], line, 10)
		bw.Write(num)
		if _, err := bw.Write(tails[r]); err != nil {
			return fmt.Errorf("templates: writing CSV: %w", err)
		}
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
		// Rows are in (count, id) order of the whole registry; this run's
		// counts order the table.
		order := make([]int, 0, len(rows))
		for i := range rows {
			if stats[i].count > 0 {
				order = append(order, i)
			}
		}
		sort.SliceStable(order, func(a, b int) bool {
			x, y := order[a], order[b]
			if stats[x].count != stats[y].count {
				return stats[x].count > stats[y].count
			}
			return rows[x].ID < rows[y].ID
		})
		var buf bytes.Buffer
		tw := csv.NewWriter(&buf)
		_ = tw.Write([]string{"template_id", "template", "count", "first_line"})
		for _, i := range order {
			_ = tw.Write([]string{rows[i].ID, rows[i].Template, strconv.FormatInt(stats[i].count, 10), strconv.FormatInt(stats[i].firstLine, 10)})
		}
		tw.Flush()
		if err := os.WriteFile(o.templates, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("templates: --templates: %w", err)
		}
	}
	if o.registry != "" {
		if err := saveRegistryFile(o.registry, miner.Export()); err != nil {
			return fmt.Errorf("templates: --registry: %w", err)
		}
	}
	reportProblems(stderr, problems)
	return nil
}

// reportProblems tells skipped lines from lines mined with a note.
func reportProblems(stderr io.Writer, problems *pipeline.Problems) {
	for _, in := range problems.Inputs() {
		rep := problems.Report()[in]
		var skipped int64
		var reasons []string
		for r, k := range rep.Reasons {
			if what, ok := keptReasons[r]; ok {
				fmt.Fprintf(stderr, "templates: %d %s\n", k, what)
				continue
			}
			skipped += k
			reasons = append(reasons, fmt.Sprintf("%s=%d", r, k))
		}
		if skipped == 0 {
			continue
		}
		sort.Strings(reasons)
		fmt.Fprintf(stderr, "templates: %d malformed lines skipped\n  %s\n", skipped, strings.Join(reasons, " "))
		for _, ex := range rep.Examples {
			if r := exampleReason(ex); keptReasons[r] == "" {
				fmt.Fprintf(stderr, "  e.g. %s\n", ex)
			}
		}
	}
}

// exampleReason is the reason of a Problems example ("where: reason: detail").
func exampleReason(ex string) string {
	parts := strings.SplitN(ex, ": ", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// templatesReader returns a function that streams the entries of the
// input (a file, or stdin for "-") once.
func templatesReader(o templatesOptions, stdin io.Reader, problems *pipeline.Problems) (_ func(context.Context, func(entry) error) error, err error) {
	cleanup := func() {}
	if o.format == "raw" {
		if o.multiline != "" {
			return nil, fmt.Errorf("templates: --multiline-start needs a format with timestamps, not raw")
		}
		return func(ctx context.Context, fn func(entry) error) error {
			if o.input == "-" {
				return eachRawLine(ctx, "stdin", stdin, problems, fn)
			}
			f, err := os.Open(o.input)
			if err != nil {
				return fmt.Errorf("templates: %w", err)
			}
			defer f.Close()
			return eachRawLine(ctx, o.input, f, problems, fn)
		}, nil
	}
	path := o.input
	if path == "-" {
		// The file source reads by path: a redirected file is read where
		// it is, a pipe is buffered to a temporary file first.
		if f, ok := stdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
				path = f.Name()
			}
		}
		if path == "-" {
			tmp, err := bufferStdin(stdin)
			if err != nil {
				return nil, err
			}
			path = tmp
			cleanup = func() { os.Remove(tmp) }
		}
	}
	cfg := logfile.Config{
		Name: "templates", Path: globEscape(path), Format: o.format, Pattern: o.pattern, LogFormat: o.logFormat,
		TimeLayout: o.timeLayout, Timezone: o.timezone, Entity: "-",
		Multiline: logfile.Multiline{Start: o.multiline},
	}
	src, err := logfile.New(cfg, problems)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("templates: %w", err)
	}
	return func(ctx context.Context, fn func(entry) error) error {
		defer cleanup()
		it, err := src.Open(ctx, pipeline.Grid{})
		if err != nil {
			return fmt.Errorf("templates: %w", err)
		}
		defer it.Close()
		n := 0
		for it.Next() {
			r := it.At()
			if err := fn(entry{line: r.Line, t: r.Time, msg: r.Message}); err != nil {
				return err
			}
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("templates: %w", err)
		}
		return it.Close()
	}, nil
}

// bufferStdin copies stdin to a temporary file and returns its name.
func bufferStdin(stdin io.Reader) (string, error) {
	tmp, err := os.CreateTemp("", "opsdata-templates-*.log")
	if err != nil {
		return "", fmt.Errorf("templates: buffering stdin: %w", err)
	}
	_, err = io.Copy(tmp, stdin)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("templates: buffering stdin to %s: %w", tmp.Name(), err)
	}
	return tmp.Name(), nil
}

// eachRawLine calls fn for every non-blank line of path.
func eachRawLine(ctx context.Context, path string, f io.Reader, problems *pipeline.Problems, fn func(entry) error) error {
	br := bufio.NewReaderSize(f, 256<<10)
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
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\uFEFF")) // a UTF-8 byte-order mark
		}
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
