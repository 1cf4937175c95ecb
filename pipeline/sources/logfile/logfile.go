// Package logfile reads log files matched by a glob (JSON lines, regexp
// text, logfmt, syslog RFC 3164/5424, klog, Loghub/logparser format
// strings, Kubernetes' CRI container logs; plain or compressed with gzip,
// zstd, bzip2 or xz; multiline entries) and yields their records as one
// stream merged in timestamp order. Malformed lines are counted in pipeline.Problems under
// "log:<source name>", never returned as errors.
package logfile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// Formats this package reads.
const (
	FormatJSONL = "jsonl"
	FormatText  = "text"
)

// MaxLineBytes is the longest line parsed; longer lines are counted as
// "line_too_long" and skipped.
const MaxLineBytes = 1 << 20

// Default JSON keys, tried in order, when the spec names none.
var (
	// The keys of common producers, tried in order: zap, logrus, slog,
	// pino and bunyan (ts, time, level, msg), Elastic's ECS (@timestamp,
	// log.level, message), Google Cloud and OpenTelemetry (severity),
	// go-kit (lvl), Docker's json-file driver (log, time).
	defaultTimeKeys    = []string{"ts", "time", "timestamp", "@timestamp"}
	defaultLevelKeys   = []string{"level", "severity", "log.level", "lvl"}
	defaultMessageKeys = []string{"msg", "message", "log"}
	// Without fields.entity and without a fixed entity, these are tried.
	defaultEntityKeys = []string{"entity", "service"}
)

var (
	// ErrNoFiles means the source's glob matched nothing.
	ErrNoFiles = errors.New("no log files match")
	// ErrFormat means the source's format is not one this package reads.
	ErrFormat = errors.New("unknown log format")
)

// Source is a log source over files matched by a glob.
type Source struct {
	cfg      Config
	problems *pipeline.Problems
	input    string // key in Problems
	newParse func() lineParser
	ml       *multiline // nil: one line is one entry
	// fields is the selection of LogRecord.Fields (FieldSelector); the
	// parsers hold a pointer to it.
	fields fieldSelection

	// Resume (pipeline.LogResumer): from are the marks files start at
	// (by path), markAt the time this run marks them at, marks the new
	// marks (nil: none are kept).
	from   map[string]pipeline.LogMark
	markAt time.Time
	markMu sync.Mutex
	marks  map[string]pipeline.LogMark
}

var (
	_ pipeline.LogSource     = (*Source)(nil)
	_ pipeline.LogResumer    = (*Source)(nil)
	_ pipeline.FieldSelector = (*Source)(nil)
)

// fieldSelection says which keys go into LogRecord.Fields: every key
// until SelectFields names some.
type fieldSelection struct {
	selected bool
	keys     map[string]struct{}
	dotted   []string // selected keys with a dot: paths into nested objects when no top-level key has the name
}

func (f *fieldSelection) keep(k string) bool {
	if f == nil || !f.selected {
		return true
	}
	_, ok := f.keys[k]
	return ok
}

// SelectFields implements pipeline.FieldSelector.
func (s *Source) SelectFields(keys []string) {
	s.fields = fieldSelection{selected: true, keys: map[string]struct{}{}}
	for _, k := range keys {
		s.fields.keys[k] = struct{}{}
		if strings.IndexByte(k, '.') > 0 {
			s.fields.dotted = append(s.fields.dotted, k)
		}
	}
}

// Resume implements pipeline.LogResumer.
func (s *Source) Resume(from map[string]pipeline.LogMark, at time.Time) {
	s.from, s.markAt = from, at
	s.marks = map[string]pipeline.LogMark{}
}

// Marks implements pipeline.LogResumer.
func (s *Source) Marks() map[string]pipeline.LogMark {
	s.markMu.Lock()
	defer s.markMu.Unlock()
	return maps.Clone(s.marks)
}

func (s *Source) setMark(path string, m pipeline.LogMark) {
	s.markMu.Lock()
	defer s.markMu.Unlock()
	s.marks[path] = m
}

// New builds a log source from its config (Factory's New; tests call it
// directly); files are globbed when the source is opened.
func New(cfg Config, problems *pipeline.Problems) (pipeline.LogSource, error) {
	return newSource(cfg, problems)
}

func newSource(cfg Config, problems *pipeline.Problems) (*Source, error) {
	where := fmt.Sprintf("log source %q", cfg.Name)
	if problems == nil {
		problems = &pipeline.Problems{}
	}
	if cfg.Path == "" {
		return nil, fmt.Errorf("%s: path is required (a glob such as /var/log/app/*.jsonl)", where)
	}
	if _, err := filepath.Match(cfg.Path, ""); err != nil {
		return nil, fmt.Errorf("%s: path %q: %w", where, cfg.Path, err)
	}
	var loc *time.Location
	if cfg.Timezone != "" {
		l, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			return nil, fmt.Errorf("%s: timezone %q: %w (use an IANA name such as Europe/Berlin)", where, cfg.Timezone, err)
		}
		loc = l
	}
	tp := newTimeParser(cfg.TimeLayout, loc)
	s := &Source{cfg: cfg, problems: problems, input: "log:" + cfg.Name}
	ml, err := newMultiline(cfg.Multiline)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	s.ml = ml
	switch cfg.Format {
	case FormatJSONL:
		fc := fieldsConfig{
			time:    keysOr(cfg.Fields.Time, defaultTimeKeys),
			level:   keysOr(cfg.Fields.Level, defaultLevelKeys),
			message: keysOr(cfg.Fields.Message, defaultMessageKeys),
		}
		switch {
		case cfg.Fields.Entity != "":
			fc.entity = []string{cfg.Fields.Entity}
		case cfg.Entity == "":
			fc.entity = defaultEntityKeys
		}
		// A parser per reader: its slab hands out the records' Fields.
		s.newParse = func() lineParser { return newJSONParser(fc, cfg.Entity, tp.clone(), &s.fields) }
	case FormatText:
		if cfg.Pattern == "" {
			return nil, fmt.Errorf("%s: pattern is required for format text", where)
		}
		re, err := regexp.Compile(cfg.Pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: pattern: %w", where, err)
		}
		if re.SubexpIndex("time") < 0 || re.SubexpIndex("message") < 0 {
			return nil, fmt.Errorf("%s: pattern needs named groups (?P<time>...) and (?P<message>...)", where)
		}
		p := newTextParser(re, cfg.Entity, tp)
		s.newParse = func() lineParser { return p.clone() } // per reader: the time memo
	case FormatLogfmt:
		fc := fieldsConfig{
			time:    keysOr(cfg.Fields.Time, []string{"ts", "time", "timestamp", "t"}),
			level:   keysOr(cfg.Fields.Level, []string{"level", "lvl", "severity"}),
			message: keysOr(cfg.Fields.Message, []string{"msg", "message"}),
		}
		switch {
		case cfg.Fields.Entity != "":
			fc.entity = []string{cfg.Fields.Entity}
		case cfg.Entity == "":
			fc.entity = []string{"entity", "service", "app", "component"}
		}
		// A parser per reader: its slab hands out the records' Fields.
		s.newParse = func() lineParser {
			return &logfmtParser{fc: fc, entity: cfg.Entity, timeParse: tp.clone(), fields: &s.fields}
		}
	case FormatSyslog:
		// Per file: the year inference is per file.
		s.newParse = func() lineParser {
			return &syslogParser{entity: cfg.Entity, byHost: cfg.Fields.Entity == "host", loc: loc, fields: &s.fields}
		}
	case FormatKlog:
		s.newParse = func() lineParser { return &klogParser{entity: cfg.Entity, loc: loc} }
	case FormatLogPAI:
		p, err := newLogPAIParser(cfg.LogFormat, cfg.Fields.Entity, cfg.Entity, tp)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		s.newParse = func() lineParser { return p.clone() } // per reader: scratch and cache
	case FormatCRI:
		if errs := cfg.validateLogFormat(); len(errs) > 0 {
			return nil, fmt.Errorf("%s: %s", where, strings.Join(errs, "; "))
		}
		s.newParse = func() lineParser { return newCRIParser(cfg, &s.fields) } // per file: its path's entity
	default:
		return nil, fmt.Errorf("%s: format %q: %w (use jsonl, text, logfmt, syslog, klog, logpai or cri)", where, cfg.Format, ErrFormat)
	}
	return s, nil
}

func keysOr(k string, def []string) []string {
	if k != "" {
		return []string{k}
	}
	return def
}

// Name returns the source's name from the spec.
func (s *Source) Name() string { return s.cfg.Name }

// Open globs the files and opens them all; the iterator merges their records
// by time (ties: file order, then line). The caller must Close it.
func (s *Source) Open(ctx context.Context, _ pipeline.Grid) (pipeline.LogIterator, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(s.cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("log source %q: path %q: %w", s.cfg.Name, s.cfg.Path, err)
	}
	// A glob such as /var/log/containers/* also matches directories
	// (rotated or archived logs kept beside the live ones): not log files.
	files = slices.DeleteFunc(files, func(f string) bool {
		st, err := os.Stat(f)
		return err == nil && st.IsDir()
	})
	if len(files) == 0 {
		return nil, fmt.Errorf("log source %q: %w %q (check path: in the spec)", s.cfg.Name, ErrNoFiles, s.cfg.Path)
	}
	// filepath.Glob returns names sorted per directory level; sort fully so
	// file order (the tie-breaker) is the same everywhere.
	slices.Sort(files)
	return newMergeIter(ctx, s, files)
}

// checkRecords is how many records Check reads: enough to catch a wrong
// format or field mapping, cheap on any size of log.
const checkRecords = 1000

// Check opens the source's files and parses the first records of the
// merged stream (pipeline.Checker).
func (s *Source) Check(ctx context.Context, _ string) error {
	it, err := s.Open(ctx, pipeline.Grid{})
	if err != nil {
		return err
	}
	for n := 0; n < checkRecords && it.Next(); n++ {
	}
	return errors.Join(it.Err(), it.Close())
}
