// Package ticketfile reads incident tickets from JSON files (one array of
// ticket objects each) and CSV files (a header row, one ticket per row),
// whose keys or columns the spec maps onto opsdata's ticket model. Malformed tickets are counted in pipeline.Problems under
// "tickets:<source name>" and skipped; a file that is not a JSON array is an
// error.
package ticketfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// FormatJSON is the only format this package reads.
const FormatJSON = "json"

var (
	// ErrNoFiles means the source's path matched no file.
	ErrNoFiles = errors.New("no ticket files match")
	// ErrNotArray means a file is not a JSON array of tickets.
	ErrNotArray = errors.New("not a JSON array of tickets")
)

// Problem reasons, one per way a ticket can be malformed.
const (
	ReasonNotObject      = "not_an_object"
	ReasonBadField       = "bad_field"
	ReasonMissingID      = "missing_id"
	ReasonDuplicateID    = "duplicate_id"
	ReasonMissingCreated = "missing_created"
	ReasonBadTimestamp   = "bad_timestamp"
	ReasonNaiveTimestamp = "naive_timestamp"
	ReasonBadTimezone    = "bad_timezone"
	ReasonResolvedBefore = "resolved_before_impact_start"
	ReasonNoEntities     = "no_entities"
)

// keys are the file's keys for each ticket field, after defaults.
type keys struct {
	id, title, body, status, severity, typ, created, impactStart, resolved, entities, timezone string
}

// Source reads tickets from the files its path (a glob) matches.
type Source struct {
	cfg      Config
	problems *pipeline.Problems
	input    string
	keys     keys
	loc      *time.Location // zone for naive timestamps; nil: they are errors
}

var _ pipeline.TicketSource = (*Source)(nil)

// New builds a ticket source from its config (Factory's New; tests call
// it directly); files are read by Tickets.
func New(cfg Config, problems *pipeline.Problems) (pipeline.TicketSource, error) {
	where := fmt.Sprintf("ticket source %q", cfg.Name)
	if problems == nil {
		problems = &pipeline.Problems{}
	}
	if cfg.Format != "" && cfg.Format != FormatJSON && cfg.Format != FormatCSV {
		return nil, fmt.Errorf("%s: format %q is not known (use json or csv)", where, cfg.Format)
	}
	if cfg.Path == "" {
		return nil, fmt.Errorf("%s: path is required", where)
	}
	if _, err := filepath.Match(cfg.Path, ""); err != nil {
		return nil, fmt.Errorf("%s: path %q: %w", where, cfg.Path, err)
	}
	s := &Source{cfg: cfg, problems: problems, input: "tickets:" + cfg.Name}
	if cfg.Timezone != "" {
		loc, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			return nil, fmt.Errorf("%s: timezone %q: %w (use an IANA name such as America/New_York)", where, cfg.Timezone, err)
		}
		s.loc = loc
	}
	f := cfg.Fields
	s.keys = keys{
		id:          or(f.ID, "id"),
		title:       or(f.Title, "title"),
		body:        or(f.Body, "body"),
		status:      or(f.Status, "status"),
		severity:    or(f.Severity, "severity"),
		typ:         or(f.Type, "type"),
		created:     or(f.Created, "created"),
		impactStart: or(f.ImpactStart, "impact_start"),
		resolved:    or(f.Resolved, "resolved"),
		entities:    or(f.Entities, "entities"),
		timezone:    or(f.Timezone, "timezone"),
	}
	return s, nil
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// Name returns the source's name from the spec.
func (s *Source) Name() string { return s.cfg.Name }

// Tickets reads every matched file and returns the well-formed tickets
// sorted by (impact start or created, id).
func (s *Source) Tickets(ctx context.Context) ([]pipeline.Ticket, error) {
	files, err := filepath.Glob(s.cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("ticket source %q: path %q: %w", s.cfg.Name, s.cfg.Path, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("ticket source %q: %w %q (check path: in the spec)", s.cfg.Name, ErrNoFiles, s.cfg.Path)
	}
	slices.Sort(files)
	var out []pipeline.Ticket
	seen := map[string]string{} // id → where first seen
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		read := s.readFile
		if s.cfg.Format == FormatCSV {
			read = s.readCSV // csv.go
		}
		ts, err := read(path, seen)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	SortTickets(out) // sort.go
	return out, nil
}

func (s *Source) readFile(path string, seen map[string]string) ([]pipeline.Ticket, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ticket source %q: %w", s.cfg.Name, err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			line, col := lineCol(data, syn.Offset)
			return nil, fmt.Errorf("ticket source %q: %s:%d:%d: invalid JSON: %w", s.cfg.Name, path, line, col, err)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("ticket source %q: %s: %w (found a JSON %s; wrap the tickets in [...])", s.cfg.Name, path, ErrNotArray, typ.Value)
		default:
			return nil, fmt.Errorf("ticket source %q: %s: %w", s.cfg.Name, path, err)
		}
	}
	if raws == nil {
		return nil, fmt.Errorf("ticket source %q: %s: %w (found null)", s.cfg.Name, path, ErrNotArray)
	}
	base := filepath.Base(path)
	var out []pipeline.Ticket
	for i, raw := range raws {
		t, reason, detail, ok := s.parse(raw)
		where := base + ":ticket "
		if t.ID != "" {
			where += t.ID
		} else {
			where += "#" + strconv.Itoa(i)
		}
		if ok {
			if first, dup := seen[t.ID]; dup {
				ok, reason, detail = false, ReasonDuplicateID, "first seen at "+first
			} else {
				seen[t.ID] = where
			}
		}
		if !ok {
			s.problems.Add(s.input, where, reason, detail)
			continue
		}
		t.Source = s.cfg.Name
		t.Where = base + "#" + t.ID
		out = append(out, t)
	}
	return out, nil
}

func lineCol(data []byte, offset int64) (int, int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	// Offset counts the offending byte, so this is its 1-based column.
	col := len(before) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, col
}

// parse maps one ticket object. ok=false says why it is malformed; t.ID is
// set whenever the ticket has one, so the problem can name it.
func (s *Source) parse(raw json.RawMessage) (t pipeline.Ticket, reason, detail string, ok bool) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return t, ReasonNotObject, "a ticket must be a JSON object", false
	}
	str := func(key string) (string, error) {
		v, err := scalar(obj[key])
		if err != nil {
			return "", fmt.Errorf("field %q: %w", key, err)
		}
		return strings.TrimSpace(v), nil
	}
	var err error
	if t.ID, err = str(s.keys.id); err != nil {
		return t, ReasonBadField, err.Error(), false
	}
	if t.ID == "" {
		return t, ReasonMissingID, fmt.Sprintf("no %q field", s.keys.id), false
	}
	for _, f := range []struct {
		dst *string
		key string
	}{{&t.Title, s.keys.title}, {&t.Body, s.keys.body}, {&t.Status, s.keys.status}, {&t.Severity, s.keys.severity}, {&t.Type, s.keys.typ}} {
		if *f.dst, err = str(f.key); err != nil {
			return t, ReasonBadField, err.Error(), false
		}
	}
	t.Severity = strings.ToLower(t.Severity)

	// The ticket's own zone wins over the source's.
	loc := s.loc
	zone, err := str(s.keys.timezone)
	if err != nil {
		return t, ReasonBadField, err.Error(), false
	}
	if zone != "" {
		if loc, err = time.LoadLocation(zone); err != nil {
			return t, ReasonBadTimezone, fmt.Sprintf("field %q: %s is not an IANA zone", s.keys.timezone, pipeline.DescribeShape(zone)), false
		}
	}
	tm := func(key string) (*time.Time, string, string) {
		v, err := str(key)
		if err != nil {
			return nil, ReasonBadField, err.Error()
		}
		if v == "" {
			return nil, "", ""
		}
		ts, reason, detail := parseTime(v, loc)
		if reason != "" {
			return nil, reason, fmt.Sprintf("field %q: %s", key, detail)
		}
		return &ts, "", ""
	}
	created, reason, detail := tm(s.keys.created)
	if reason != "" {
		return t, reason, detail, false
	}
	if created == nil {
		return t, ReasonMissingCreated, fmt.Sprintf("no %q field", s.keys.created), false
	}
	t.Created = *created
	if t.ImpactStart, reason, detail = tm(s.keys.impactStart); reason != "" {
		return t, reason, detail, false
	}
	if t.Resolved, reason, detail = tm(s.keys.resolved); reason != "" {
		return t, reason, detail, false
	}
	// A negative interval cannot be labelled; without impact_start the
	// labelers start at created, so that is the bound then.
	if t.Resolved != nil && t.Resolved.Before(Start(t)) {
		return t, ReasonResolvedBefore, "resolved is before impact_start (or created when impact_start is absent)", false
	}

	if t.Entities, err = entities(obj[s.keys.entities]); err != nil {
		return t, ReasonBadField, fmt.Sprintf("field %q: %v", s.keys.entities, err), false
	}
	if len(t.Entities) == 0 {
		return t, ReasonNoEntities, fmt.Sprintf("field %q names no entity", s.keys.entities), false
	}
	return t, "", "", true
}

// scalar renders a JSON scalar as text: strings unquoted, numbers and
// booleans as written; absent and null give "".
func scalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case '{', '[':
		return "", errors.New("is not a string")
	}
	return string(raw), nil // number or boolean
}

// entities accepts a JSON array of strings or a comma-separated string,
// trims each, and drops empties and repeats (first occurrence wins).
func entities(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	var list []string
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '[':
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, errors.New("must be an array of strings or a comma-separated string")
		}
	default:
		s, err := scalar(raw)
		if err != nil {
			return nil, errors.New("must be an array of strings or a comma-separated string")
		}
		list = strings.Split(s, ",")
	}
	var out []string
	for _, e := range list {
		e = strings.TrimSpace(e)
		if e != "" && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// naiveLayouts are zone-less forms accepted when a zone is known; Go takes
// an optional fractional second after the seconds field.
var naiveLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05"}

// parseTime parses RFC 3339 (also with a space for the T), or a naive
// timestamp in loc. The result is UTC.
func parseTime(s string, loc *time.Location) (time.Time, string, string) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), "", ""
		}
	}
	for _, l := range naiveLayouts {
		if _, err := time.Parse(l, s); err != nil {
			continue
		}
		if loc == nil {
			return time.Time{}, ReasonNaiveTimestamp, "timestamp has no zone; set timezone: in the ticket source or a timezone field on the ticket"
		}
		t, _ := time.ParseInLocation(l, s, loc)
		return t.UTC(), "", ""
	}
	return time.Time{}, ReasonBadTimestamp, pipeline.DescribeShape(s) + " is not RFC 3339"
}

// Check reads every file as a run would (pipeline.Checker).
func (s *Source) Check(ctx context.Context, _ string) error {
	_, err := s.Tickets(ctx)
	return err
}
