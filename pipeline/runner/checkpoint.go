package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/label"
	"github.com/opsdata/opsdata/pipeline/logtemplates"
	"github.com/opsdata/opsdata/schemas"
)

// A checkpoint is the export's day chain as it stood after its last day
// (decision 0038): everything a day's files depend on besides the day's own
// inputs — what the anonymizer learned, the entities and their names, the
// series ids, the miners and template statistics, the counters — plus,
// per log file, the last line read. An export that resumes from it at the
// next day produces, for that day and every later one, the files an export
// from the dataset's first day would produce (TestResumeEqualsBatch), and
// carries the earlier days' files from the previous version, relabelling
// their windows with today's incidents.
//
// It holds raw identifiers and texts, so it is sealed with the
// pseudonymization key (like the template registry, decision 0032); under
// another key it cannot be opened and the caller exports from the start.

// Resume starts an export at a day from the checkpoint a previous export
// of the same dataset, spec and key left there.
type Resume struct {
	// At is the first day exported from its inputs: the checkpoint's day.
	At time.Time
	// State is the sealed checkpoint (Options.SaveCheckpoint's bytes).
	State []byte
	// Previous is the version whose files of the days before At are
	// carried (their windows relabelled); its files may name parts
	// (schemas.File.Object) or lie under the version's directory.
	Previous *schemas.Manifest
}

// ErrResume means an export cannot continue from its checkpoint (a log
// line arrived late for a day already published, a checkpoint of another
// spec, key or code version): nothing was published, and the caller
// exports from the first day instead.
var ErrResume = errors.New("cannot resume from the checkpoint")

const (
	checkpointPurpose = "export-checkpoint"
	checkpointFormat  = 1
)

type checkpoint struct {
	Format      int           `json:"format"`
	At          time.Time     `json:"at"`
	GridStart   time.Time     `json:"grid_start"`
	Step        time.Duration `json:"step"`
	SpecDigest  string        `json:"spec_digest"`
	CodeVersion string        `json:"code_version"`
	// Anonymizer is anonymize.Anonymizer.MarshalState's encoding.
	Anonymizer []byte            `json:"anonymizer"`
	Entities   []string          `json:"entities"`
	Names      map[string]string `json:"names"`
	SeriesKeys []string          `json:"series_keys"` // by series id
	Series     []schemas.Series  `json:"series"`
	IDs        map[string]string `json:"ids"`
	LogStats   map[string]int64  `json:"log_stats"`
	UnknownEn  map[string]int64  `json:"unknown_entities"`
	// Lines is the last line read of each log file (lineKey: source and
	// path): a line past it with a time before At is late input for a
	// carried day.
	Lines map[string]int64 `json:"lines"`
	// Late are the lines counted late for their partition (logsDay), which
	// a resumed export does not read again.
	Late      map[string]schemas.InputProblems `json:"late"`
	Templates templateCheckpoint               `json:"templates"`
	// Marks are where the log sources left each file (pipeline.LogResumer),
	// by source and path: a resumed export starts there.
	Marks map[string]map[string]pipeline.LogMark `json:"marks"`
	// Incidents are each labeler's incidents as it returned them (by its
	// index in the spec), for labelers that resume (pipeline.IncidentResumer).
	Incidents map[int][]pipeline.Incident `json:"incidents"`
	// Days are, per day written, its windows' entities and a digest of
	// their label columns: a carried day whose labels come out the same is
	// carried by reference, not fetched and relabelled.
	Days map[string]dayCheckpoint `json:"days"`
	// ByEntity are the incidents the windows were labelled with, by raw
	// entity: a resumed export recomputes the labels of an earlier day only
	// where an entity's incidents changed (labelsAffected).
	ByEntity map[string][]pipeline.Incident `json:"by_entity"`
}

// labelsAffected says, per entity whose incidents changed since the
// checkpoint, from when its windows' labels may differ (zero: from the
// start). A window's labels depend on the incidents active in it, the
// recovery of those that started before it, and the next start at or
// after it; with both lists sorted by start and equal up to index i-1, a
// window starting before old[i-1].Start - step sees only the common prefix.
// The margin (horizon, recovery, one more step) costs a little more
// recomputation, never a wrong label.
func labelsAffected(old, cur map[string][]pipeline.Incident, step time.Duration, cfg label.Config) map[string]time.Time {
	out := map[string]time.Time{}
	ents := map[string]bool{}
	for e := range old {
		ents[e] = true
	}
	for e := range cur {
		ents[e] = true
	}
	for ent := range ents {
		o, n := old[ent], cur[ent]
		i := 0
		for i < len(o) && i < len(n) && sameIncident(o[i], n[i]) {
			i++
		}
		if i == len(o) && i == len(n) {
			continue // unchanged
		}
		if i == 0 {
			out[ent] = time.Time{}
			continue
		}
		out[ent] = o[i-1].Start.Add(-2*step - cfg.Horizon - cfg.Recovery)
	}
	return out
}

// sameIncident compares what window labels read of an incident.
func sameIncident(a, b pipeline.Incident) bool {
	eq := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.ID == b.ID && a.Start.Equal(b.Start) && eq(a.End, b.End) && eq(a.EffectEnd, b.EffectEnd) &&
		a.Severity == b.Severity && a.Source == b.Source
}

type dayCheckpoint struct {
	Entities []string         `json:"entities"` // raw, the day's windows entities
	Labels   string           `json:"labels"`   // labelsDigest
	Phases   map[string]int64 `json:"phases"`
}

// labelsDigest digests the label columns of a day's windows, entity by
// entity in the given order.
func labelsDigest(ents []string, labels map[string][]schemas.WindowLabels) string {
	h := sha256.New()
	str := func(p *string) string {
		if p == nil {
			return "\x01"
		}
		return *p
	}
	for _, ent := range ents {
		fmt.Fprintf(h, "%s\x00", ent)
		for _, l := range labels[ent] {
			min := "-"
			if l.MinutesToNextIncident != nil {
				min = strconv.FormatFloat(*l.MinutesToNextIncident, 'g', -1, 64)
			}
			fmt.Fprintf(h, "%t\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s\n", l.IncidentActive, strings.Join(l.IncidentIDs, "\x1f"), str(l.Severity), l.Phase,
				min, strings.Join(l.LabelSources, "\x1f"), str(l.Split))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dayLabels are the label columns of a day's windows for its entities
// (published names come from names), with the phase counts.
func (e *export) dayLabels(day pipeline.Grid, ents []string) (map[string][]schemas.WindowLabels, map[string]int64) {
	labels := make(map[string][]schemas.WindowLabels, len(ents))
	phases := map[string]int64{}
	for _, ent := range ents {
		ls := label.Apply(day, e.byEntity[ent], e.labelCfg)
		applySplit(e.split, day, e.entity(ent), ls)
		labels[ent] = ls
		for _, l := range ls {
			phases[l.Phase]++
		}
	}
	return labels, phases
}

// resumedIncidents are labeler i's incidents in the checkpoint.
func (e *export) resumedIncidents(i int) ([]pipeline.Incident, bool) {
	if e.resumed == nil {
		return nil, false
	}
	inc, ok := e.resumed.Incidents[i]
	return inc, ok
}

type templateCheckpoint struct {
	Registries map[string]string `json:"registries"` // CSV by log source
	Tpls       []tplCheckpoint   `json:"tpls"`
	Top        map[int]int       `json:"top"`
	Columns    []string          `json:"columns"`
	Pinned     bool              `json:"pinned"`
}

type tplCheckpoint struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	FirstText string    `json:"first_text"`
	Previous  []string  `json:"previous"`
	Mined     int64     `json:"mined"`
	Count     int64     `json:"count"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Sources   []string  `json:"sources"`
}

// takeCheckpoint records the chain after the last day, before the
// range-level tables (which a resumed export writes again).
func (e *export) takeCheckpoint() (*checkpoint, error) {
	anon, err := e.anon.MarshalState()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	keys := make([]string, len(e.seriesID))
	for k, id := range e.seriesID {
		keys[id] = k
	}
	cp := &checkpoint{
		Format: checkpointFormat, At: e.grid.End, GridStart: e.grid.Start, Step: e.grid.Step,
		SpecDigest: digest(e.o.SpecBytes), CodeVersion: e.o.CodeVersion, Anonymizer: anon,
		Entities: slices.Clone(e.entities), Names: maps.Clone(e.names), SeriesKeys: keys, Series: slices.Clone(e.series),
		IDs: maps.Clone(e.ids), LogStats: maps.Clone(e.logStats), UnknownEn: maps.Clone(e.unknownEn),
		Late: e.late.Report(), Incidents: e.rawIncidents, ByEntity: e.byEntity,
	}
	if ts := e.templates; ts != nil {
		tc := templateCheckpoint{Registries: map[string]string{}, Top: maps.Clone(ts.top), Columns: slices.Clone(ts.columns), Pinned: ts.pinned}
		for src, m := range ts.miners {
			var b bytes.Buffer
			if err := logtemplates.WriteRegistryCSV(&b, m.Export()); err != nil {
				return nil, fmt.Errorf("checkpoint: templates of %s: %w", src, err)
			}
			tc.Registries[src] = b.String()
		}
		for _, t := range ts.tpls {
			tc.Tpls = append(tc.Tpls, tplCheckpoint{ID: t.id, Text: t.text, FirstText: t.firstText, Previous: t.previous, Mined: t.mined,
				Count: t.count, First: t.first, Last: t.last, Sources: slices.Sorted(maps.Keys(t.sources))})
		}
		cp.Templates = tc
	}
	return cp, nil
}

// closeCheckpoint adds what the log sources read to the end: each file's
// last line read (the drain after the last day included) and its mark.
func (e *export) closeCheckpoint(cp *checkpoint) *checkpoint {
	cp.Lines = maps.Clone(e.lines)
	cp.Marks = map[string]map[string]pipeline.LogMark{}
	for _, src := range e.logSources {
		if lr, ok := src.(pipeline.LogResumer); ok {
			cp.Marks[src.Name()] = lr.Marks()
		}
	}
	return cp
}

// sealCheckpoint encodes and seals the checkpoint with the days as
// written or carried (carry relabels some: their digests and phase counts
// are the new ones).
func (e *export) sealCheckpoint(cp *checkpoint) ([]byte, error) {
	if cp == nil {
		return nil, fmt.Errorf("checkpoint: none was taken")
	}
	cp.Days = e.days
	plain, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return e.anon.Seal(checkpointPurpose, plain)
}

// openCheckpoint unseals and checks the checkpoint a resumed export starts
// from; every refusal wraps ErrResume.
func (e *export) openCheckpoint(r *Resume) (*checkpoint, error) {
	plain, err := e.anon.Unseal(checkpointPurpose, r.State)
	if err != nil {
		return nil, fmt.Errorf("%w: sealed under another key", ErrResume)
	}
	var cp checkpoint
	if err := json.Unmarshal(plain, &cp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrResume, err)
	}
	switch {
	case cp.Format != checkpointFormat:
		return nil, fmt.Errorf("%w: checkpoint format %d, this build reads %d", ErrResume, cp.Format, checkpointFormat)
	case !cp.At.Equal(r.At):
		return nil, fmt.Errorf("%w: the checkpoint is at %s, not %s", ErrResume, cp.At.Format(time.RFC3339), r.At.Format(time.RFC3339))
	case !cp.GridStart.Equal(e.grid.Start) || cp.Step != e.grid.Step:
		return nil, fmt.Errorf("%w: the checkpoint's range starts %s with %s windows", ErrResume, cp.GridStart.Format(time.RFC3339), cp.Step)
	case cp.SpecDigest != digest(e.o.SpecBytes):
		return nil, fmt.Errorf("%w: the spec changed", ErrResume)
	case cp.CodeVersion != e.o.CodeVersion:
		return nil, fmt.Errorf("%w: made by code version %q, this is %q", ErrResume, cp.CodeVersion, e.o.CodeVersion)
	case r.At.After(e.grid.End) || r.At.Before(e.grid.Start) || !r.At.Equal(r.At.Truncate(24*time.Hour)):
		return nil, fmt.Errorf("%w: %s is not a UTC midnight within the range", ErrResume, r.At.Format(time.RFC3339))
	case r.Previous == nil:
		return nil, fmt.Errorf("%w: no previous version to carry days from", ErrResume)
	}
	return &cp, nil
}

// restoreChain puts the checkpoint's chain in place of an empty one: called
// after the range's members are set and before the labels.
func (e *export) restoreChain(cp *checkpoint) error {
	if err := e.anon.RestoreState(cp.Anonymizer); err != nil {
		return fmt.Errorf("%w: anonymizer: %v", ErrResume, err)
	}
	e.entities, e.names = cp.Entities, cp.Names
	if e.names == nil {
		e.names = map[string]string{}
	}
	for id, k := range cp.SeriesKeys {
		e.seriesID[k] = int64(id)
	}
	e.series = cp.Series
	e.ids = cp.IDs
	e.lines = maps.Clone(cp.Lines) // cp.Lines stays as the previous run read them
	if e.lines == nil {
		e.lines = map[string]int64{}
	}
	for input, ip := range cp.Late {
		e.late.Restore(input, ip)
		e.problems.Restore(input, ip)
	}
	e.resumeAt = cp.At
	e.resumed = cp
	e.days = maps.Clone(cp.Days)
	if e.days == nil {
		e.days = map[string]dayCheckpoint{}
	}
	return nil
}

// restore continues the template set from the checkpoint; openTemplates
// calls it in place of loading the dataset's registry.
func (ts *templateSet) restore(tc templateCheckpoint) (map[string]*logtemplates.Registry, error) {
	regs := map[string]*logtemplates.Registry{}
	for src, csv := range tc.Registries {
		r, err := logtemplates.ReadRegistryCSV(strings.NewReader(csv))
		if err != nil {
			return nil, fmt.Errorf("%w: templates of %s: %v", ErrResume, src, err)
		}
		regs[src] = r
	}
	for _, t := range tc.Tpls {
		k := ts.add(t.ID, t.Text)
		s := &ts.tpls[k]
		s.firstText, s.previous, s.mined, s.count, s.first, s.last = t.FirstText, t.Previous, t.Mined, t.Count, t.First, t.Last
		for _, src := range t.Sources {
			s.sources[src] = true
		}
	}
	if tc.Top != nil {
		ts.top = tc.Top
	}
	ts.columns, ts.pinned = tc.Columns, tc.Pinned
	if ts.pinned {
		ts.firstDay = nil
	}
	return regs, nil
}

// resumeLogs makes a log source that can resume start each file where the
// checkpoint's run left it, and mark where this run leaves it (the
// range's end) for the next.
func (e *export) resumeLogs(src pipeline.LogSource) {
	lr, ok := src.(pipeline.LogResumer)
	if !ok {
		return
	}
	var from map[string]pipeline.LogMark
	if e.resumed != nil {
		from = e.resumed.Marks[src.Name()]
	}
	lr.Resume(from, e.grid.End)
}

// lineKey names a log file in Checkpoint.Lines: by path when the source
// reads files (base names repeat across directories), else by its name.
func lineKey(rec *pipeline.LogRecord) string {
	if rec.Path != "" {
		return rec.Source + "\x00" + rec.Path
	}
	return rec.Source + "\x00" + rec.File
}

// lineKeyCache remembers the last record's lineKey: records come in runs
// from one file, and building the key for each of millions of lines was a
// tenth of the logs path's allocations.
type lineKeyCache struct {
	source, path, file, key string
}

func (c *lineKeyCache) of(rec *pipeline.LogRecord) string {
	if c.key == "" || rec.Source != c.source || rec.Path != c.path || rec.File != c.file {
		c.source, c.path, c.file, c.key = rec.Source, rec.Path, rec.File, lineKey(rec)
	}
	return c.key
}

// carriedLine records that rec was read (its file's last line, for the
// next checkpoint) and is true for a line a resumed export skips: older
// than the checkpoint's day. A carried line past its file's last line read
// before is late input for a published day: the export cannot resume.
func (e *export) carriedLine(rec *pipeline.LogRecord) (bool, error) {
	k := e.lineKeys.of(rec)
	if rec.Line > e.lines[k] {
		e.lines[k] = rec.Line
	}
	if e.resumed == nil || !rec.Time.Before(e.resumeAt) {
		return false, nil
	}
	if rec.Line > e.resumed.Lines[k] {
		return true, fmt.Errorf("%w: log source %s: %s:%d is new and belongs to %s, a day already published", ErrResume, rec.Source, rec.File, rec.Line, pipeline.Date(rec.Time.UTC().Truncate(24*time.Hour)))
	}
	return true, nil
}
