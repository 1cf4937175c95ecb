// Package runner runs one export: it wires the spec's sources, labelers and
// anonymizer together, writes every table into a private staging directory,
// refuses to continue if the leakage gate finds a raw identifier, and only
// then publishes the version.
package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/opsdata/opsdata/datasets/publish"
	"github.com/opsdata/opsdata/datasets/spec"
	"github.com/opsdata/opsdata/labelers"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
)

// Options configure one export.
type Options struct {
	Spec      *spec.Spec
	SpecBytes []byte
	// From and To override the spec's range when set.
	From, To time.Time
	// Version names the published version; empty derives it from the range.
	Version     string
	CodeVersion string
	Components  pipeline.Components
	Logger      *slog.Logger
	// TempDir holds the staging directory (default: the system temp dir).
	TempDir string
	// Output overrides the spec's output URL.
	Output string
}

// Result describes a finished export.
type Result struct {
	Dataset          string
	Version          string
	Output           string
	Manifest         *publish.Manifest
	AlreadyPublished bool
	Rows             map[string]int64
	Problems         map[string]pipeline.InputProblems
}

// ErrLeak is returned when the leakage gate finds a raw identifier in the
// staged version; nothing is published.
var ErrLeak = errors.New("leakage gate refused to publish")

// Export runs the pipeline end to end.
func Export(ctx context.Context, o Options) (*Result, error) {
	s := o.Spec
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	from, to := s.Range.From, s.Range.To
	if !o.From.IsZero() {
		from = o.From
	}
	if !o.To.IsZero() {
		to = o.To
	}
	if from.IsZero() || to.IsZero() {
		return nil, fmt.Errorf("no export range: set range.from and range.to in %s or pass --from and --to", s.Path)
	}
	grid, err := pipeline.NewGrid(from.UTC(), to.UTC(), time.Duration(s.Window))
	if err != nil {
		return nil, err
	}
	version := o.Version
	if version == "" {
		version = DefaultVersion(grid)
	}
	key, err := anonymize.LoadKey(s.Anonymize.Key)
	if err != nil {
		return nil, fmt.Errorf("anonymization key: %w", err)
	}
	anon, err := anonymize.New(key, s.Anonymize, s.Entity.Label)
	if err != nil {
		return nil, fmt.Errorf("anonymization policy: %w", err)
	}
	staging, err := os.MkdirTemp(o.TempDir, "opsdata-staging-")
	if err != nil {
		return nil, fmt.Errorf("staging dir: %w", err)
	}
	defer os.RemoveAll(staging)

	e := &export{o: o, s: s, log: log, grid: grid, anon: anon, staging: staging,
		problems: &pipeline.Problems{}, rows: map[string]int64{}, seriesID: map[string]int64{}}
	if err := e.run(ctx); err != nil {
		return nil, err
	}

	// Leakage gate: every raw identifier the run saw, and the spec's
	// canaries, must be absent from every byte about to be published.
	meta := e.meta(version)
	if _, err := publish.Prepare(staging, meta); err != nil {
		return nil, fmt.Errorf("prepare version: %w", err)
	}
	leaks, err := anonymize.ScanDir(ctx, staging, anon.Inventory(), 10)
	if err != nil {
		return nil, fmt.Errorf("leakage gate: %w", err)
	}
	if len(leaks) > 0 {
		var b strings.Builder
		for _, l := range leaks {
			fmt.Fprintf(&b, "\n  %s column %q row %d: %s", l.File, l.Column, l.Row, l.Needle)
		}
		return nil, fmt.Errorf("%w: %d raw identifier(s) found, first:%s\nfix the anonymization policy (anonymize: in %s); nothing was published", ErrLeak, len(leaks), b.String(), s.Path)
	}
	// Prepare again: the manifest must describe the files exactly as gated.
	man, err := publish.Prepare(staging, meta)
	if err != nil {
		return nil, fmt.Errorf("prepare version: %w", err)
	}
	output := s.Output
	if o.Output != "" {
		output = o.Output
	}
	bkt, prefix, err := publish.OpenBucket(ctx, output)
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", output, err)
	}
	defer bkt.Close()
	res := &Result{Dataset: s.Dataset, Version: version, Output: output, Manifest: man, Rows: e.rows, Problems: e.problems.Report()}
	if err := publish.Publish(ctx, bkt, prefix, staging, man); err != nil {
		if errors.Is(err, publish.ErrAlreadyPublished) {
			res.AlreadyPublished = true
			return res, nil
		}
		return nil, fmt.Errorf("publish %s/%s: %w", s.Dataset, version, err)
	}
	return res, nil
}

// DefaultVersion names a version after its range: the date for one UTC
// day, otherwise from_to with dates (or date and time when not midnight).
func DefaultVersion(g pipeline.Grid) string {
	f := func(t time.Time) string {
		if t.Equal(t.Truncate(24 * time.Hour)) {
			return t.Format("2006-01-02")
		}
		return t.Format("2006-01-02T1504Z")
	}
	if g.End.Sub(g.Start) == 24*time.Hour && g.Start.Equal(g.Start.Truncate(24*time.Hour)) {
		return f(g.Start)
	}
	return f(g.Start) + "_" + f(g.End)
}

type export struct {
	o        Options
	s        *spec.Spec
	log      *slog.Logger
	grid     pipeline.Grid
	anon     *anonymize.Anonymizer
	staging  string
	problems *pipeline.Problems
	rows     map[string]int64

	entities  []string
	incidents []pipeline.Incident
	tickets   []pipeline.Ticket
	byEntity  map[string][]pipeline.Incident
	labelCfg  labelers.LabelConfig
	seriesID  map[string]int64
	series    []schemas.Series
	phases    map[string]int64
	logStats  map[string]int64
	bytesIn   int64
	unknownEn map[string]int64
}

func (e *export) run(ctx context.Context) error {
	s, c := e.s, e.o.Components
	var msrc pipeline.MetricSource
	if len(s.Metrics.Features) > 0 {
		mf, ok := c.Metrics[s.Metrics.Source]
		if !ok {
			return fmt.Errorf("metrics.source %q is not registered", s.Metrics.Source)
		}
		var err error
		if msrc, err = mf(ctx, s.Metrics); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		defer msrc.Close()
		// Learn the raw values of every label the policy pseudonymizes, so
		// the same strings are recognised in logs and tickets.
		for _, name := range sortedKeys(s.Anonymize.Labels) {
			vals, err := msrc.LabelValues(ctx, e.grid, name)
			if err != nil {
				return fmt.Errorf("metrics: %w", err)
			}
			for _, v := range vals {
				e.anon.Learn(s.Anonymize.Labels[name], v)
			}
		}
	}
	var metricEntities []string
	if msrc != nil {
		var err error
		if metricEntities, err = msrc.LabelValues(ctx, e.grid, s.Entity.Label); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	if err := e.readTickets(ctx); err != nil {
		return err
	}
	var ticketEntities []string
	for _, t := range e.tickets {
		ticketEntities = append(ticketEntities, t.Entities...)
	}
	e.entities = align.SortedSet(metricEntities, ticketEntities)
	if len(e.entities) == 0 {
		return fmt.Errorf("no entities: no metric carries the entity label %q in the range and no ticket names an entity", s.Entity.Label)
	}
	if err := e.label(ctx); err != nil {
		return err
	}

	var sources []pipeline.LogSource
	for _, lc := range s.Logs {
		f, ok := c.Logs[lc.Format]
		if !ok {
			return fmt.Errorf("logs %s: format %q is not registered", lc.Name, lc.Format)
		}
		src, err := f(lc, e.problems)
		if err != nil {
			return fmt.Errorf("logs %s: %w", lc.Name, err)
		}
		sources = append(sources, src)
	}
	logs, err := openLogs(ctx, sources)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	defer logs.Close()

	features := make([]string, len(s.Metrics.Features))
	for i, f := range s.Metrics.Features {
		features[i] = f.Name
	}
	table := align.NewWindowTable(features)
	e.phases = map[string]int64{}
	e.logStats = map[string]int64{}
	e.unknownEn = map[string]int64{}
	for _, day := range e.grid.Days() {
		if err := ctx.Err(); err != nil {
			return err
		}
		frame := align.NewFrame(day, s.Entity.Label, e.entities, len(features))
		if msrc != nil {
			if err := e.metricsDay(ctx, msrc, day, frame); err != nil {
				return err
			}
		}
		if err := e.logsDay(logs, day, frame); err != nil {
			return err
		}
		if err := e.windowsDay(table, day, frame); err != nil {
			return err
		}
		e.log.Info("day exported", "date", pipeline.Date(day.Start))
	}
	// Drain what is left after the range, so it is counted.
	for {
		if _, ok := logs.Next(time.Unix(1<<40, 0)); !ok {
			break
		}
		e.logStats["outside_range"]++
	}
	if err := logs.Err(); err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	return e.writeTables()
}

func (e *export) readTickets(ctx context.Context) error {
	for _, tc := range e.s.Tickets {
		f, ok := e.o.Components.Tickets[tc.Format]
		if !ok {
			return fmt.Errorf("tickets %s: format %q is not registered", tc.Name, tc.Format)
		}
		src, err := f(tc, e.problems)
		if err != nil {
			return fmt.Errorf("tickets %s: %w", tc.Name, err)
		}
		ts, err := src.Tickets(ctx)
		if err != nil {
			return fmt.Errorf("tickets %s: %w", tc.Name, err)
		}
		e.tickets = append(e.tickets, ts...)
	}
	return nil
}

func (e *export) label(ctx context.Context) error {
	in := pipeline.LabelInput{Grid: e.grid, Entities: e.entities, Tickets: e.tickets}
	for i, lc := range e.s.Labelers {
		f, ok := e.o.Components.Labelers[lc.Kind]
		if !ok {
			return fmt.Errorf("labelers[%d]: kind %q is not registered", i, lc.Kind)
		}
		l, err := f(lc, e.problems)
		if err != nil {
			return fmt.Errorf("labelers[%d] (%s): %w", i, lc.Kind, err)
		}
		inc, err := l.Incidents(ctx, in)
		if err != nil {
			return fmt.Errorf("labeler %s: %w", l.Name(), err)
		}
		e.incidents = append(e.incidents, inc...)
		if i == 0 {
			e.labelCfg = labelers.ConfigFrom(lc)
		}
	}
	sort.SliceStable(e.incidents, func(i, j int) bool {
		a, b := e.incidents[i], e.incidents[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.Entity != b.Entity {
			return a.Entity < b.Entity
		}
		return a.ID < b.ID
	})
	e.byEntity = map[string][]pipeline.Incident{}
	for _, inc := range e.incidents {
		e.byEntity[inc.Entity] = append(e.byEntity[inc.Entity], inc)
	}
	return nil
}

// metricsDay evaluates every feature over one day, fills the frame and
// writes the day's metrics partition.
func (e *export) metricsDay(ctx context.Context, msrc pipeline.MetricSource, day pipeline.Grid, frame *align.Frame) error {
	var rows []schemas.Metric
	seen := map[string]bool{}
	for k, f := range e.s.Metrics.Features {
		err := msrc.Evaluate(ctx, day, f, func(fs pipeline.FeatureSeries) error {
			if _, err := frame.AddFeature(k, fs, seen); err != nil {
				return err
			}
			id := e.seriesIDOf(fs)
			for i, v := range fs.Values {
				if !math.IsNaN(v) {
					rows = append(rows, schemas.Metric{WindowStart: day.At(i), SeriesID: id, Value: v})
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].WindowStart.Equal(rows[j].WindowStart) {
			return rows[i].WindowStart.Before(rows[j].WindowStart)
		}
		return rows[i].SeriesID < rows[j].SeriesID
	})
	if len(rows) == 0 {
		return nil
	}
	n, err := write.Table(e.staging, write.PartPath(schemas.TableMetrics, pipeline.Date(day.Start), 0), rows, "window_start", "series_id")
	e.rows[schemas.TableMetrics] += n
	return err
}

// seriesIDOf numbers feature series in order of first appearance, which is
// deterministic: days in order, features in spec order, series sorted.
func (e *export) seriesIDOf(fs pipeline.FeatureSeries) int64 {
	key := fs.Feature + "\x00" + fs.Labels.String()
	if id, ok := e.seriesID[key]; ok {
		return id
	}
	id := int64(len(e.seriesID))
	e.seriesID[key] = id
	pub := e.anon.Labels(fs.Labels)
	m := map[string]string{}
	pub.Range(func(l labels.Label) { m[l.Name] = l.Value })
	ent := fs.Labels.Get(e.s.Entity.Label)
	if ent != "" {
		m[e.s.Entity.Label] = e.entity(ent)
	}
	b, _ := json.Marshal(m) // map keys are sorted by encoding/json
	e.series = append(e.series, schemas.Series{SeriesID: id, Feature: fs.Feature, Entity: e.entity(ent), Labels: string(b)})
	return id
}

// entity is the published name of an entity: kept as is, unless the policy
// pseudonymizes the entity label (hosts, for instance).
func (e *export) entity(raw string) string {
	if typ, ok := e.s.Anonymize.Labels[e.s.Entity.Label]; ok && raw != "" {
		return e.anon.Pseudonym(typ, raw)
	}
	if e.s.Entity.Kind == "host" && raw != "" {
		return e.anon.Pseudonym("host", raw)
	}
	return raw
}

// logsDay consumes the merged log stream up to the end of day, writing the
// day's logs partition and counting lines into the frame.
func (e *export) logsDay(logs *logStream, day pipeline.Grid, frame *align.Frame) error {
	var f *write.File[schemas.Log]
	batch := make([]schemas.Log, 0, 4096)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if f == nil {
			var err error
			if f, err = write.Create[schemas.Log](e.staging, write.PartPath(schemas.TableLogs, pipeline.Date(day.Start), 0), "ts"); err != nil {
				return err
			}
		}
		err := f.Write(batch)
		batch = batch[:0]
		return err
	}
	for {
		rec, ok := logs.Next(day.End)
		if !ok {
			break
		}
		if rec.Time.Before(day.Start) {
			if rec.Time.Before(e.grid.Start) {
				e.logStats["outside_range"]++
			} else {
				// Older than a partition already written: counted, not placed.
				e.problems.Add("log:"+rec.Source, fmt.Sprintf("%s:%d", rec.File, rec.Line), "late_for_partition", "more than the reorder buffer behind its source")
			}
			continue
		}
		if !frame.AddLog(rec.Entity, rec.Time, rec.Level) {
			e.unknownEn[rec.Source]++
		}
		e.anon.Fields(rec.Fields)
		batch = append(batch, schemas.Log{
			Timestamp: rec.Time,
			Entity:    e.entity(rec.Entity),
			Level:     rec.Level,
			Message:   e.anon.Text(rec.Message),
			Source:    rec.Source,
			File:      e.anon.Text(rec.File),
			Line:      rec.Line,
		})
		e.logStats["lines"]++
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				f.Abort()
				return err
			}
		}
	}
	if err := flush(); err != nil {
		if f != nil {
			f.Abort()
		}
		return err
	}
	if f == nil {
		return nil
	}
	e.rows[schemas.TableLogs] += f.Rows()
	return f.Close()
}

func (e *export) windowsDay(table *align.WindowTable, day pipeline.Grid, frame *align.Frame) error {
	w, err := write.CreateDynamic(e.staging, write.PartPath(schemas.TableWindows, pipeline.Date(day.Start), 0), table.Type(), "window_start", "entity")
	if err != nil {
		return err
	}
	labelsOf := func(entity string) []schemas.WindowLabels {
		return labelers.Apply(day, e.byEntity[entity], e.labelCfg)
	}
	published := map[string]string{}
	for _, ent := range e.entities {
		published[ent] = e.entity(ent)
	}
	err = frame.Rows(table, labelsOf, func(row any) error {
		return w.Write(row)
	})
	if err != nil {
		w.Abort()
		return err
	}
	for _, ent := range e.entities {
		for _, l := range labelsOf(ent) {
			e.phases[l.Phase]++
		}
	}
	e.rows[schemas.TableWindows] += w.Rows()
	return w.Close()
}

func (e *export) writeTables() error {
	if len(e.series) > 0 {
		n, err := write.Table(e.staging, write.PartPath(schemas.TableSeries, "", 0), e.series, "series_id")
		if err != nil {
			return err
		}
		e.rows[schemas.TableSeries] = n
	}
	tickets := make([]schemas.Ticket, 0, len(e.tickets))
	for _, t := range e.tickets {
		ents := make([]string, len(t.Entities))
		for i, x := range t.Entities {
			ents[i] = e.entity(x)
		}
		tickets = append(tickets, schemas.Ticket{
			TicketID: t.ID, Source: t.Source, Title: e.anon.Text(t.Title), Body: e.anon.Text(t.Body),
			Status: t.Status, Severity: t.Severity, Created: t.Created.UTC(),
			ImpactStart: utcPtr(t.ImpactStart), Resolved: utcPtr(t.Resolved), Entities: ents,
		})
	}
	n, err := write.Table(e.staging, write.PartPath(schemas.TableTickets, "", 0), tickets, "ticket_id")
	if err != nil {
		return err
	}
	e.rows[schemas.TableTickets] = n
	incidents := make([]schemas.Incident, 0, len(e.incidents))
	for _, in := range e.incidents {
		incidents = append(incidents, schemas.Incident{
			IncidentID: in.ID, Entity: e.entity(in.Entity), Start: in.Start.UTC(), End: utcPtr(in.End), EffectEnd: utcPtr(in.EffectEnd),
			Severity: in.Severity, Type: in.Type, Source: in.Source, SourceID: in.SourceID, Confidence: in.Confidence,
			Title: e.anon.Text(in.Title),
		})
	}
	n, err = write.Table(e.staging, write.PartPath(schemas.TableIncidents, "", 0), incidents, "start", "entity")
	if err != nil {
		return err
	}
	e.rows[schemas.TableIncidents] = n
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (e *export) meta(version string) publish.Meta {
	sum := sha256.Sum256(e.o.SpecBytes)
	feats := make([]publish.FeatureInfo, len(e.s.Metrics.Features))
	for i, f := range e.s.Metrics.Features {
		feats[i] = publish.FeatureInfo{Name: f.Name, Expr: f.Expr, Unit: f.Unit}
	}
	return publish.Meta{
		Dataset: e.s.Dataset, Version: version, Title: e.s.Title, Description: e.s.Description,
		Licence: e.s.Licence, Citation: e.s.Citation,
		From: e.grid.Start, To: e.grid.End, Window: e.grid.Step, EntityKind: e.s.Entity.Kind,
		SpecDigest: "sha256:" + hex.EncodeToString(sum[:]), CodeVersion: e.o.CodeVersion,
		KeyEpoch: anonymize.Epoch(mustKey(e.s.Anonymize.Key)), SchemaVersions: schemas.Versions,
		Features: feats, Labels: e.labelSummary(), BadInput: e.problems.Report(),
		Anonymization: e.anon.Report(),
	}
}

func mustKey(k spec.Key) []byte {
	b, _ := anonymize.LoadKey(k) // loaded successfully before the run started
	return b
}

// labelSummary is the label part of the manifest and dataset card,
// including the gaps a researcher must know about.
func (e *export) labelSummary() publish.LabelSummary {
	ls := publish.LabelSummary{
		IncidentsBySource: map[string]int64{},
		WindowsByPhase:    e.phases,
		Windows:           e.rows[schemas.TableWindows],
		LabelledWindows:   e.phases[schemas.PhaseIncident],
		Incidents:         int64(len(e.incidents)),
	}
	for _, l := range e.s.Labelers {
		ls.Labelers = append(ls.Labelers, l.Kind)
	}
	ls.Method = fmt.Sprintf("Incidents come from %s; a window [s, s+%s) of an entity is labelled incident when it overlaps an incident's [impact start, resolved) of that entity. pre_incident marks the %s before an incident, recovery the %s after one.",
		strings.Join(ls.Labelers, ", "), e.grid.Step, e.labelCfg.Horizon, e.labelCfg.Recovery)
	known := map[string]bool{}
	for _, ent := range e.entities {
		known[ent] = true
	}
	var open, unknown int
	for _, in := range e.incidents {
		ls.IncidentsBySource[in.Source]++
		if in.End == nil {
			open++
		}
		if !known[in.Entity] {
			unknown++
		}
	}
	if open > 0 {
		ls.Gaps = append(ls.Gaps, fmt.Sprintf("%d incident interval(s) have no known end (ticket still open): labelled until the end of the export", open))
	}
	if unknown > 0 {
		ls.Gaps = append(ls.Gaps, fmt.Sprintf("%d incident interval(s) name entities with no metrics in the range", unknown))
	}
	if len(e.s.Labelers) == 1 && e.s.Labelers[0].Kind == "ticket" {
		ls.Gaps = append(ls.Gaps, "only ticketed incidents are labelled: incidents nobody filed a ticket for are missing (alert and rule labelers close this gap)")
	}
	for _, src := range sortedKeys(e.unknownEn) {
		ls.Gaps = append(ls.Gaps, fmt.Sprintf("log source %s: %d lines name entities with no metrics; they are in the logs table but not counted in windows", src, e.unknownEn[src]))
	}
	if n := e.logStats["outside_range"]; n > 0 {
		ls.Gaps = append(ls.Gaps, fmt.Sprintf("%d log lines fell outside the export range and were not exported", n))
	}
	return ls
}
