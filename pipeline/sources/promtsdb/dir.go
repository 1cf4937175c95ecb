package promtsdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/oklog/ulid/v2"
	"github.com/opsdata/opsdata/internal/scratch"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// ErrNoData means a TSDB directory holds neither blocks nor a WAL.
var ErrNoData = errors.New("no TSDB blocks (<ULID>/meta.json) and no WAL (wal/) in the directory")

// Dir is a TSDB directory opened read-only as operators have it: a stopped
// server's data dir or a snapshot (blocks and a WAL), a copy or a Thanos
// download of blocks without wal/, a promtool backfill, blocks that are
// symlinks to directories elsewhere. Prometheus's read-only loader needs a
// wal/ (it would create one) and skips symlinked blocks, so Dir opens the
// blocks itself and uses the loader only for the WAL's head. Of a Thanos
// download it reads the raw blocks only, as the bucket source does
// (Skipped). Nothing in the directory is ever written.
type Dir struct {
	path    string
	blocks  []*tsdb.Block
	db      *tsdb.DBReadOnly // the WAL's head (and the plain blocks) when wal/ has segments
	sandbox string
	// Skipped counts the blocks left out, by reason (SkipDownsampled,
	// SkipDeleted): a Thanos download holds them beside the raw blocks.
	Skipped map[string]int
}

// Reasons a block of a directory is left out (Dir.Skipped).
const (
	// SkipDownsampled: a Thanos block of 5m or 1h resolution, whose
	// aggregate chunks Prometheus cannot decode and whose samples repeat
	// the raw blocks' at a coarser step.
	SkipDownsampled = "downsampled"
	// SkipDeleted: a block with Thanos's deletion-mark.json, kept only
	// until the compactor deletes it (its data is in the block that
	// replaced it, or it was marked to be dropped).
	SkipDeleted = "marked_for_deletion"
	// SkipPartial: a block of a bucket whose meta.json is missing, an
	// upload not finished (Thanos uploads meta.json last).
	SkipPartial = "partial_upload"
)

// DeletionMarkFile is the object Thanos's compactor puts beside a block's
// meta.json to mark it for deletion.
const DeletionMarkFile = "deletion-mark.json"

// ThanosMeta is the section Thanos adds to a block's meta.json: the
// block's external labels, its resolution (0: raw samples) and, since
// Thanos 0.19, its objects with their sizes. Read here for local copies
// of a bucket and by the bucket source (promblocks).
type ThanosMeta struct {
	Labels     map[string]string `json:"labels"`
	Downsample struct {
		Resolution int64 `json:"resolution"`
	} `json:"downsample"`
	Files []struct {
		RelPath   string `json:"rel_path"`
		SizeBytes int64  `json:"size_bytes"`
	} `json:"files"`
}

// thanosSkip says why the block at p is left out ("" if it is read).
func thanosSkip(p string) (string, error) {
	if _, err := os.Stat(filepath.Join(p, DeletionMarkFile)); err == nil {
		return SkipDeleted, nil
	}
	b, err := os.ReadFile(filepath.Join(p, "meta.json"))
	if err != nil {
		return "", err
	}
	var m struct {
		Thanos ThanosMeta `json:"thanos"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return "", nil // opening the block says what is wrong with it
	}
	if m.Thanos.Downsample.Resolution > 0 {
		return SkipDownsampled, nil
	}
	return "", nil
}

// OpenDir opens dir read-only.
func OpenDir(dir string) (*Dir, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("tsdb %s: %w (run `opsdata demo` or point metrics.tsdb.path at a Prometheus data dir or snapshot)", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("tsdb %s: not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tsdb %s: %w", dir, err)
	}
	d := &Dir{path: dir, Skipped: map[string]int{}}
	withWAL := hasSegments(filepath.Join(dir, "wal"))
	seen := map[ulid.ULID]bool{}
	var own []string // blocks Dir opens itself: all, or with a WAL only the symlinked ones
	for _, e := range entries {
		if _, err := ulid.ParseStrict(e.Name()); err != nil {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			continue // a dangling link or a file named like a block
		}
		if _, err := os.Stat(filepath.Join(p, "meta.json")); err != nil {
			continue // an unfinished block (no meta.json yet): Prometheus skips it too
		}
		if withWAL && e.Type()&os.ModeSymlink == 0 {
			continue // the loader reads plain block directories itself
		}
		skip, err := thanosSkip(p)
		if err != nil {
			return nil, fmt.Errorf("tsdb %s: block %s: %w", dir, e.Name(), err)
		}
		if skip != "" {
			d.Skipped[skip]++
			continue
		}
		own = append(own, p)
	}
	sort.Strings(own)
	for _, p := range own {
		b, err := tsdb.OpenBlock(promslog.NewNopLogger(), p, nil, tsdb.DefaultPostingsDecoderFactory)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("tsdb %s: block %s: %w", dir, filepath.Base(p), err)
		}
		if seen[b.Meta().ULID] {
			b.Close() // the same block twice (a link to a block also present)
			continue
		}
		seen[b.Meta().ULID] = true
		d.blocks = append(d.blocks, b)
	}
	if withWAL {
		if d.sandbox, err = scratch.Dir("", "opsdata-tsdb-"); err != nil {
			d.Close()
			return nil, fmt.Errorf("tsdb scratch dir: %w", err)
		}
		if d.db, err = tsdb.OpenDBReadOnly(dir, d.sandbox, promslog.NewNopLogger()); err != nil {
			d.Close()
			return nil, fmt.Errorf("open tsdb %s: %w", dir, err)
		}
	}
	if len(d.blocks) == 0 && d.db == nil {
		if len(d.Skipped) > 0 {
			return nil, fmt.Errorf("tsdb %s: %w: every block was left out (%d downsampled, %d marked for deletion); a Thanos bucket's raw blocks are those of resolution 0", dir, ErrNoData, d.Skipped[SkipDownsampled], d.Skipped[SkipDeleted])
		}
		return nil, fmt.Errorf("tsdb %s: %w; point metrics.tsdb.path at a Prometheus data directory, a snapshot or a directory of blocks", dir, ErrNoData)
	}
	return d, nil
}

// hasSegments reports whether a WAL directory holds any segment.
func hasSegments(wal string) bool {
	entries, err := os.ReadDir(wal)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.IsDir() && e.Name() != "" && e.Name()[0] >= '0' && e.Name()[0] <= '9' {
			return true
		}
		if e.IsDir() && len(e.Name()) > len("checkpoint.") && e.Name()[:len("checkpoint.")] == "checkpoint." {
			return true
		}
	}
	return false
}

// Querier covers [mint, maxt] (milliseconds, inclusive) over every block
// and the WAL. The loader replays the WAL on each call: take one querier
// for a run, not one per query.
func (d *Dir) Querier(mint, maxt int64) (storage.Querier, error) {
	qs := make([]storage.Querier, 0, len(d.blocks)+1)
	closeAll := func() {
		for _, q := range qs {
			q.Close()
		}
	}
	for _, b := range d.blocks {
		if b.MaxTime() < mint || b.MinTime() > maxt {
			continue
		}
		q, err := tsdb.NewBlockQuerier(b, mint, maxt)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("tsdb %s: %w", d.path, err)
		}
		qs = append(qs, q)
	}
	if d.db != nil {
		q, err := d.db.Querier(mint, maxt)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("tsdb %s: %w", d.path, err)
		}
		qs = append(qs, q)
	}
	return storage.NewMergeQuerier(qs, nil, storage.ChainedSeriesMerge), nil
}

// Close releases the blocks, the loader and its scratch directory.
func (d *Dir) Close() error {
	var errs []error
	for _, b := range d.blocks {
		errs = append(errs, b.Close())
	}
	if d.db != nil {
		errs = append(errs, d.db.Close())
	}
	if d.sandbox != "" {
		errs = append(errs, os.RemoveAll(d.sandbox))
	}
	return errors.Join(errs...)
}

// Fingerprint identifies the directory's data without reading it: every
// block's meta.json (its ULID, time range and compaction) and every WAL
// segment's name, size and modification time (pipeline.Fingerprinter).
func (c *Config) Fingerprint(context.Context) (string, error) {
	entries, err := os.ReadDir(c.Path)
	if err != nil {
		return "", fmt.Errorf("tsdb %s: %w", c.Path, err)
	}
	h := sha256.New()
	for _, e := range entries {
		p := filepath.Join(c.Path, e.Name())
		if _, err := ulid.ParseStrict(e.Name()); err == nil {
			meta, err := os.ReadFile(filepath.Join(p, "meta.json"))
			if err != nil {
				continue // an unfinished block, skipped when read too
			}
			fmt.Fprintf(h, "block %s %x\n", e.Name(), sha256.Sum256(meta))
		}
	}
	wal, err := pipeline.FingerprintFiles(filepath.Join(c.Path, "wal", "*"), filepath.Join(c.Path, "wal", "*", "*"))
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "wal %s\n", wal)
	return hex.EncodeToString(h.Sum(nil)), nil
}
