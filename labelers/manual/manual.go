package manual

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/opsdata/opsdata/pipeline"
)

// ErrNaiveTime means a timestamp without zone in a file that declares none.
var ErrNaiveTime = errors.New("timestamp has no zone and none is declared")

// ManualLabeler reads curated incidents (post-mortems, labels published
// with other datasets) from YAML, JSON or CSV files; see
// docs/spec.md (manual label files) and labelers/labeltest/testdata/README.md for the format. Curated
// files are small and hand-edited, so every malformed entry is an error
// naming file:line, never a silent skip.
type ManualLabeler struct {
	cfg Config
	loc *time.Location
}

// NewManualLabeler checks cfg; files are read by Incidents.
func NewManualLabeler(cfg Config) (*ManualLabeler, error) {
	if cfg.Path == "" {
		return nil, errors.New("manual labeler: path is required")
	}
	l := &ManualLabeler{cfg: cfg}
	if cfg.Timezone != "" {
		loc, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			return nil, fmt.Errorf("manual labeler: timezone %q: %w", cfg.Timezone, err)
		}
		l.loc = loc
	}
	return l, nil
}

// Name is the labeler's kind.
func (l *ManualLabeler) Name() string { return "manual" }

// manualEntry is one curated incident as written.
type manualEntry struct {
	ID        string   `yaml:"id"`
	Entity    string   `yaml:"entity"`
	Entities  []string `yaml:"entities"`
	Series    string   `yaml:"series"` // a series selector whose entity-label matcher names the entity
	Start     string   `yaml:"start"`
	End       string   `yaml:"end"`
	EffectEnd string   `yaml:"effect_end"`
	Severity  string   `yaml:"severity"`
	Type      string   `yaml:"type"`
	Title     string   `yaml:"title"`
	Timezone  string   `yaml:"timezone"`
	line      int
}

func (m *manualEntry) UnmarshalYAML(n *yaml.Node) error {
	type plain manualEntry
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*m = manualEntry(p)
	m.line = n.Line
	return nil
}

type manualFile struct {
	Timezone  string        `yaml:"timezone"`
	Incidents []manualEntry `yaml:"incidents"`
}

// Incidents reads every matched file, in name order.
func (l *ManualLabeler) Incidents(ctx context.Context, in pipeline.LabelInput) ([]pipeline.Incident, error) {
	files, err := filepath.Glob(l.cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("manual labeler: path %q: %w", l.cfg.Path, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("manual labeler: path %q matches no file", l.cfg.Path)
	}
	sort.Strings(files)
	entityLabel := l.cfg.EntityLabel
	if entityLabel == "" {
		entityLabel = in.EntityLabel
	}
	var out []pipeline.Incident
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		incs, err := l.readFile(f, entityLabel)
		if err != nil {
			return nil, fmt.Errorf("manual labeler: %w", err)
		}
		out = append(out, incs...)
	}
	sort.SliceStable(out, func(a, b int) bool { return pipeline.IncidentLess(&out[a], &out[b]) })
	return out, nil
}

func (l *ManualLabeler) readFile(path, entityLabel string) ([]pipeline.Incident, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	format := l.cfg.Format
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			format = "csv"
		case ".json":
			format = "json"
		default:
			format = "yaml"
		}
	}
	var mf manualFile
	switch format {
	case "csv":
		mf.Incidents, err = readManualCSV(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	default: // JSON is YAML
		trim := bytes.TrimSpace(data)
		if len(trim) > 0 && trim[0] == '[' {
			err = yaml.Unmarshal(data, &mf.Incidents)
		} else {
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			err = dec.Decode(&mf)
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w (expected {timezone: ZONE, incidents: [{id, entity, start, end, ...}]})", path, err)
		}
	}
	fileLoc := l.loc
	if mf.Timezone != "" {
		if fileLoc, err = time.LoadLocation(mf.Timezone); err != nil {
			return nil, fmt.Errorf("%s: timezone %q: %w", path, mf.Timezone, err)
		}
	}
	base := filepath.Base(path)
	var out []pipeline.Incident
	seen := map[string]int{}
	for i, m := range mf.Incidents {
		where := fmt.Sprintf("%s:%d", path, m.line)
		if m.ID == "" {
			m.ID = fmt.Sprintf("%s#%d", base, i+1)
		}
		if first, dup := seen[m.ID]; dup {
			return nil, fmt.Errorf("%s: incident %q: id already used at line %d", where, m.ID, first)
		}
		seen[m.ID] = m.line
		loc := fileLoc
		if m.Timezone != "" {
			if loc, err = time.LoadLocation(m.Timezone); err != nil {
				return nil, fmt.Errorf("%s: incident %q: timezone %q: %w", where, m.ID, m.Timezone, err)
			}
		}
		ents := pipeline.CleanEntities(append([]string{m.Entity}, m.Entities...))
		if m.Series != "" {
			e, err := entityOfSelector(m.Series, entityLabel)
			if err != nil {
				return nil, fmt.Errorf("%s: incident %q: series: %w", where, m.ID, err)
			}
			ents = pipeline.CleanEntities(append(ents, e))
		}
		if len(ents) == 0 {
			return nil, fmt.Errorf("%s: incident %q: no entity (set entity:, entities: or series:)", where, m.ID)
		}
		if m.Start == "" {
			return nil, fmt.Errorf("%s: incident %q: start is required", where, m.ID)
		}
		start, err := ParseLabelTime(m.Start, loc)
		if err != nil {
			return nil, fmt.Errorf("%s: incident %q: start: %w", where, m.ID, err)
		}
		var end, effect *time.Time
		if m.End != "" {
			t, err := ParseLabelTime(m.End, loc)
			if err != nil {
				return nil, fmt.Errorf("%s: incident %q: end: %w", where, m.ID, err)
			}
			end = &t
		}
		if m.EffectEnd != "" {
			t, err := ParseLabelTime(m.EffectEnd, loc)
			if err != nil {
				return nil, fmt.Errorf("%s: incident %q: effect_end: %w", where, m.ID, err)
			}
			effect = &t
		}
		for _, e := range ents {
			out = append(out, pipeline.Incident{
				ID: m.ID, Entity: e, Start: start, End: end, EffectEnd: effect,
				Severity: pipeline.NormalizeSeverity(m.Severity), Type: pipeline.NormalizeType(m.Type),
				Source: pipeline.SourceManual, SourceID: base + ":" + m.ID,
				Confidence: pipeline.ConfidenceManual, Title: m.Title,
			})
		}
	}
	return out, nil
}

// readManualCSV reads a header row naming the columns (id, entity, series,
// start, end, effect_end, severity, type, title, timezone; any order, start
// and one of entity/series required) and one incident per row.
func readManualCSV(data []byte) ([]manualEntry, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.Comment = '#'
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		switch h {
		case "id", "entity", "series", "start", "end", "effect_end", "severity", "type", "title", "timezone":
			col[h] = i
		default:
			return nil, fmt.Errorf("CSV header: unknown column %q (id, entity, series, start, end, effect_end, severity, type, title, timezone)", h)
		}
	}
	if _, ok := col["start"]; !ok {
		return nil, errors.New("CSV header: a start column is required")
	}
	var out []manualEntry
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		get := func(k string) string {
			if i, ok := col[k]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		out = append(out, manualEntry{ID: get("id"), Entity: get("entity"), Series: get("series"), Start: get("start"),
			End: get("end"), EffectEnd: get("effect_end"), Severity: get("severity"), Type: get("type"),
			Title: get("title"), Timezone: get("timezone"), line: line})
	}
}

// entityOfSelector reads the entity from a series selector's equality
// matcher on entityLabel: {service="cart",instance="a:80"} names cart.
func entityOfSelector(sel, entityLabel string) (string, error) {
	ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(sel)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.Name == entityLabel && m.Type == labels.MatchEqual {
			return m.Value, nil
		}
	}
	return "", fmt.Errorf("%q has no %s=\"...\" matcher naming the entity", sel, entityLabel)
}

var labelNaiveLayouts = []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04"}

// ParseLabelTime parses RFC 3339 (a space for the T allowed), or a naive
// timestamp in loc; a naive one without loc is ErrNaiveTime. Unix seconds
// (digits only) are accepted as UTC. The result is UTC.
func ParseLabelTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05.000-0700"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	for _, l := range labelNaiveLayouts {
		if _, err := time.Parse(l, s); err != nil {
			continue
		}
		if loc == nil {
			return time.Time{}, fmt.Errorf("%q: %w (add timezone: to the file, the entry or the labeler)", s, ErrNaiveTime)
		}
		t, _ := time.ParseInLocation(l, s, loc)
		return t.UTC(), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not RFC 3339 (2026-01-05T08:47:19Z) or a naive timestamp with a declared zone", s)
}

// Check reads and parses every matched file (pipeline.Checker).
func (l *ManualLabeler) Check(ctx context.Context, entityLabel string) error {
	_, err := l.Incidents(ctx, pipeline.LabelInput{EntityLabel: entityLabel})
	return err
}
