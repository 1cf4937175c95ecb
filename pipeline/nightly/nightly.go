// Package nightly grows one dataset night by night (`opsdata nightly`):
// all state in the bucket, a watermark, catch-up of missed days, labels of
// past days republished when late tickets arrive, one writer at a time
// through a lease, and a no-op in seconds when nothing changed.
//
//	<prefix>/<dataset>/
//	  parts/<table>/[date=YYYY-MM-DD/]<sha256>.parquet   content-addressed, shared by snapshots
//	  <snapshot>/manifest.json SHA256SUMS README.md ...  a snapshot: metadata only, files name parts
//	  current/<table>/[date=.../]part-00000.parquet       the newest snapshot as plain files
//	  _state/nightly/<snapshot>.json, lease.json          watermark, fingerprints; the lease
//	  _state/runs/<stamp>-<outcome>.json                  one JSON report per run
//	  catalog.json latest latest.json index.html          as for one-off exports
//
// Every night with something new runs the ordinary export (pipeline/runner)
// over [start, watermark): the snapshot is a one-shot export of the same
// range by construction, and a day whose bytes did not change keeps its
// part. See docs/decisions/0027-nightly-snapshots.md.
package nightly

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// Outcome is how a run ended; each has its own exit code (cmd/opsdata).
type Outcome string

// Outcomes.
const (
	Published   Outcome = "published"
	NothingToDo Outcome = "nothing_to_do"
	LeaseHeld   Outcome = "lease_held"
	Failed      Outcome = "failed"
	// ShardsIncomplete: a run from shards (Options.FromShards) found some
	// without a receipt; nothing was read or written.
	ShardsIncomplete Outcome = "shards_incomplete"
)

// Options configure one nightly run.
type Options struct {
	Spec       *spec.Spec
	SpecBytes  []byte
	Components pipeline.Components
	// Now decides which days are complete (default: Clock).
	Now         time.Time
	Output      string // overrides the spec's output
	CodeVersion string
	Logger      *slog.Logger
	TempDir     string
	// Owner names this run in the lease (default host:pid).
	Owner string
	// Clock is the wall clock for the lease, durations and the metrics
	// (default time.Now).
	Clock func() time.Time

	// hook, in tests, is called at named points of a run ("parts",
	// "commit"); an error aborts the run there.
	hook func(ctx context.Context, stage string) error
	// Full exports every day from its inputs even when the previous
	// snapshot left a checkpoint (a backfill into published days).
	Full bool
	// FromShards, when set, runs the night with the PromQL that this many
	// shards (Shard) staged (shards.go).
	FromShards int
}

// Report is the run's JSON report, _state/runs/<stamp>-<outcome>.json in the dataset.
type Report struct {
	FormatVersion int       `json:"format_version"`
	Dataset       string    `json:"dataset"`
	Outcome       Outcome   `json:"outcome"`
	Message       string    `json:"message"`
	Now           time.Time `json:"now"`
	Started       time.Time `json:"started"`
	// DurationSeconds is wall time of the whole run.
	DurationSeconds   float64   `json:"duration_seconds"`
	Snapshot          string    `json:"snapshot,omitempty"`
	Previous          string    `json:"previous,omitempty"`
	PreviousWatermark time.Time `json:"previous_watermark"`
	Watermark         time.Time `json:"watermark"`
	// Triggers say why the run exported (new days, changed inputs, tickets).
	Triggers    []string            `json:"triggers"`
	DaysAdded   []string            `json:"days_added"`
	DaysChanged []schemas.DayChange `json:"days_changed"`
	Rows        map[string]int64    `json:"rows"`
	// BadInput is the malformed input of the export; BadInputRecords its total.
	BadInput        map[string]schemas.InputProblems `json:"bad_input"`
	BadInputRecords int64                            `json:"bad_input_records"`
	PartsUploaded   int                              `json:"parts_uploaded"`
	PartsReused     int                              `json:"parts_reused"`
	BytesUploaded   int64                            `json:"bytes_uploaded"`
	// DaysPublished is the dataset's running total of day partitions written.
	DaysPublished int64 `json:"days_published"`
	// Mode is how the export ran: resumed (only the new days read, the
	// earlier ones carried) or full (every day from its inputs), and why.
	Mode       string `json:"mode,omitempty"`
	ModeReason string `json:"mode_reason,omitempty"`
	// StageSeconds is where the export's time went (runner stages).
	StageSeconds map[string]float64 `json:"stage_seconds,omitempty"`
	// Shards is what a run from shards read from them.
	Shards *ShardsReport `json:"shards,omitempty"`
	Error  string        `json:"error,omitempty"`
	// MetricsError is set when the metrics could not be pushed or written
	// (it is not in the stored report, which is written before).
	MetricsError string `json:"metrics_error,omitempty"`
}

// Run runs one night. The report is returned for every outcome; err is
// set for LeaseHeld (wrapping ErrLeaseHeld) and Failed.
func Run(ctx context.Context, o Options) (*Report, error) {
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	o.Clock = clock
	if o.Now.IsZero() {
		o.Now = clock()
	}
	o.Now = o.Now.UTC()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	started := clock().UTC()
	rep := &Report{FormatVersion: 1, Dataset: o.Spec.Dataset, Now: o.Now, Started: started,
		Triggers: []string{}, DaysAdded: []string{}, DaysChanged: []schemas.DayChange{}, Rows: map[string]int64{}, BadInput: map[string]schemas.InputProblems{}}
	r := &run{o: o, rep: rep}
	if o.FromShards > 0 {
		// Before the lease and the report: a night's shards each try to
		// commit, and all but the last find the others missing.
		sp, err := fetchShards(ctx, o) // shards.go
		if errors.Is(err, runner.ErrShardsIncomplete) {
			rep.Outcome, rep.Message = ShardsIncomplete, err.Error()
			return rep, err
		}
		switch {
		case err != nil:
			// The shards save time, never decide a value: a night whose
			// shards' results cannot be read (damaged, or removed by a
			// night from the same shards that just published) evaluates
			// everything itself, and says so.
			o.Logger.Warn("the shards' results are not used", "err", err)
			rep.Shards = &ShardsReport{Shards: o.FromShards, Unused: err.Error()}
		case sp != nil:
			defer sp.Close()
			r.pieces = sp
		}
	}
	err := r.run(ctx)
	rep.DurationSeconds = clock().Sub(started).Seconds()
	switch {
	case errors.Is(err, ErrLeaseHeld) && r.lease == nil:
		rep.Outcome, rep.Message, rep.Error = LeaseHeld, "another run holds the lease: nothing written", err.Error()
	case err != nil:
		rep.Outcome, rep.Error = Failed, err.Error()
		if rep.Message == "" {
			rep.Message = "run failed: nothing new is visible (re-run to retry)"
		}
	}
	if r.bkt != nil {
		defer r.bkt.Close()
		if rep.Outcome != LeaseHeld {
			if werr := r.writeReport(ctx); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if r.lease != nil {
		r.stopKeep()
		if rerr := r.lease.Release(ctx); rerr != nil {
			// The lease expires on its own; the outcome stands.
			o.Logger.Warn("lease not released; it expires at its TTL", "err", rerr)
		}
	}
	// Metrics are the outcome's echo, not part of it: a failed push is a
	// warning (the run report in the bucket is written already).
	if merr := exportMetrics(ctx, o.Spec, rep, clock()); merr != nil { // metrics.go
		o.Logger.Warn("metrics not exported", "err", merr)
		rep.MetricsError = merr.Error()
	}
	if err != nil && rep.Outcome == Published {
		rep.Outcome, rep.Error = Failed, err.Error()
	}
	return rep, err
}

type run struct {
	o      Options
	rep    *Report
	bkt    objstore.Bucket
	prefix string
	lease  *Lease
	// stopKeep stops the lease's renewal.
	stopKeep func()
	prev     *State
	prevM    *schemas.Manifest
	next     *State
	start    time.Time
	// changed inputs and ticket changes, for the changelog's reasons.
	changedInputs []string
	tickets       []ticketChange
	// checkpoint is the export's sealed checkpoint, kept with the snapshot.
	checkpoint []byte
	// pieces are the shards' results (Options.FromShards).
	pieces *runner.StagedPieces
}

// Export modes (Report.Mode).
const (
	ModeResumed = "resumed"
	ModeFull    = "full"
)

// resumePoint is where this night's export may resume: the previous
// snapshot's checkpoint at its watermark. Without one it says why.
func (r *run) resumePoint(ctx context.Context, wm time.Time) (*runner.Resume, string, error) {
	if why := resumeBlocker(r.prev, r.o.Full, r.next.Inputs["spec"], r.next.Inputs["key"]); why != "" {
		return nil, why, nil
	}
	sealed, found, err := bucket.GetBytes(ctx, r.bkt, checkpointKey(r.prefix, r.o.Spec.Dataset, r.prev.Snapshot))
	if err != nil {
		return nil, "", fmt.Errorf("read checkpoint: %w", err)
	}
	if !found {
		return nil, "the previous snapshot's checkpoint is gone", nil
	}
	return &runner.Resume{At: wm, State: sealed, Previous: r.prevM}, "", nil
}

func (r *run) run(ctx context.Context) error {
	o, s := r.o, r.o.Spec
	plan, err := runner.Resolve(s, o.Components)
	if err != nil {
		return err
	}
	output := outputOf(o)
	if r.bkt, r.prefix, err = bucket.OpenBucket(ctx, output, bucket.WithS3(s.S3)); err != nil {
		return fmt.Errorf("output %s: %w", output, err)
	}
	lk := &Locker{Bkt: r.bkt, Key: LeaseKey(r.prefix, s.Dataset), Owner: o.Owner,
		TTL: time.Duration(s.Nightly.LeaseTTL), Wait: time.Duration(s.Nightly.LeaseWait), Clock: o.Clock}
	if r.lease, err = lk.Acquire(ctx); err != nil {
		return err
	}
	r.stopKeep = r.lease.KeepAlive(ctx)
	if r.prev, r.prevM, err = loadState(ctx, r.bkt, r.prefix, s.Dataset); err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	var prevWM time.Time
	if r.start, prevWM, err = watermarkOf(s, r.prev); err != nil {
		return err
	}
	if r.prev != nil {
		r.rep.Previous = r.prev.Snapshot
		r.rep.DaysPublished = r.prev.DaysPublished
	}
	r.rep.PreviousWatermark, r.rep.Watermark = prevWM, prevWM
	wm := nextWatermark(prevWM, o.Now, time.Duration(s.Nightly.Settle), s.Nightly.MaxDays)

	// What changed, from fingerprints and tickets only: no metrics or logs read.
	key, err := anonymize.LoadKey(s.Anonymize.Key)
	if err != nil {
		return fmt.Errorf("anonymization key: %w", err)
	}
	inputs, err := fingerprints(s, o.SpecBytes, anonymize.Epoch(key))
	if err != nil {
		return err
	}
	var all []pipeline.Ticket
	for _, tp := range plan.Tickets {
		src, err := tp.Factory.New(tp.Spec.Name, tp.Config, &pipeline.Problems{})
		if err != nil {
			return fmt.Errorf("tickets %s: %w", tp.Spec.Name, err)
		}
		ts, err := src.Tickets(ctx)
		if err != nil {
			return fmt.Errorf("tickets %s: %w", tp.Spec.Name, err)
		}
		all = append(all, ts...)
	}
	tickets := ticketStates(all)

	for d := prevWM; d.Before(wm); d = d.Add(day) {
		r.rep.Triggers = append(r.rep.Triggers, "new day "+d.Format(time.DateOnly))
	}
	if r.prev != nil && prevWM.After(r.start) {
		for _, k := range slices.Sorted(maps.Keys(inputs)) {
			if r.prev.Inputs[k] != inputs[k] {
				r.changedInputs = append(r.changedInputs, k)
				r.rep.Triggers = append(r.rep.Triggers, "input "+k+" changed")
			}
		}
		oldest := prevWM.Add(-time.Duration(s.Nightly.RelabelDays) * day)
		var prevTickets map[string]TicketState
		prevTickets = r.prev.Tickets
		for _, tc := range ticketChanges(prevTickets, tickets, s.Horizon(), recovery(s), o.Now) {
			r.tickets = append(r.tickets, tc)
			for _, d := range tc.days {
				t, _ := time.Parse(time.DateOnly, d)
				if !t.Before(oldest) && !t.Before(r.start) && t.Before(prevWM) {
					r.rep.Triggers = append(r.rep.Triggers, tc.reason+" (touches "+d+")")
					break
				}
			}
		}
	}
	if len(r.rep.Triggers) == 0 || !wm.After(r.start) {
		r.rep.Outcome = NothingToDo
		if r.prevM != nil {
			// A run that died after its commit left the current view or the
			// pointers behind: repair them (two small reads when all is well).
			if err := repair(ctx, r.bkt, r.prefix, r.prevM); err != nil {
				return err
			}
		}
		switch {
		case !wm.After(r.start):
			r.rep.Message = fmt.Sprintf("nothing to do: no complete day yet (the first day, %s, is ready %s after it ends)", r.start.Format(time.DateOnly), time.Duration(s.Nightly.Settle))
		default:
			r.rep.Message = fmt.Sprintf("nothing to do: no new day and no input changed since snapshot %s (watermark %s)", r.prev.Snapshot, prevWM.Format(time.DateOnly))
		}
		r.rep.Triggers = []string{}
		return nil
	}

	name := o.Now.Format("2006-01-02T150405Z")
	if r.prev != nil && !publish.VersionLess(r.prev.Snapshot, name) {
		return fmt.Errorf("nightly: snapshot %s would not be newer than %s (did --now go backwards?)", name, r.prev.Snapshot)
	}
	r.rep.Snapshot = name
	r.next = &State{FormatVersion: 1, Snapshot: name, Start: r.start, Watermark: wm, Inputs: inputs, Tickets: tickets}
	if r.prev != nil {
		r.next.DaysPublished = r.prev.DaysPublished
	}
	eo := runner.Options{
		Spec: s, SpecBytes: o.SpecBytes, From: r.start, To: wm, Version: name, CodeVersion: o.CodeVersion,
		Components: o.Components, Logger: o.Logger, TempDir: o.TempDir, Output: output,
		Publish:        r.publishSnapshot, // snapshot.go
		SaveCheckpoint: func(_ context.Context, sealed []byte) error { r.checkpoint = sealed; return nil },
		Pieces:         r.pieces,
	}
	// Resume at the watermark from the previous export's checkpoint: only
	// the new days are read; the earlier days are carried, their windows
	// relabelled (decision 0038). Anything that prevents it exports every
	// day from its inputs, which gives the same bytes.
	r.rep.Mode = ModeFull
	if eo.Resume, r.rep.ModeReason, err = r.resumePoint(ctx, prevWM); err != nil {
		return err
	}
	if eo.Resume != nil {
		r.rep.Mode = ModeResumed
	}
	res, err := runner.Export(ctx, eo)
	if errors.Is(err, runner.ErrResume) {
		o.Logger.Info("exporting every day from its inputs", "reason", err)
		r.rep.Mode, r.rep.ModeReason = ModeFull, err.Error()
		r.checkpoint, eo.Resume = nil, nil
		res, err = runner.Export(ctx, eo)
	}
	if err != nil {
		return err
	}
	if r.pieces != nil {
		r.rep.Shards = &ShardsReport{Shards: o.FromShards, Pieces: res.Pieces, PiecesEvaluated: res.PiecesEvaluated, Slices: res.Slices, SlicesEvaluated: res.SlicesEvaluated}
		if err := r.pieces.RemoveStaged(ctx); err != nil {
			o.Logger.Warn("could not remove the shards' staging prefix (gc removes it after --grace)", "err", err)
		}
	}
	r.rep.Outcome = Published
	r.rep.Watermark = wm
	r.rep.StageSeconds = map[string]float64{}
	for _, st := range res.Stages {
		r.rep.StageSeconds[st.Name] = st.Wall.Seconds()
	}
	r.rep.Rows = res.Rows
	r.rep.BadInput = res.Problems
	for _, p := range res.Problems {
		r.rep.BadInputRecords += p.Count
	}
	r.rep.DaysPublished = r.next.DaysPublished
	r.rep.Message = fmt.Sprintf("published snapshot %s: %d day(s) added, %d republished, watermark %s",
		name, len(r.rep.DaysAdded), len(r.rep.DaysChanged), wm.Format(time.DateOnly))
	return nil
}

// recovery is the first labeler's recovery tail (the label stage uses it).
func recovery(s *spec.Spec) time.Duration {
	for _, l := range s.Labelers {
		return time.Duration(l.Recovery)
	}
	return 0
}

func (r *run) writeReport(ctx context.Context) error {
	stamp := r.o.Now.Format("2006-01-02T150405Z")
	b, err := schemas.EncodeJSON(r.rep)
	if err != nil {
		return err
	}
	k := schemas.Key(r.prefix, r.o.Spec.Dataset, schemas.StateDir, "runs", stamp+"-"+string(r.rep.Outcome)+".json")
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.bkt.Upload(ctx, k, strings.NewReader(string(b))); err != nil {
		return fmt.Errorf("write run report %s: %w", k, err)
	}
	return nil
}

// resumeBlocker says why a night cannot resume from prev's checkpoint, as
// far as the state tells ("": it can): the night and its shards
// (shards.go) decide alike. specFP and keyEpoch are this run's.
func resumeBlocker(prev *State, full bool, specFP, keyEpoch string) string {
	switch {
	case prev == nil:
		return "first snapshot"
	case full:
		return "--full"
	case !prev.Checkpoint:
		return "the previous snapshot has no checkpoint"
	case prev.Inputs["spec"] != specFP || prev.Inputs["key"] != keyEpoch:
		return "the spec or the key changed"
	}
	return ""
}

// outputOf is the run's output URL: the spec's unless overridden.
func outputOf(o Options) string {
	if o.Output != "" {
		return o.Output
	}
	return o.Spec.Output
}

// watermarkOf is the dataset's first day and the watermark the previous
// snapshot (nil: none) left.
func watermarkOf(s *spec.Spec, prev *State) (start, wm time.Time, err error) {
	start = s.Nightly.Start
	if start.IsZero() {
		start = s.Range.From
	}
	start = start.UTC()
	if start.IsZero() || !start.Equal(start.Truncate(day)) {
		return start, wm, fmt.Errorf("nightly: the dataset's first day is unset or not a UTC midnight: set nightly.start (or range.from) in %s", s.Path)
	}
	if prev == nil {
		return start, start, nil
	}
	if !prev.Start.Equal(start) {
		return start, wm, fmt.Errorf("nightly: the dataset starts %s but the spec says %s; a different start is a different dataset", prev.Start.Format(time.DateOnly), start.Format(time.DateOnly))
	}
	return start, prev.Watermark, nil
}

// nextWatermark is where this run may move the watermark: to the last UTC
// midnight at least settle before now, at most maxDays past prev, never back.
func nextWatermark(prev, now time.Time, settle time.Duration, maxDays int) time.Time {
	wm := prev.Add(time.Duration(maxDays) * day)
	if ready := now.Add(-settle).UTC().Truncate(day); ready.Before(wm) {
		wm = ready
	}
	if wm.Before(prev) {
		wm = prev
	}
	return wm
}
