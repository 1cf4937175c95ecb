package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/anonymize"
)

// The labelers that evaluate PromQL over history (rule, alerts_series)
// are the other part of a windowed export that grows with the series. In
// a shard they run over the range with a recorder for their range
// queries' slices (pipeline.SliceEvaluator): a slice whose expression can
// be split by entity is evaluated over the shard's entity bucket, any
// other only by the shard it falls to (sliceOwnerOf); each is staged,
// sealed, as slices/<hash>-<shard>.sealed, and the incidents found are
// dropped. The commit's labelers then get each slice from those files,
// and evaluate a slice no shard staged themselves (counted in
// Result.SlicesEvaluated).

// slicePurpose separates the slices' sealing key from other sealed state.
const slicePurpose = "windowed-slice/v1"

// sliceOwnerOf is the shard that evaluates s. Consecutive slices of one
// expression go to consecutive shards (its slot counts slices from the
// epoch), so an expensive rule is spread over every shard rather than
// landing wherever its slices' hashes fall.
func sliceOwnerOf(s pipeline.RangeSlice, shards int) int {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d", s.Expr, s.Step.Milliseconds()))
	slot := uint64(0)
	if l := (s.End.Sub(s.Start) + s.Step).Milliseconds(); l > 0 && s.Start.UnixMilli() >= 0 {
		slot = uint64(s.Start.UnixMilli() / l)
	}
	return int((binary.BigEndian.Uint64(h[:8]) + slot) % uint64(shards))
}

// slicePath names a slice by a hash of what it evaluates and its shard.
func slicePath(s pipeline.RangeSlice, shards int) string {
	return slicePathOf(s, sliceOwnerOf(s, shards))
}

// slicePathOf names a slice as staged by shard (for a slice split by
// entity, shard is also the bucket).
func slicePathOf(s pipeline.RangeSlice, shard int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d\x00%d", s.Expr, s.Start.UnixMilli(), s.End.UnixMilli(), s.Step.Milliseconds()))
	return fmt.Sprintf("slices/%s-%d.sealed", hex.EncodeToString(h[:16]), shard)
}

// sliceOwner is the shard of shards a slice path names; ok is false when
// path names no slice of shards shards.
func sliceOwner(path string, shards int) (int, bool) {
	name, ok := strings.CutPrefix(path, "slices/")
	if !ok {
		return 0, false
	}
	name, ok = strings.CutSuffix(name, ".sealed")
	hash, owner, cut := strings.Cut(name, "-")
	h, err := hex.DecodeString(hash)
	if !ok || !cut || err != nil || len(h) != 16 {
		return 0, false
	}
	i, err := strconv.Atoi(owner)
	if err != nil || i < 0 || i >= shards || strconv.Itoa(i) != owner {
		return 0, false
	}
	return i, true
}

// sliceData is a slice once unsealed: what it evaluates (checked on
// reading) and the matrix.
type sliceData struct {
	Expr               string
	Start, End, StepMs int64
	Series             []sliceSeries
}

type sliceSeries struct {
	Labels     []labels.Label
	DropName   bool
	Floats     []promql.FPoint
	Histograms []promql.HPoint
}

func (d *sliceData) answers(s pipeline.RangeSlice) bool {
	return d.Expr == s.Expr && d.Start == s.Start.UnixMilli() && d.End == s.End.UnixMilli() && d.StepMs == s.Step.Milliseconds()
}

// labelSlices runs the spec's labelers that query history over the range,
// staging the slices of their range queries that belong to this shard.
func (b *shardBasics) labelSlices(ctx context.Context, o Options, msrc pipeline.MetricSource, shard, shards int, dir string, part *entityPartition) ([]ShardFile, error) {
	rec := &sliceRecorder{shard: shard, shards: shards, part: part, dir: dir, anon: b.anon, files: map[string]ShardFile{}}
	in := pipeline.LabelInput{Grid: b.grid, EntityLabel: o.Spec.Entity.Label, Queryable: msrc.Queryable(), Slices: rec.evaluate}
	for i, lp := range b.plan.Labelers {
		if !lp.Factory.NeedsQueryable {
			continue
		}
		l, err := lp.Factory.New(lp.Config, &pipeline.Problems{})
		if err != nil {
			return nil, fmt.Errorf("labelers[%d] (%s): %w", i, lp.Spec.Kind, err)
		}
		// The incidents of a shard's share of the slices mean nothing; the
		// queries are the export's: a resumed export's resumers evaluate
		// from a warm-up before its first day (which prev does not change).
		if r, ok := l.(pipeline.IncidentResumer); ok && !b.resumeAt.IsZero() {
			_, err = r.ResumeIncidents(ctx, in, b.resumeAt, nil)
		} else {
			_, err = l.Incidents(ctx, in)
		}
		if err != nil {
			return nil, fmt.Errorf("shard %d/%d: labeler %s: %w", shard, shards, l.Name(), err)
		}
	}
	out := make([]ShardFile, 0, len(rec.files))
	for _, f := range rec.files {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// splitSlice says whether the slices of expr are split by entity (the
// recorder and the reader decide alike).
func splitSlice(expr, label string, shards int) bool {
	return shards > 1 && label != "" && entityShardable(expr, label)
}

// sliceRecorder is a shard's pipeline.SliceEvaluator. A slice whose
// expression can be split by entity (entityShardable) is evaluated by every
// shard over its entity bucket of part; any other by its owner alone.
type sliceRecorder struct {
	shard, shards int
	part          *entityPartition // nil: no entity split (one shard)
	dir           string
	anon          *anonymize.Anonymizer
	mu            sync.Mutex
	files         map[string]ShardFile
}

func (r *sliceRecorder) evaluate(ctx context.Context, s pipeline.RangeSlice, eval func(context.Context, string) (promql.Matrix, error)) (promql.Matrix, error) {
	var m promql.Matrix
	var err error
	var path string
	switch {
	case r.part != nil && splitSlice(s.Expr, r.part.label, r.shards):
		path = slicePathOf(s, r.shard)
		expr, none, err := r.part.narrow(s.Expr, r.shard)
		if err != nil {
			return nil, err
		}
		if !none {
			if m, err = eval(ctx, expr); err != nil {
				return nil, err
			}
		}
	case sliceOwnerOf(s, r.shards) != r.shard:
		return nil, nil
	default:
		path = slicePath(s, r.shards)
		if m, err = eval(ctx, s.Expr); err != nil {
			return nil, err
		}
	}
	d := sliceData{Expr: s.Expr, Start: s.Start.UnixMilli(), End: s.End.UnixMilli(), StepMs: s.Step.Milliseconds(), Series: make([]sliceSeries, len(m))}
	for i, ser := range m {
		d.Series[i] = sliceSeries{DropName: ser.DropName, Floats: ser.Floats, Histograms: ser.Histograms}
		ser.Metric.Range(func(l labels.Label) { d.Series[i].Labels = append(d.Series[i].Labels, l) })
	}
	f, err := writeSealed(r.anon, slicePurpose, r.dir, path, &d)
	if err != nil {
		return nil, err
	}
	f.Rows = int64(len(m))
	r.mu.Lock()
	r.files[path] = f
	r.mu.Unlock()
	return m, nil
}

// sliceReader is a commit's pipeline.SliceEvaluator: the slices the shards
// staged under dir, evaluated here when no shard staged one.
type sliceReader struct {
	shards    int
	label     string // the entity label slices are split by (shards > 1)
	dir       string
	anon      *anonymize.Anonymizer
	read      atomic.Int64
	evaluated atomic.Int64
}

func (r *sliceReader) evaluate(ctx context.Context, s pipeline.RangeSlice, eval func(context.Context, string) (promql.Matrix, error)) (promql.Matrix, error) {
	var m promql.Matrix
	for _, b := range bucketsOf(splitSlice(s.Expr, r.label, r.shards), r.shards) {
		var path string
		if b >= 0 {
			path = slicePathOf(s, b)
		} else {
			path = slicePath(s, r.shards)
		}
		var d sliceData
		err := readSealed(r.anon, slicePurpose, r.dir, path, &d)
		if errors.Is(err, fs.ErrNotExist) {
			r.evaluated.Add(1)
			return eval(ctx, s.Expr)
		}
		if err != nil {
			return nil, err
		}
		if !d.answers(s) {
			return nil, fmt.Errorf("slice %s answers %q at %s, not %q at %s: re-run the shards", path, d.Expr,
				time.UnixMilli(d.Start).UTC().Format(time.RFC3339), s.Expr, s.Start.UTC().Format(time.RFC3339))
		}
		for _, ser := range d.Series {
			m = append(m, promql.Series{Metric: labels.New(ser.Labels...), DropName: ser.DropName, Floats: ser.Floats, Histograms: ser.Histograms})
		}
		r.read.Add(1)
	}
	// The buckets hold disjoint series; in label order, as the engine
	// returns a range query's matrix.
	sort.Slice(m, func(i, j int) bool { return labels.Compare(m[i].Metric, m[j].Metric) < 0 })
	return m, nil
}

// writeSealed gob-encodes v, seals it for purpose and writes it at rel
// under dir.
func writeSealed(anon *anonymize.Anonymizer, purpose, dir, rel string, v any) (ShardFile, error) {
	var plain bytes.Buffer
	if err := gob.NewEncoder(&plain).Encode(v); err != nil {
		return ShardFile{}, err
	}
	// Deterministic: a shard killed and run again stages the same bytes.
	sealed, err := anon.SealDeterministic(purpose, plain.Bytes())
	if err != nil {
		return ShardFile{}, err
	}
	local := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return ShardFile{}, err
	}
	if err := os.WriteFile(local, sealed, 0o644); err != nil {
		return ShardFile{}, err
	}
	sum := sha256.Sum256(sealed)
	return ShardFile{Path: rel, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(sealed))}, nil
}

// readSealed reads what writeSealed wrote into v; a missing file's error
// wraps fs.ErrNotExist.
func readSealed(anon *anonymize.Anonymizer, purpose, dir, rel string, v any) error {
	sealed, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	plain, err := anon.Unseal(purpose, sealed)
	if err != nil {
		return fmt.Errorf("%s: %w (staged under another key? re-run the shards)", rel, err)
	}
	if err := gob.NewDecoder(bytes.NewReader(plain)).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	return nil
}
