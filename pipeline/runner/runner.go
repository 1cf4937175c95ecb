// Package runner runs one export: it wires the spec's sources, labelers and
// anonymizer together, writes every table into a private staging directory,
// refuses to continue if the leakage gate finds a raw identifier, and only
// then publishes the version.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/storage"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/label"
	"github.com/opsdata/opsdata/pipeline/logtemplates"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
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
	// AllowEmpty publishes a range without any metric sample or log line
	// (windows with labels only); by default such a range is refused.
	AllowEmpty bool
	// Public sets an anonymous read-only policy on the dataset's prefix
	// of an s3:// output (bucket.SetPublicRead) before publishing.
	Public bool
	// Publish, when set, replaces the upload: it gets the staged version
	// after the leakage gate and Prepare (dir holds manifest.json and every
	// file it lists) and publishes it its own way; nightly snapshots use it
	// (pipeline/nightly). The staging dir is removed after it returns.
	Publish func(ctx context.Context, dir string, m *schemas.Manifest) error
	// LogWorkers is how many goroutines scrub log lines (default
	// GOMAXPROCS); the published bytes do not depend on it.
	LogWorkers int
	// Resume, when set, exports the days from Resume.At on from their
	// inputs, starting from the checkpoint the previous version left, and
	// carries the earlier days' files from it (checkpoint.go). An export
	// that cannot resume fails with ErrResume before publishing anything.
	Resume *Resume
	// SaveCheckpoint, when set, gets the sealed checkpoint after the last
	// day, before the version is gated and published (checkpoint.go).
	SaveCheckpoint func(ctx context.Context, sealed []byte) error

	// Pieces, when set, is what the shards of a windowed export staged
	// (FetchPieces): the features and the labelers' range queries are read
	// from it instead of evaluated, and what it lacks is evaluated here.
	Pieces *StagedPieces

	// resolved, when set, is what a commit of shards already resolved
	// from these options (pieces.go): Export does not resolve it again.
	resolved *windowedRun
}

// Result describes a finished export.
type Result struct {
	Dataset          string
	Version          string
	Output           string
	Manifest         *schemas.Manifest
	AlreadyPublished bool
	Rows             map[string]int64
	Problems         map[string]schemas.InputProblems
	// Stages is where the export's time went (not for a re-run that
	// read nothing).
	Stages []Stage
	// Pieces is how many feature pieces a commit of shards read in place
	// of evaluating the features, PiecesEvaluated how many no shard had
	// staged (pieces.go); Slices and SlicesEvaluated the same for the
	// labelers' range queries (labelslices.go).
	Pieces, PiecesEvaluated, Slices, SlicesEvaluated int
}

// ErrEmpty: the range holds no metric sample and no log line.
var ErrEmpty = errors.New("nothing to export")

// ErrLeak is returned when the leakage gate finds a raw identifier in the
// staged version; nothing is published.
var ErrLeak = errors.New("leakage gate refused to publish")

// Export runs the pipeline end to end.
func Export(ctx context.Context, o Options) (*Result, error) {
	s := o.Spec
	log := runLogger(o.Logger)
	sweepScratch(log, o.TempDir)
	w := o.resolved
	if w == nil {
		var err error
		if w, err = resolveWindowed(ctx, o); err != nil {
			return nil, err
		}
	}
	plan, grid, version, output, anon, keyEpoch := w.plan, w.grid, w.version, w.output, w.anon, w.keyEpoch
	// A re-run over unchanged inputs is known before any data is read; a
	// run with an input that has no fingerprint (a remote source) reads.
	fingerprint, fpOK, fpErr := plan.Fingerprint(ctx)
	if fpErr != nil {
		log.Warn("inputs not fingerprinted: the run reads them", "err", fpErr)
	}
	inputs := inputState{Version: version, InputFingerprint: fingerprint, SpecDigest: digest(o.SpecBytes), CodeVersion: o.CodeVersion,
		KeyEpoch: keyEpoch, From: grid.Start, To: grid.End}
	if fpOK {
		m, same, err := alreadyPublished(ctx, s, output, version, inputs)
		if err != nil {
			return nil, err
		}
		if same {
			log.Info("inputs unchanged since the published version: nothing read", "version", version)
			return &Result{Dataset: s.Dataset, Version: version, Output: output, Manifest: m, AlreadyPublished: true, Rows: tableRows(m), Problems: m.BadInput}, nil
		}
	}
	clock := newStageClock()
	started := time.Now()
	staging, cleanup, err := makeStaging(o.TempDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()

	e := &export{output: output, version: version, o: o, s: s, plan: plan, log: log, grid: grid, anon: anon, keyEpoch: keyEpoch, staging: staging,
		problems: &pipeline.Problems{}, late: &pipeline.Problems{}, lines: map[string]int64{}, days: map[string]dayCheckpoint{},
		rows: map[string]int64{}, seriesID: map[string]int64{}, unknownIncidents: map[string]int64{}, clock: clock}
	regs, before, err := e.loadRegistries(ctx)
	if err != nil {
		return nil, err
	}
	e.registries = regs
	if err := e.run(ctx); err != nil {
		return nil, err
	}
	if e.resumed != nil {
		t0 := time.Now()
		if err := e.carry(ctx); err != nil { // carry.go
			return nil, err
		}
		if o.Publish == nil {
			// An ordinary upload needs every file staged.
			if err := e.stageCarried(ctx); err != nil {
				return nil, err
			}
		}
		clock.since(stageCarry, t0)
	}
	if o.SaveCheckpoint != nil {
		sealed, err := e.sealCheckpoint(e.checkpoint) // checkpoint.go
		if err != nil {
			return nil, err
		}
		if err := o.SaveCheckpoint(ctx, sealed); err != nil {
			return nil, fmt.Errorf("keep the checkpoint: %w", err)
		}
	}

	// Leakage gate: every raw identifier the run saw, and the spec's
	// canaries, must be absent from every byte about to be published.
	man, already, err := finish(ctx, staged{dir: staging, meta: e.meta(version), anon: anon, spec: s, output: output, public: o.Public, publish: o.Publish, clock: clock})
	if err != nil {
		return nil, err
	}
	if !already {
		if err := e.saveRegistries(ctx, before); err != nil {
			return nil, fmt.Errorf("published %s/%s, but keeping the template registry failed (the next version's template ids start afresh): %w", s.Dataset, version, err)
		}
	}
	if fpOK {
		if err := writeInputState(ctx, s, output, inputs); err != nil {
			log.Warn("could not record the inputs' fingerprint (the next run reads them again)", "err", err)
		}
	}
	clock.since(stageExportOverall, started)
	clock.log(log)
	res := &Result{Dataset: s.Dataset, Version: version, Output: output, Manifest: man, AlreadyPublished: already, Rows: e.rows, Problems: e.problems.Report(), Stages: clock.stages()}
	if e.pieceSrc != nil {
		res.Pieces, res.PiecesEvaluated = e.pieceSrc.read, e.pieceSrc.evaluated
		res.Slices, res.SlicesEvaluated = int(e.sliceSrc.read.Load()), int(e.sliceSrc.evaluated.Load())
	}
	return res, nil
}

// windowedRun is what a windowed export, its shards and their commit
// resolve from their options alike.
type windowedRun struct {
	plan     *Plan
	grid     pipeline.Grid
	version  string
	output   string
	anon     *anonymize.Anonymizer
	keyEpoch string
}

// resolveWindowed resolves the spec, the range, the version and the
// output of a windowed export.
func resolveWindowed(ctx context.Context, o Options) (*windowedRun, error) {
	s := o.Spec
	plan, err := Resolve(s, o.Components)
	if err != nil {
		return nil, err
	}
	from, to, err := runRange(s, o.From, o.To)
	if err != nil {
		return nil, err
	}
	grid, err := pipeline.NewGrid(from.UTC(), to.UTC(), time.Duration(s.Window))
	if err != nil {
		return nil, err
	}
	version := o.Version
	if version == "" {
		version = DefaultVersion(grid)
	}
	output, key, anon, err := runOutput(ctx, s, o.Output, o.Public)
	if err != nil {
		return nil, err
	}
	return &windowedRun{plan: plan, grid: grid, version: version, output: output, anon: anon, keyEpoch: anonymize.Epoch(key)}, nil
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
	o          Options
	output     string // the output URL
	version    string
	registries map[string]*logtemplates.Registry // template ids to resume (templatestate.go)
	s          *spec.Spec
	plan       *Plan
	log        *slog.Logger
	grid       pipeline.Grid
	anon       *anonymize.Anonymizer
	keyEpoch   string
	staging    string
	problems   *pipeline.Problems
	rows       map[string]int64

	// entities are those seen so far, in windows order (entities.go);
	// members are the range's, memberSet the same as a set, openMembers
	// admits log lines' entities too (no metric source).
	entities    []string
	members     []string
	memberSet   map[string]bool
	openMembers bool
	incidents   []pipeline.Incident
	tickets     []pipeline.Ticket
	// ticketEntities are the entities the tickets name, in ticket order.
	ticketEntities []string
	byEntity       map[string][]pipeline.Incident
	split          *schemas.SplitPolicy // nil without a split policy (split.go)
	labelCfg       label.Config
	seriesID       map[string]int64
	series         []schemas.Series
	phases         map[string]int64
	logStats       map[string]int64
	bytesIn        int64
	unknownEn      map[string]int64
	// names are the published entity names (entities.go);
	// unknownIncidents counts incidents of other entities, per source.
	names            map[string]string
	ids              map[string]string // published source ids (labels.go)
	unknownIncidents map[string]int64
	// queryable is the metric source's storage for rule labelers; report
	// is what merging the labels did (labelreport.go).
	queryable storage.Queryable
	report    *label.Report
	// templates are the mined log templates (templates.go).
	templates *templateSet
	table     *align.WindowTable // the windows row type, fixed after the first day
	clock     *stageClock        // time per stage (stages.go)

	// The checkpoint (checkpoint.go): lines is each log file's last line
	// read; late counts lines too late for their partition; resumed is the
	// checkpoint a resumed export started from (nil: from the first day),
	// resumeAt its day; checkpoint is this export's own, when asked for.
	lines      map[string]int64
	lineKeys   lineKeyCache // carriedLine's key of the current file
	late       *pipeline.Problems
	resumed    *checkpoint
	resumeAt   time.Time
	checkpoint *checkpoint
	// logSources are pass 2's sources, whose marks the checkpoint keeps;
	// rawIncidents each labeler's incidents as returned.
	logSources   []pipeline.LogSource
	logs         *logStream // pass 2's merged lines, read ahead
	rawIncidents map[int][]pipeline.Incident
	// days are the windows days written or carried (the checkpoint's);
	// carried the files a resumed export carries by reference.
	days    map[string]dayCheckpoint
	carried []schemas.File
	// pieceSrc serves the features of a commit of shards (pieces.go),
	// sliceSrc its labelers' range queries (labelslices.go).
	pieceSrc *pieceSource
	sliceSrc *sliceReader
}

// windowTable is the windows row type: the features, then the top
// templates fixed after the first day.
func (e *export) windowTable() *align.WindowTable {
	if e.table == nil {
		features := make([]string, len(e.s.Metrics.Features))
		for i, f := range e.s.Metrics.Features {
			features[i] = f.Name
		}
		e.table = align.NewWindowTableTemplates(features, e.templates.columns)
	}
	return e.table
}

func (e *export) run(ctx context.Context) error {
	s := e.s
	var msrc pipeline.MetricSource
	if mp := e.plan.Metrics; mp != nil {
		var err error
		if msrc, err = mp.Factory.New(ctx, s.Metrics, mp.Config, e.problems); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		defer msrc.Close()
		if lo, ok := msrc.(pipeline.BlocksLeftOut); ok {
			// Data the operator gave that the dataset will not hold.
			counts := lo.LeftOut()
			for _, reason := range slices.Sorted(maps.Keys(counts)) {
				e.log.Warn("metrics: blocks left out", "reason", reason, "blocks", counts[reason])
			}
		}
		if p := e.o.Pieces; p != nil {
			e.pieceSrc = newPieceSource(msrc, p, e.anon, s.Metrics.Features)
			e.sliceSrc = &sliceReader{shards: p.shards, label: s.Entity.Label, dir: p.dir, anon: e.anon}
			msrc = e.pieceSrc
		}
		e.queryable = msrc.Queryable()
	}
	if err := e.readTickets(ctx); err != nil {
		return err
	}
	for _, t := range e.tickets {
		e.ticketEntities = append(e.ticketEntities, t.Entities...)
	}
	// The range's entities: those the metrics know; a spec without a
	// metric source takes them from its tickets and logs (entities.go).
	if msrc != nil {
		members, err := msrc.LabelValues(ctx, e.grid, s.Entity.Label)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		e.setMembers(members, false)
		if len(e.members) == 0 {
			return fmt.Errorf("%w: no metric carries the entity label %q (entity.label) in %s..%s; check the range and the label", ErrEmpty, s.Entity.Label, e.grid.Start.Format(time.RFC3339), e.grid.End.Format(time.RFC3339))
		}
	} else {
		e.setMembers(e.ticketEntities, true)
	}
	if r := e.o.Resume; r != nil {
		cp, err := e.openCheckpoint(r)
		if err != nil {
			return err
		}
		if err := e.restoreChain(cp); err != nil {
			return err
		}
	}
	var sources []pipeline.LogSource
	for _, lp := range e.plan.Logs {
		src, err := lp.Factory.New(lp.Spec.Name, lp.Config, e.problems)
		if err != nil {
			return fmt.Errorf("logs %s: %w", lp.Spec.Name, err)
		}
		e.resumeLogs(src)
		if fs, ok := src.(pipeline.FieldSelector); ok {
			fs.SelectFields(nil) // pass 2 reads no field: pass 1 learned them (templates.go)
		}
		sources = append(sources, src)
	}
	e.logSources = sources
	t0 := time.Now()
	if err := e.label(ctx); err != nil {
		return err
	}
	e.clock.since(stageLabels, t0)
	if err := e.openTemplates(ctx); err != nil {
		return err
	}
	defer e.templates.close()
	logs, err := openLogs(ctx, sources, e.grid, e.clock)
	if err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	defer logs.Close()
	e.logs = logs

	e.phases = map[string]int64{}
	e.logStats = map[string]int64{}
	e.unknownEn = map[string]int64{}
	if cp := e.resumed; cp != nil {
		e.logStats, e.unknownEn = maps.Clone(cp.LogStats), maps.Clone(cp.UnknownEn)
		if e.logStats == nil {
			e.logStats = map[string]int64{}
		}
		if e.unknownEn == nil {
			e.unknownEn = map[string]int64{}
		}
	}
	// Day by day, and each day from its own inputs and the days before it:
	// what is learned (identifiers, entities, templates) carries forward,
	// never back, so a longer range leaves earlier days' files as they were.
	days := e.grid.Days()
	for i, day := range days {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.resumed != nil && day.Start.Before(e.resumeAt) {
			continue // carried from the previous version (carry.go)
		}
		if err := e.exportDay(ctx, msrc, day, i == len(days)-1); err != nil {
			return err
		}
		e.log.Info("day exported", "date", pipeline.Date(day.Start))
	}
	// The chain after the last day, before the range-level tables (which
	// a resumed export writes again) and the drain (whose lines a later
	// range exports).
	var cp *checkpoint
	if e.o.SaveCheckpoint != nil {
		var err error
		if cp, err = e.takeCheckpoint(); err != nil {
			return err
		}
	}
	// Drain what is left after the range, so it is counted.
	for {
		rec, ok := logs.Next(time.Unix(1<<40, 0))
		if !ok {
			break
		}
		if carried, err := e.carriedLine(&rec); err != nil {
			return err
		} else if carried {
			continue
		}
		e.logStats["outside_range"]++
	}
	if err := logs.Err(); err != nil {
		return fmt.Errorf("logs: %w", err)
	}
	if cp != nil {
		e.checkpoint = e.closeCheckpoint(cp) // sealed once the carried days are known (Export)
	}
	if e.resumed == nil && e.rows[schemas.TableMetrics] == 0 && e.logStats["lines"] == 0 && !e.o.AllowEmpty {
		return fmt.Errorf("%w: no metric sample and no log line in %s..%s; check the range and the sources (--allow-empty publishes the empty windows anyway)",
			ErrEmpty, e.grid.Start.Format(time.RFC3339), e.grid.End.Format(time.RFC3339))
	}
	if len(e.entities) == 0 && e.openMembers {
		return fmt.Errorf("%w: no ticket names an entity and no log line has one in %s..%s (fields.entity of the log sources)", ErrEmpty, e.grid.Start.Format(time.RFC3339), e.grid.End.Format(time.RFC3339))
	}
	// Every member gets its published name before the range-level tables
	// and reports name them.
	e.addEntities(e.members)
	defer e.clock.since(stageTables, time.Now())
	if err := e.writeLabelReport(); err != nil { // labelreport.go
		return err
	}
	if err := e.writeTemplates(); err != nil {
		return err
	}
	return e.writeTables()
}

// exportDay exports one day: learn its metric labels, mine its log
// templates (pass 1), fix them, write its logs (pass 2), log counts, its
// features and windows. The features are evaluated on their own goroutine
// from the start of pass 1, which leaves part of a core idle while it
// learns lines in order: they read the metric source and write the frame's
// feature values and the metrics partition, which the log passes never
// touch, so the bytes are those of running them in turn (decision 0050).
// With a metric source the day's entities are those learnDay found (a log
// line adds none), so the frame can be made before pass 1. last prepares
// the gate after the range's last day.
func (e *export) exportDay(ctx context.Context, msrc pipeline.MetricSource, day pipeline.Grid, last bool) (err error) {
	s := e.s
	t0 := time.Now()
	if err := e.learnDay(ctx, msrc, day); err != nil {
		return err
	}
	e.clock.since(stageMetricsLearn, t0)
	if e.openMembers {
		e.addEntities(e.ticketEntities)
	}
	newFrame := func() *align.Frame { return align.NewFrame(day, s.Entity.Label, e.entities, len(s.Metrics.Features)) }
	var frame *align.Frame
	features := func() error { return nil }
	if msrc != nil {
		frame = newFrame()
		// A feature's error stops the log passes, a pass's error the
		// features; the features' error is reported when it came first.
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		features = e.goMetricsDay(ctx, msrc, day, frame, cancel)
		defer func() {
			cancel(err)
			if ferr := features(); ferr != nil && (err == nil || errors.Is(err, context.Canceled)) {
				err = ferr
			}
		}()
	}
	t0 = time.Now()
	if err := e.mineDay(ctx, day); err != nil {
		return err
	}
	e.clock.since(stageLogs1, t0)
	t0 = time.Now()
	e.fixDay()
	e.clock.since(stageTemplatesFix, t0)
	table := e.windowTable()
	if frame == nil {
		frame = newFrame() // without a metric source pass 1 may add entities
	}
	frame.WithTemplates(len(e.templates.columns)) // beside AddFeature: other fields
	if err := e.logsDay(ctx, e.logs, day, frame); err != nil {
		return err
	}
	t0 = time.Now()
	if err := e.writeDayCounts(day); err != nil {
		return err
	}
	e.clock.since(stageLogCounts, t0)
	if err := features(); err != nil { // the windows need them
		return err
	}
	if last {
		// The text is anonymized: the gate's inventory is listed while
		// the last windows are written, and its automaton built after
		// them (used if the range-level tables teach nothing). Not the
		// automaton beside the windows: the two together made the
		// run's peak memory (decision 0049).
		e.anon.PrepareInventory()
	}
	t0 = time.Now()
	if err := e.windowsDay(table, day, frame); err != nil {
		return err
	}
	e.clock.since(stageWindows, t0)
	if last {
		e.anon.PrepareGate()
	}
	return nil
}

// goMetricsDay starts metricsDay on its own goroutine; a failure cancels
// ctx with its error. It returns the function that waits for it, adds its
// rows once and returns its error.
func (e *export) goMetricsDay(ctx context.Context, msrc pipeline.MetricSource, day pipeline.Grid, frame *align.Frame, cancel context.CancelCauseFunc) func() error {
	done := make(chan struct{})
	var n int64
	var err error
	go func() {
		defer close(done)
		t0 := time.Now()
		n, err = e.metricsDay(ctx, msrc, day, frame)
		e.clock.since(stageMetrics, t0)
		if err != nil {
			cancel(err)
		}
	}()
	return sync.OnceValue(func() error {
		<-done
		e.rows[schemas.TableMetrics] += n
		return err
	})
}

// learnDay learns what the day's metrics say before any of the day's text
// is published: the raw values of every label the policy pseudonymizes
// (so the same strings are recognised in logs and tickets), and the
// entities that appear on the day.
func (e *export) learnDay(ctx context.Context, msrc pipeline.MetricSource, day pipeline.Grid) error {
	if msrc == nil {
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(e.s.Anonymize.Labels)) {
		vals, err := msrc.LabelValues(ctx, day, name)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		for _, v := range vals {
			e.anon.LearnLabel(name, v)
		}
	}
	ents, err := msrc.LabelValues(ctx, day, e.s.Entity.Label)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	e.addEntities(ents)
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (e *export) meta(version string) publish.Meta {
	feats := make([]schemas.FeatureInfo, len(e.s.Metrics.Features))
	for i, f := range e.s.Metrics.Features {
		feats[i] = schemas.FeatureInfo{Name: f.Name, Expr: f.Expr, Unit: f.Unit, Help: f.Help}
	}
	return withCitation(publish.Meta{
		Dataset: e.s.Dataset, Version: version, Title: e.s.Title, Description: e.s.Description,
		Licence: e.s.Licence, Citation: e.s.Citation, PublicURL: e.s.PublicURL,
		From: e.grid.Start, To: e.grid.End, Window: e.grid.Step, EntityKind: e.s.Entity.Kind,
		SpecDigest: digest(e.o.SpecBytes), CodeVersion: e.o.CodeVersion,
		KeyEpoch: e.keyEpoch, SchemaVersions: schemas.Versions,
		Features: feats, Labels: e.labelSummary(), BadInput: e.problems.Report(),
		Anonymization: e.anon.Report(), Split: e.split, BaselinesFile: e.s.Baselines,
		Carried: e.carried, CarriedColumns: e.carriedColumns(),
	}, e.s)
}
