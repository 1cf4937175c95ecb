package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/internal/ordered"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// A sharded windowed export (docs/decisions/0041-sharded-windowed-export.md).
// The features' PromQL is the part of a windowed export that grows with
// the series a cloud has, so it is what shards split: a piece is one
// feature over one slice of one day (pipeline.FeatureSliceSteps windows),
// the very range query one process runs; shard i of N evaluates the pieces
// p with p % N == i and stages each, sealed (it holds raw label values),
// under <dataset>/_state/staging/<version>/shard-IIII-of-NNNN/pieces/, then
// its receipt; the rule labelers' range queries are split the same way
// (labelslices.go). ExportCommit (or a night from shards, pipeline/nightly)
// checks every receipt and runs the export with the pieces in place of the
// source's evaluation; everything else (logs, learning, anonymization,
// gate, publish) runs once, so the bytes are one process's.

// PiecesFormat names a windowed shard's receipt format.
const PiecesFormat = "opsdata-windowed-shard/v1"

// piecePurpose separates the pieces' sealing key from other sealed state.
const piecePurpose = "windowed-piece/v1"

// piece is one feature over one slice of one day, over every entity or
// over the entities of one bucket (entityshard.go).
type piece struct {
	feature int           // index in the spec's features
	grid    pipeline.Grid // the slice
	bucket  int           // the entity bucket, -1 for every entity
	shard   int           // the shard that evaluates it
	path    string        // relative to the shard's directory
}

// planPieces lists a range's pieces in a fixed order: days, features in
// spec order, slices. A feature split by entity (byEntity) has a piece per
// bucket, bucket b evaluated by shard b; the other pieces go round-robin.
// Days before from (a resumed export's first day) have none: the export
// carries them.
func planPieces(grid pipeline.Grid, features []spec.Feature, from time.Time, shards int, byEntity []bool) []piece {
	var out []piece
	next := 0 // the round-robin's next shard
	for _, day := range grid.Days() {
		if day.Start.Before(from) {
			continue
		}
		for k := range features {
			for s, g := range day.Slices(pipeline.FeatureSliceSteps) {
				for _, b := range bucketsOf(byEntity[k], shards) {
					p := piece{feature: k, grid: g, bucket: b, shard: b, path: piecePath(day, k, s, b)}
					if b < 0 {
						p.shard = next % shards
						next++
					}
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func piecePath(day pipeline.Grid, feature, slice, bucket int) string {
	if bucket < 0 {
		return fmt.Sprintf("pieces/%s/f%d-s%d.sealed", pipeline.Date(day.Start), feature, slice)
	}
	return fmt.Sprintf("pieces/%s/f%d-s%d-e%d.sealed", pipeline.Date(day.Start), feature, slice, bucket)
}

// bucketsOf lists the entity buckets of a piece or slice: one per shard
// when split by entity, else -1 (every entity).
func bucketsOf(split bool, shards int) []int {
	if !split {
		return []int{-1}
	}
	out := make([]int, shards)
	for b := range out {
		out[b] = b
	}
	return out
}

// splitByEntity says which features a run of shards splits by entity:
// those entityShardable, when there is more than one shard.
func splitByEntity(s *spec.Spec, shards int) []bool {
	out := make([]bool, len(s.Metrics.Features))
	for k, f := range s.Metrics.Features {
		out[k] = shards > 1 && entityShardable(f.Expr, s.Entity.Label)
	}
	return out
}

// pieceData is what a piece holds once unsealed: the slice it answers
// (checked on reading) and the feature's series over it, values as the
// source gave them (NaN where it had none; gob keeps every float's bits).
type pieceData struct {
	Feature string
	Start   int64 // Unix ms of the slice's first window
	Step    int64 // ms
	Len     int
	Series  []pieceSeries
}

type pieceSeries struct {
	Labels []labels.Label
	Values []float64
}

// checkShardable refuses features whose value depends on the query's own
// range (@ start(), @ end()): a piece is a query over its slice alone.
func checkShardable(features []spec.Feature) error {
	for _, f := range features {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(f.Expr)
		if err != nil {
			return fmt.Errorf("feature %s: %w", f.Name, err)
		}
		var ranged bool
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			switch v := n.(type) {
			case *parser.VectorSelector:
				ranged = ranged || v.StartOrEnd != 0
			case *parser.SubqueryExpr:
				ranged = ranged || v.StartOrEnd != 0
			}
			return nil
		})
		if ranged {
			return fmt.Errorf("feature %s uses @ start() or @ end(), whose value depends on the range each query evaluates; export this spec as one process", f.Name)
		}
	}
	return nil
}

// shardBasics is what a windowed shard and its commit share with an
// export: the resolved plan, the range, the version and where it goes.
type shardBasics struct {
	*windowedRun
	resumeAt time.Time // a resumed export's first day (zero: none)
	byEntity []bool    // features split by entity (splitByEntity)
	pieces   []piece
	bkt      objstore.Bucket
	staging  string // the version's staging prefix in bkt
	manifest string // the version's manifest key in bkt
}

func windowedBasics(ctx context.Context, o Options, shard, shards int) (*shardBasics, error) {
	if err := checkShards(shard, shards); err != nil {
		return nil, err
	}
	s := o.Spec
	if len(s.Metrics.Features) == 0 {
		return nil, fmt.Errorf("%s has no metric features, and features are what shards split: export it as one process (without --shard/--shards)", s.Path)
	}
	if err := checkShardable(s.Metrics.Features); err != nil {
		return nil, err
	}
	w, err := resolveWindowed(ctx, o) // runner.go
	if err != nil {
		return nil, err
	}
	bkt, prefix, err := bucket.OpenBucket(ctx, w.output, bucket.WithS3(s.S3))
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", w.output, err)
	}
	var resumeAt time.Time
	if o.Resume != nil {
		resumeAt = o.Resume.At.UTC()
	}
	byEntity := splitByEntity(s, shards)
	return &shardBasics{windowedRun: w, resumeAt: resumeAt, byEntity: byEntity, pieces: planPieces(w.grid, s.Metrics.Features, resumeAt, shards, byEntity), bkt: bkt,
		staging:  StagingPrefix(prefix, s.Dataset, w.version),
		manifest: schemas.Key(prefix, s.Dataset, w.version, schemas.ManifestFile)}, nil
}

// published says whether the version is already out.
func (b *shardBasics) published(ctx context.Context) (bool, error) {
	_, found, err := bucket.GetBytes(ctx, b.bkt, b.manifest)
	if err != nil {
		return false, fmt.Errorf("check whether %s is published: %w", b.version, err)
	}
	return found, nil
}

// receipt is the part of a receipt every shard of the run shares.
func (b *shardBasics) receipt(o Options, i, n int) Receipt {
	rc := Receipt{Format: PiecesFormat, Dataset: o.Spec.Dataset, Version: b.version, SpecDigest: digest(o.SpecBytes),
		KeyEpoch: b.keyEpoch, CodeVersion: o.CodeVersion, From: b.grid.Start, To: b.grid.End,
		Shard: i, Shards: n, Files: []ShardFile{}}
	if !b.resumeAt.IsZero() {
		rc.ResumeAt = &b.resumeAt
	}
	return rc
}

// ShardResult says what a shard did.
type ShardResult struct {
	Dataset, Version, Output string
	AlreadyPublished         bool
	// Pieces is how many feature pieces the shard staged, Series and
	// Points what they hold (series per piece, values that are not NaN);
	// Slices how many slices of the labelers' range queries.
	Pieces, Series, Points, Slices int64
}

// ExportShard runs shard shard of shards of a windowed export: it
// evaluates its pieces, seals and stages them, then writes its receipt.
// Re-running it stages the same pieces again. When the version is already
// published it does nothing.
func ExportShard(ctx context.Context, o Options, shard, shards int) (*ShardResult, error) {
	b, err := windowedBasics(ctx, o, shard, shards)
	if err != nil {
		return nil, err
	}
	defer b.bkt.Close()
	log := runLogger(o.Logger)
	sweepScratch(log, o.TempDir)
	res := &ShardResult{Dataset: o.Spec.Dataset, Version: b.version, Output: b.output}
	if res.AlreadyPublished, err = b.published(ctx); err != nil || res.AlreadyPublished {
		return res, err
	}
	staging, cleanup, err := makeStaging(o.TempDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	mp := b.plan.Metrics
	msrc, err := mp.Factory.New(ctx, o.Spec.Metrics, mp.Config, &pipeline.Problems{})
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer msrc.Close()
	var mine []piece
	for _, p := range b.pieces {
		if p.shard == shard {
			mine = append(mine, p)
		}
	}
	rc := b.receipt(o, shard, shards)
	var part *entityPartition
	if shards > 1 { // features and rule slices split by entity
		// Every shard lists the same entities over the days it evaluates;
		// the commit checks that their partitions agree.
		from := b.grid.Start
		if b.resumeAt.After(from) {
			from = b.resumeAt
		}
		values, err := msrc.LabelValues(ctx, pipeline.Grid{Start: from, End: b.grid.End, Step: b.grid.Step}, o.Spec.Entity.Label)
		if err != nil {
			return nil, fmt.Errorf("shard %d/%d: metrics: %w", shard, shards, err)
		}
		p := newEntityPartition(o.Spec.Entity.Label, values, shards)
		part, rc.Partition = &p, p.digest()
	}
	type staged struct {
		file           ShardFile
		series, points int64
	}
	work := func(ctx context.Context, i int) (staged, error) {
		p := mine[i]
		d, points, err := evalPiece(ctx, msrc, p, o.Spec.Metrics.Features[p.feature], part)
		if err != nil {
			return staged{}, fmt.Errorf("shard %d/%d: metrics: %w", shard, shards, err)
		}
		f, err := writePiece(b.anon, staging, p, d)
		return staged{f, int64(len(d.Series)), points}, err
	}
	err = ordered.Do(ctx, len(mine), ordered.WorkersFor(msrc.Queryable()), work, func(_ int, s staged) error {
		rc.Files = append(rc.Files, s.file)
		res.Series += s.series
		res.Points += s.points
		return nil
	})
	if err != nil {
		return nil, err
	}
	sliceFiles, err := b.labelSlices(ctx, o, msrc, shard, shards, staging, part)
	if err != nil {
		return nil, err
	}
	rc.Files = append(rc.Files, sliceFiles...)
	res.Slices = int64(len(sliceFiles))
	sort.Slice(rc.Files, func(i, j int) bool { return rc.Files[i].Path < rc.Files[j].Path })
	rc.Series, rc.Samples = res.Series, res.Points
	res.Pieces = int64(len(mine))
	if err := stageReceipt(ctx, b.bkt, b.staging, staging, rc); err != nil {
		return nil, err
	}
	log.Info("windowed shard staged", "shard", shard, "shards", shards, "pieces", res.Pieces, "series", res.Series)
	return res, nil
}

// evalPiece evaluates feature over the piece's slice, and over the
// entities of its bucket of part when it has one; points counts the values
// that are not NaN.
func evalPiece(ctx context.Context, msrc pipeline.MetricSource, p piece, f spec.Feature, part *entityPartition) (*pieceData, int64, error) {
	d := &pieceData{Feature: f.Name, Start: p.grid.Start.UnixMilli(), Step: p.grid.Step.Milliseconds(), Len: p.grid.Len()}
	var points int64
	if p.bucket >= 0 {
		expr, none, err := part.narrow(f.Expr, p.bucket)
		if err != nil || none {
			return d, 0, err // none: no entity in the bucket, no series
		}
		f.Expr = expr
	}
	err := msrc.Evaluate(ctx, p.grid, f, func(fs pipeline.FeatureSeries) error {
		ps := pieceSeries{Values: fs.Values}
		fs.Labels.Range(func(l labels.Label) { ps.Labels = append(ps.Labels, l) })
		for _, v := range fs.Values {
			if !math.IsNaN(v) {
				points++
			}
		}
		d.Series = append(d.Series, ps)
		return nil
	})
	return d, points, err
}

// writePiece seals d into its file under dir.
func writePiece(anon *anonymize.Anonymizer, dir string, p piece, d *pieceData) (ShardFile, error) {
	f, err := writeSealed(anon, piecePurpose, dir, p.path, d) // labelslices.go
	f.Rows = int64(len(d.Series))
	return f, err
}

// stageReceipt uploads a shard's files from local, verified, then its
// receipt: a receipt is only ever beside every file it names.
func stageReceipt(ctx context.Context, bkt objstore.Bucket, stagingKey, local string, rc Receipt) error {
	dir := schemas.Key(stagingKey, ShardDir(rc.Shard, rc.Shards))
	for _, f := range rc.Files {
		if err := publish.UploadFileVerified(ctx, bkt, dir+"/"+f.Path, filepath.Join(local, filepath.FromSlash(f.Path)), f.SHA256, f.Bytes); err != nil {
			return fmt.Errorf("shard %d/%d: stage %s (re-run the shard): %w", rc.Shard, rc.Shards, f.Path, err)
		}
	}
	b, err := json.MarshalIndent(rc, "", "  ")
	if err != nil {
		return err
	}
	if err := publish.UploadBytesVerified(ctx, bkt, dir+"/"+ReceiptName, append(b, '\n')); err != nil {
		return fmt.Errorf("shard %d/%d: write the receipt (re-run the shard): %w", rc.Shard, rc.Shards, err)
	}
	return nil
}

// ExportCommit publishes the windowed version the shards staged: every
// receipt must be present and agree with this run (spec digest, key
// epoch, code version, range, shards), every piece of the range must be
// in the receipt of the shard it belongs to and match it. It then runs the
// export with the pieces in place of the features' evaluation and removes
// the staging prefix. An already published version returns
// AlreadyPublished; shards without a receipt return an error wrapping
// ErrShardsIncomplete naming them.
func ExportCommit(ctx context.Context, o Options, shards int) (*Result, error) {
	b, err := windowedBasics(ctx, o, 0, shards)
	if err != nil {
		return nil, err
	}
	defer b.bkt.Close()
	log := runLogger(o.Logger)
	if already, err := b.published(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	} else if already {
		if err := removePrefix(ctx, b.bkt, b.staging); err != nil {
			log.Warn("could not remove the staging prefix of a published version", "prefix", b.staging, "err", err)
		}
		return &Result{Dataset: o.Spec.Dataset, Version: b.version, Output: b.output, AlreadyPublished: true}, nil
	}
	sp, err := b.fetch(ctx, o, shards)
	if err != nil {
		return nil, err
	}
	defer sp.Close()
	o.Pieces, o.resolved = sp, b.windowedRun // resolved once: one output sweep a run
	res, err := Export(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := sp.RemoveStaged(ctx); err != nil {
		log.Warn("published; could not remove the staging prefix (remove it by hand or re-run commit)", "prefix", b.staging, "err", err)
	}
	return res, nil
}

// StagedPieces is what the shards of a windowed export staged, checked
// against their receipts and downloaded: Options.Pieces of the export
// that reads them (ExportCommit, or a nightly run committing its shards).
type StagedPieces struct {
	dir     string
	shards  int
	b       *shardBasics
	cleanup func()
}

// FetchPieces checks and downloads what the shards staged for o (the
// options they ran with: spec, range, version, resume point); shards
// without a receipt give an error wrapping ErrShardsIncomplete. Close it
// after the export.
func FetchPieces(ctx context.Context, o Options, shards int) (*StagedPieces, error) {
	b, err := windowedBasics(ctx, o, 0, shards)
	if err != nil {
		return nil, err
	}
	sp, err := b.fetch(ctx, o, shards)
	if err != nil {
		b.bkt.Close()
		return nil, err
	}
	removeLocal := sp.cleanup
	sp.cleanup = func() { removeLocal(); b.bkt.Close() }
	return sp, nil
}

func (b *shardBasics) fetch(ctx context.Context, o Options, shards int) (*StagedPieces, error) {
	receipts, err := readReceipts(ctx, b.bkt, b.staging, b.receipt(o, 0, shards))
	if err != nil {
		return nil, err
	}
	for _, rc := range receipts[1:] {
		if rc.Partition != receipts[0].Partition {
			return nil, fmt.Errorf("commit: shards %d and %d split the entities differently (the metrics changed between their runs?): re-run every shard", receipts[0].Shard, rc.Shard)
		}
	}
	if err := matchPieces(b.pieces, receipts, shards); err != nil {
		return nil, err
	}
	dir, cleanup, err := makeStaging(o.TempDir)
	if err != nil {
		return nil, err
	}
	// Every file of every receipt: matchPieces found each to be a piece of
	// this range or one of the shard's own slices.
	for _, rc := range receipts {
		for _, f := range rc.Files {
			key := schemas.Key(b.staging, ShardDir(rc.Shard, shards), f.Path)
			if err := bucket.DownloadVerified(ctx, b.bkt, key, filepath.Join(dir, filepath.FromSlash(f.Path)), f.SHA256, f.Bytes); err != nil {
				cleanup()
				return nil, fmt.Errorf("commit: shard %d/%d file %s (re-run that shard): %w", rc.Shard, shards, f.Path, err)
			}
		}
	}
	return &StagedPieces{dir: dir, shards: shards, b: b, cleanup: cleanup}, nil
}

// Close removes the local copy.
func (p *StagedPieces) Close() { p.cleanup() }

// RemoveStaged removes the shards' files from the output, once what they
// served is published.
func (p *StagedPieces) RemoveStaged(ctx context.Context) error {
	return removePrefix(ctx, p.b.bkt, p.b.staging)
}

// matchPieces finds every piece in the receipt of its shard and refuses
// pieces missing or files no piece or slice of this run explains.
func matchPieces(pieces []piece, receipts []Receipt, shards int) error {
	byShard := make([]map[string]ShardFile, shards)
	for _, rc := range receipts {
		byShard[rc.Shard] = map[string]ShardFile{}
		for _, f := range rc.Files {
			byShard[rc.Shard][f.Path] = f
		}
	}
	for _, p := range pieces {
		sh := p.shard
		if _, ok := byShard[sh][p.path]; !ok {
			return fmt.Errorf("commit: shard %d/%d staged no %s, which is its piece of this range: re-run it with the same spec, range and binary", sh, shards, p.path)
		}
		delete(byShard[sh], p.path)
	}
	for sh, left := range byShard {
		for path := range left {
			if owner, ok := sliceOwner(path, shards); ok && owner == sh {
				continue // a labeler's slice (labelSlices)
			}
			return fmt.Errorf("commit: shard %d/%d staged %s, which is no piece of this range: re-run it with the same spec, range and binary", sh, shards, path)
		}
	}
	return nil
}

// pieceSource is the metric source of a commit: features come from the
// pieces the shards staged (dir), everything else from the source itself
// (label values for the anonymizer and entities, storage for rules).
type pieceSource struct {
	pipeline.MetricSource
	dir       string
	anon      *anonymize.Anonymizer
	features  map[string]int // feature name → index in the spec
	shards    int
	byEntity  []bool // features split by entity bucket, one per shard
	read      int    // pieces read
	evaluated int    // slices no shard staged (whole), evaluated here
}

func newPieceSource(src pipeline.MetricSource, sp *StagedPieces, anon *anonymize.Anonymizer, features []spec.Feature) *pieceSource {
	idx := map[string]int{}
	for k, f := range features {
		idx[f.Name] = k
	}
	return &pieceSource{MetricSource: src, dir: sp.dir, anon: anon, features: idx, shards: sp.shards, byEntity: sp.b.byEntity}
}

// slice reads the pieces of feature k over slice s of day: one, or one per
// entity bucket. When one is missing (a nightly run that did not resume
// where its shards expected) it evaluates the slice itself, the query a
// shard runs.
func (p *pieceSource) slice(ctx context.Context, day pipeline.Grid, k, s int, g pipeline.Grid, f spec.Feature) ([]*pieceData, error) {
	var out []*pieceData
	for _, b := range bucketsOf(p.byEntity[k], p.shards) {
		d, err := p.open(piecePath(day, k, s, b), f.Name, g)
		if errors.Is(err, fs.ErrNotExist) {
			p.evaluated++
			d, _, err = evalPiece(ctx, p.MetricSource, piece{feature: k, grid: g, bucket: -1}, f, nil)
			return []*pieceData{d}, err
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	p.read += len(out)
	return out, nil
}

// Evaluate merges the day's pieces of feature the way a source merges its
// slices: a series is every label set any slice returned, NaN where a
// slice did not return it, emitted sorted by labels.
func (p *pieceSource) Evaluate(ctx context.Context, day pipeline.Grid, feature spec.Feature, emit func(pipeline.FeatureSeries) error) error {
	k, ok := p.features[feature.Name]
	if !ok {
		return fmt.Errorf("feature %s is not in the spec the shards ran", feature.Name)
	}
	n := day.Len()
	byKey := map[string]*pipeline.FeatureSeries{}
	for s, g := range day.Slices(pipeline.FeatureSliceSteps) {
		if err := ctx.Err(); err != nil {
			return err
		}
		pieces, err := p.slice(ctx, day, k, s, g, feature)
		if err != nil {
			return err
		}
		lo := s * pipeline.FeatureSliceSteps
		for _, d := range pieces { // entity buckets hold disjoint series
			for _, ps := range d.Series {
				lset := labels.New(ps.Labels...)
				key := string(lset.Bytes(nil))
				fs := byKey[key]
				if fs == nil {
					fs = pipeline.NewFeatureSeries(feature.Name, lset, n)
					byKey[key] = fs
				}
				copy(fs.Values[lo:lo+g.Len()], ps.Values)
			}
		}
	}
	return pipeline.EmitSorted(byKey, emit)
}

// open reads one piece and checks it answers feature over g.
func (p *pieceSource) open(rel, feature string, g pipeline.Grid) (*pieceData, error) {
	var d pieceData
	if err := readSealed(p.anon, piecePurpose, p.dir, rel, &d); err != nil {
		return nil, fmt.Errorf("piece %w", err)
	}
	if d.Feature != feature || d.Start != g.Start.UnixMilli() || d.Step != g.Step.Milliseconds() || d.Len != g.Len() {
		return nil, fmt.Errorf("piece %s answers feature %s at %s over %d windows, not %s at %s over %d: re-run the shards",
			rel, d.Feature, time.UnixMilli(d.Start).UTC().Format(time.RFC3339), d.Len, feature, g.Start.Format(time.RFC3339), g.Len())
	}
	for i, s := range d.Series {
		if len(s.Values) != d.Len {
			return nil, fmt.Errorf("piece %s: series %d has %d values for %d windows: re-run the shards", rel, i, len(s.Values), d.Len)
		}
	}
	return &d, nil
}
