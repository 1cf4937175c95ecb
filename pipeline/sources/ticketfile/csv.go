package ticketfile

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opsdata/opsdata/pipeline"
)

// FormatCSV reads tickets from CSV files: a header row naming the columns
// (the same keys as JSON, mapped by fields:), one ticket per row. Empty
// cells are absent fields; the entities column separates entities by ';'
// or ','. Malformed rows are counted with file:line.
const FormatCSV = "csv"

// ErrCSVHeader means a CSV file has no usable header row.
var ErrCSVHeader = errors.New("CSV ticket file needs a header row")

// readCSV streams one CSV file, mapping every row through parse.
func (s *Source) readCSV(path string, seen map[string]string) ([]pipeline.Ticket, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ticket source %q: %w", s.cfg.Name, err)
	}
	defer f.Close()
	base := filepath.Base(path)
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1 // ragged rows are counted, not fatal
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("ticket source %q: %s: %w (file is empty)", s.cfg.Name, path, ErrCSVHeader)
		}
		return nil, fmt.Errorf("ticket source %q: %s:1: %w", s.cfg.Name, path, err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	if !containsStr(cols, s.keys.id) {
		return nil, fmt.Errorf("ticket source %q: %s:1: %w: no %q column (have %s; map it with fields.id)", s.cfg.Name, path, ErrCSVHeader, s.keys.id, strings.Join(cols, ","))
	}
	var out []pipeline.Ticket
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		where := base + ":" + strconv.Itoa(line)
		var perr *csv.ParseError
		if errors.As(err, &perr) && !errors.Is(err, csv.ErrFieldCount) {
			// a broken quote can swallow the rest of the file: stop here
			return nil, fmt.Errorf("ticket source %q: %s:%d: %w", s.cfg.Name, path, perr.Line, err)
		} else if err != nil {
			return nil, fmt.Errorf("ticket source %q: %s: %w", s.cfg.Name, where, err)
		}
		if len(rec) != len(cols) {
			s.problems.Add(s.input, where, ReasonBadField, fmt.Sprintf("%d cells, header has %d", len(rec), len(cols)))
			continue
		}
		obj := make(map[string]json.RawMessage, len(cols))
		for i, c := range cols {
			v := strings.TrimSpace(rec[i])
			if v == "" {
				continue
			}
			if c == s.keys.entities {
				v = strings.ReplaceAll(v, ";", ",")
			}
			b, _ := json.Marshal(v)
			obj[c] = b
		}
		raw, _ := json.Marshal(obj)
		t, reason, detail, ok := s.parse(raw)
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
		t.Where = where
		out = append(out, t)
	}
	return out, nil
}

func containsStr(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
