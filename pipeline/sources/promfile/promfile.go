// Package promfile is the file-based metric source: metric samples in
// OpenMetrics text (source openmetrics) or in a long CSV format (source
// csv) are loaded into a private temporary Prometheus TSDB block, which is
// then served exactly like source tsdb (package promtsdb): features are
// evaluated by Prometheus's own PromQL engine, so a feature over a file
// has the value it would have over the same samples in Prometheus.
//
// Loading streams: the files are read once, line by line, and appended to
// Prometheus's tsdb.BlockWriter, whose head memory-maps full chunks to disk;
// memory grows with the number of series, not of samples. The samples of
// one series must be in time order (across the matched files, read in
// sorted order). A sample at or before its series' previous one follows
// metrics.file.duplicates: refuse (the load fails and every such sample is
// reported, not only the first), keep_first or keep_last (the others are
// dropped and counted in bad_input as metrics:file). Every malformed line
// is an error naming file:line (fail fast: a metric source has no partial
// result worth publishing).
//
// CSV format (header required, columns in any order), for example:
//
//	timestamp,__name__,service,instance,value
//	2026-03-01T00:00:00Z,load,api,api-0:80,0.25
//
// The columns:
//
//   - timestamp: RFC 3339 (with offset), Unix seconds (1772323200 or
//     1772323200.5) or Unix milliseconds (any number >= 1e11), or a naive
//     "2006-01-02 15:04:05" / "2006-01-02T15:04:05" time read in
//     metrics.file.timezone (an error without it).
//   - value: a float (NaN, +Inf, -Inf allowed).
//   - __name__ or metric: the metric name.
//   - labels (optional): more labels as k=v;k=v.
//   - every other column is a label (an empty cell means the label is absent);
//     a column name must be a valid Prometheus label name.
//
// OpenMetrics: the text format as Prometheus's parser reads it (every
// sample needs a timestamp, in Unix seconds; a missing final "# EOF" is
// tolerated, data after it is an error).
package promfile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/opsdata/opsdata/internal/decompress"
	"github.com/opsdata/opsdata/internal/scratch"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
)

// Format is an input format of the source.
type Format string

// The formats, named as metrics.source names them.
const (
	OpenMetrics Format = "openmetrics"
	CSV         Format = "csv"
)

// Source is a promtsdb.Source over a temporary TSDB holding the files'
// samples; Close deletes the temporary TSDB.
type Source struct {
	*promtsdb.Source
	dir string
	// Samples and Series are what was loaded.
	Samples, Series int64
}

// Open loads the files matching f.Path in the given format into a
// temporary TSDB and opens it for evaluation.
func Open(ctx context.Context, format Format, f Config, lookback time.Duration) (*Source, error) {
	files, err := filepath.Glob(f.Path)
	if err != nil {
		return nil, fmt.Errorf("metrics.file.path %q: %w", f.Path, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("metrics.file.path %q: no file matches", f.Path)
	}
	sort.Strings(files)
	var loc *time.Location
	if f.Timezone != "" {
		if loc, err = time.LoadLocation(f.Timezone); err != nil {
			return nil, fmt.Errorf("metrics.file.timezone: %w", err)
		}
	}
	dir, err := scratch.Dir("", "opsdata-promfile-")
	if err != nil {
		return nil, fmt.Errorf("metric files: temporary TSDB: %w", err)
	}
	st, err := load(ctx, dir, files, f.Duplicates, f.problems, func(ctx context.Context, path string, r io.Reader, add addFunc) error {
		switch format {
		case OpenMetrics:
			return ReadOpenMetrics(ctx, path, r, add)
		case CSV:
			return ReadCSV(ctx, path, r, loc, add)
		default:
			return fmt.Errorf("unknown metric file format %q (openmetrics, csv)", format)
		}
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The read-only loader expects a WAL directory; the block has none.
	if err := os.Mkdir(filepath.Join(dir, "wal"), 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("metric files: temporary TSDB: %w", err)
	}
	src, err := promtsdb.Open(ctx, dir, lookback)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Source{Source: src, dir: dir, Samples: st.samples, Series: int64(len(st.series))}, nil
}

// Close closes the TSDB and deletes it.
func (s *Source) Close() error {
	return errors.Join(s.Source.Close(), os.RemoveAll(s.dir))
}

// addFunc receives one sample: its source line, labels, time (ms) and value.
type addFunc func(line int, lset labels.Labels, t int64, v float64) error

type readFunc func(ctx context.Context, path string, r io.Reader, add addFunc) error

// blockSize is the range of the one block the files are written to: far
// longer than any export, so the head accepts every in-order sample.
const blockSize = int64(200 * 365 * 24 * time.Hour / time.Millisecond)

// commitEvery bounds the samples pending in one appender.
const commitEvery = 50_000

type seriesState struct {
	ref  storage.SeriesRef
	seen bool
	last int64
	line int
	file string
	// keep_last holds each series' latest sample back until a later one
	// arrives, so a duplicate can still replace it.
	lset labels.Labels
	held float64
}

type loader struct {
	policy   string
	problems *pipeline.Problems
	refused  int64    // samples refused under the refuse policy
	examples []string // the first few of them, file:line and why
	ctx      context.Context
	app      storage.Appender
	w        *tsdb.BlockWriter
	series   map[string]*seriesState
	buf      []byte
	pending  int
	samples  int64
}

func load(ctx context.Context, dir string, files []string, policy string, problems *pipeline.Problems, read readFunc) (*loader, error) {
	w, err := tsdb.NewBlockWriter(promslog.NewNopLogger(), dir, blockSize)
	if err != nil {
		return nil, fmt.Errorf("metric files: temporary TSDB: %w", err)
	}
	if policy == "" {
		policy = DuplicatesRefuse
	}
	if problems == nil {
		problems = &pipeline.Problems{}
	}
	l := &loader{policy: policy, problems: problems, ctx: ctx, w: w, app: w.Appender(ctx), series: map[string]*seriesState{}}
	err = l.readAll(files, read)
	if err == nil {
		err = l.flushHeld()
	}
	if err == nil && l.refused > 0 {
		err = fmt.Errorf("metric files: %d samples at or before their series' previous sample, e.g. %s; the samples of a series must be in time order across the files (sorted by name), or set metrics.file.duplicates: keep_first or keep_last",
			l.refused, strings.Join(l.examples, "; "))
	}
	if err == nil && l.samples == 0 {
		err = fmt.Errorf("metric files %s: no samples", strings.Join(files, ", "))
	}
	if err == nil {
		if err = l.app.Commit(); err == nil {
			if _, err = w.Flush(ctx); err != nil {
				err = fmt.Errorf("metric files: write temporary TSDB block: %w", err)
			}
		}
	} else {
		l.app.Rollback()
	}
	return l, errors.Join(err, w.Close())
}

func (l *loader) readAll(files []string, read readFunc) error {
	for _, path := range files {
		if err := l.readFile(path, read); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) readFile(path string, read readFunc) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("metric file: %w", err)
	}
	defer f.Close()
	r, _, err := decompress.Open(bufio.NewReaderSize(f, 64<<10), path)
	if err != nil {
		return fmt.Errorf("metric file %s: %w", path, err)
	}
	defer r.Close()
	return read(l.ctx, path, r, func(line int, lset labels.Labels, t int64, v float64) error {
		return l.add(path, line, lset, t, v)
	})
}

func (l *loader) add(path string, line int, lset labels.Labels, t int64, v float64) error {
	l.buf = lset.Bytes(l.buf[:0])
	s, ok := l.series[string(l.buf)]
	if !ok {
		s = &seriesState{}
		if l.policy == DuplicatesKeepLast {
			s.lset = lset.Copy()
		}
		l.series[string(l.buf)] = s
	}
	if s.seen && t <= s.last {
		return l.early(s, path, line, lset, t, v)
	}
	if l.policy == DuplicatesKeepLast {
		if s.seen {
			if err := l.append(s, s.lset, s.last, s.held, s.file, s.line); err != nil {
				return err
			}
		}
		s.held = v
	} else if err := l.append(s, lset, t, v, path, line); err != nil {
		return err
	}
	s.seen, s.last, s.file, s.line = true, t, path, line
	return nil
}

// early handles a sample at or before its series' previous one.
func (l *loader) early(s *seriesState, path string, line int, lset labels.Labels, t int64, v float64) error {
	reason, what := "out_of_order_sample", "out of order"
	if t == s.last {
		reason, what = "duplicate_sample", "a duplicate timestamp"
	}
	where := fmt.Sprintf("%s:%d", path, line)
	detail := fmt.Sprintf("sample at %s is %s (previous sample %s:%d)", time.UnixMilli(t).UTC().Format(time.RFC3339Nano), what, s.file, s.line)
	switch {
	case l.policy == DuplicatesRefuse:
		l.refused++
		if len(l.examples) < pipeline.MaxProblemExamples {
			l.examples = append(l.examples, fmt.Sprintf("%s: %s of %s", where, detail, lset))
		}
	case l.policy == DuplicatesKeepLast && t == s.last:
		s.held, s.file, s.line = v, path, line // the later one wins
		l.problems.Add("metrics:file", where, reason, detail+"; the earlier one was dropped (keep_last)")
	default:
		l.problems.Add("metrics:file", where, reason, detail+"; dropped ("+l.policy+")")
	}
	return nil
}

// flushHeld appends the samples keep_last still holds back.
func (l *loader) flushHeld() error {
	if l.policy != DuplicatesKeepLast {
		return nil
	}
	keys := make([]string, 0, len(l.series))
	for k := range l.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if s := l.series[k]; s.seen {
			if err := l.append(s, s.lset, s.last, s.held, s.file, s.line); err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *loader) append(s *seriesState, lset labels.Labels, t int64, v float64, path string, line int) error {
	ref, err := l.app.Append(s.ref, lset, t, v)
	if err != nil {
		return fmt.Errorf("%s:%d: append %s: %w", path, line, lset, err)
	}
	s.ref = ref
	l.samples++
	if l.pending++; l.pending >= commitEvery {
		if err := l.app.Commit(); err != nil {
			return fmt.Errorf("%s:%d: commit to temporary TSDB: %w", path, line, err)
		}
		if err := l.ctx.Err(); err != nil {
			return err
		}
		l.app, l.pending = l.w.Appender(l.ctx), 0
	}
	return nil
}
