package logtemplates

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// registryHeader is the CSV form of RegistryRow (lists as JSON arrays,
// times as RFC 3339 UTC).
var registryHeader = []string{"template_id", "template", "text", "first_template", "previous_templates", "constants", "count", "first_seen", "last_seen"}

// WriteRegistryCSV writes reg's rows, in creation order, as CSV.
func WriteRegistryCSV(w io.Writer, reg *Registry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(registryHeader); err != nil {
		return err
	}
	for _, r := range reg.rows {
		prev, _ := json.Marshal(nonNil(r.PreviousTemplates))
		cons := ""
		if r.Constants != nil {
			b, _ := json.Marshal(r.Constants)
			cons = string(b)
		}
		rec := []string{r.ID, r.Template, r.Text, r.FirstTemplate, string(prev), cons, strconv.FormatInt(r.Count, 10),
			r.FirstSeen.UTC().Format(time.RFC3339Nano), r.LastSeen.UTC().Format(time.RFC3339Nano)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ReadRegistryCSV reads what WriteRegistryCSV wrote.
func ReadRegistryCSV(r io.Reader) (*Registry, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(registryHeader)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("registry CSV header: %w", err)
	}
	for i, h := range registryHeader {
		if head[i] != h {
			return nil, fmt.Errorf("registry CSV column %d is %q, want %q", i+1, head[i], h)
		}
	}
	var rows []RegistryRow
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("registry CSV: %w", err)
		}
		row := RegistryRow{ID: rec[0], Template: rec[1], Text: rec[2], FirstTemplate: rec[3]}
		if err := json.Unmarshal([]byte(rec[4]), &row.PreviousTemplates); err != nil {
			return nil, fmt.Errorf("registry CSV line %d: previous_templates: %w", line, err)
		}
		if rec[5] != "" {
			if err := json.Unmarshal([]byte(rec[5]), &row.Constants); err != nil {
				return nil, fmt.Errorf("registry CSV line %d: constants: %w", line, err)
			}
		}
		if row.Count, err = strconv.ParseInt(rec[6], 10, 64); err != nil {
			return nil, fmt.Errorf("registry CSV line %d: count: %w", line, err)
		}
		if row.FirstSeen, err = time.Parse(time.RFC3339Nano, rec[7]); err != nil {
			return nil, fmt.Errorf("registry CSV line %d: first_seen: %w", line, err)
		}
		if row.LastSeen, err = time.Parse(time.RFC3339Nano, rec[8]); err != nil {
			return nil, fmt.Errorf("registry CSV line %d: last_seen: %w", line, err)
		}
		rows = append(rows, row)
	}
	return LoadRegistry(rows)
}
