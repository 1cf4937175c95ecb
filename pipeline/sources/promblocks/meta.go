package promblocks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/thanos-io/objstore"
)

// The objects of a block in the Thanos layout.
const (
	metaFile         = "meta.json"
	deletionMarkFile = promtsdb.DeletionMarkFile
	indexFile        = "index"
	chunksDir        = "chunks"
)

// ErrCorruptBlock means a block in the bucket cannot be read as written
// (meta.json does not parse, an object is missing or has the wrong size).
var ErrCorruptBlock = errors.New("corrupt block")

// blockMeta is a block's meta.json: Prometheus' own BlockMeta plus the
// section Thanos adds (its external labels, downsampling, file sizes).
type blockMeta struct {
	tsdb.BlockMeta
	Thanos promtsdb.ThanosMeta `json:"thanos"`
}

// block is a block selected from the bucket.
type block struct {
	meta blockMeta
	// dir is the block's key prefix in the bucket (prefix/ULID).
	dir string
	// ext is the block's external labels; group is ext without the replica
	// labels (the series set the block belongs to) and replica is ext
	// itself (which copy of that set).
	ext, group labels.Labels
}

func (b *block) id() string { return b.meta.ULID.String() }

// overlaps reports whether the block holds samples in [mint, maxt]
// (milliseconds, inclusive; a block's MaxTime is exclusive).
func (b *block) overlaps(mint, maxt int64) bool {
	return b.meta.MinTime <= maxt && b.meta.MaxTime > mint
}

// listing is what listBlocks found: the usable blocks and what it skipped.
type listing struct {
	blocks []*block
	// Skipped counts blocks left out, by reason, for the caller's log.
	partial, deleted, downsampled, unmatched, superseded int
}

// listBlocks reads every <ULID>/meta.json under prefix and keeps the raw
// (resolution 0) blocks whose external labels match sel, that are neither
// marked for deletion nor partial uploads, and that no other block's
// compaction already contains. A meta.json that does not parse is an
// error naming the block: silently leaving data out of a dataset is worse
// than stopping.
func listBlocks(ctx context.Context, bkt objstore.BucketReader, prefix string, sel []*labels.Matcher, replicaLabels []string) (*listing, error) {
	var ids []string
	err := bkt.Iter(ctx, dirKey(prefix), func(name string) error {
		base := strings.TrimSuffix(strings.TrimPrefix(name, dirKey(prefix)), "/")
		if _, err := ulid.ParseStrict(base); err == nil && strings.HasSuffix(name, "/") {
			ids = append(ids, base)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list blocks under %q: %w", dirKey(prefix), err)
	}
	sort.Strings(ids)

	// Two small reads per block; a bucket holds thousands, so in parallel.
	type result struct {
		b                *block
		partial, deleted bool
		err              error
	}
	results := make([]result, len(ids))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(8, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := &results[i]
				r.b, r.partial, r.deleted, r.err = readBlockMeta(ctx, bkt, path.Join(prefix, ids[i]), ids[i])
			}
		}()
	}
	for i := range ids {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	l := &listing{}
	var errs []error
	for _, r := range results {
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case r.partial:
			l.partial++
		case r.deleted:
			l.deleted++
		case r.b.meta.Thanos.Downsample.Resolution != 0:
			l.downsampled++
		case !matchAll(sel, r.b.ext):
			l.unmatched++
		default:
			r.b.group = dropNames(r.b.ext, replicaLabels)
			l.blocks = append(l.blocks, r.b)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	l.blocks, l.superseded = dropSuperseded(l.blocks)
	return l, nil
}

// readBlockMeta reads one block's meta.json and deletion mark.
func readBlockMeta(ctx context.Context, bkt objstore.BucketReader, dir, id string) (b *block, partial, deleted bool, err error) {
	key := path.Join(dir, metaFile)
	rc, err := bkt.Get(ctx, key)
	if err != nil {
		if bkt.IsObjNotFoundErr(err) {
			return nil, true, false, nil // a partial upload: Thanos uploads meta.json last
		}
		return nil, false, false, fmt.Errorf("block %s: read %s: %w", id, key, err)
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	rc.Close()
	if err != nil {
		return nil, false, false, fmt.Errorf("block %s: read %s: %w", id, key, err)
	}
	var m blockMeta
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		return nil, false, false, fmt.Errorf("block %s: %s: %w: not valid meta.json (%s); delete the block or mark it for deletion", id, key, ErrCorruptBlock, describeJSONError(err))
	}
	switch {
	case m.Version != 1:
		return nil, false, false, fmt.Errorf("block %s: %s: %w: meta.json version %d, want 1", id, key, ErrCorruptBlock, m.Version)
	case m.ULID.String() != id:
		return nil, false, false, fmt.Errorf("block %s: %s: %w: meta.json names another block id; the block was copied under the wrong name", id, key, ErrCorruptBlock)
	case m.MinTime >= m.MaxTime:
		return nil, false, false, fmt.Errorf("block %s: %s: %w: empty time range (minTime %d ≥ maxTime %d)", id, key, ErrCorruptBlock, m.MinTime, m.MaxTime)
	}
	marked, err := bkt.Exists(ctx, path.Join(dir, deletionMarkFile))
	if err != nil {
		return nil, false, false, fmt.Errorf("block %s: check %s: %w", id, path.Join(dir, deletionMarkFile), err)
	}
	if marked {
		return nil, false, true, nil // the compactor replaced it; its data is in another block
	}
	return &block{meta: m, dir: dir, ext: labels.FromMap(m.Thanos.Labels)}, false, false, nil
}

// describeJSONError says where a JSON document is broken without quoting
// it (the document is input, and input never goes into messages).
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s has the wrong type at byte %d", typ.Field, typ.Offset)
	default:
		return "cannot decode"
	}
}

// dropSuperseded removes blocks whose compaction sources another block of
// the same external labels already covers: the compactor uploads the new
// block before it marks the old ones for deletion, and reading both would
// only cost a download (their samples are the same).
func dropSuperseded(blocks []*block) ([]*block, int) {
	var kept []*block
	dropped := 0
	for _, b := range blocks {
		superseded := false
		for _, o := range blocks {
			if o == b || !labels.Equal(o.ext, b.ext) || len(o.meta.Compaction.Sources) <= len(b.meta.Compaction.Sources) {
				continue
			}
			if containsAll(o.meta.Compaction.Sources, b.meta.Compaction.Sources) {
				superseded = true
				break
			}
		}
		if superseded {
			dropped++
		} else {
			kept = append(kept, b)
		}
	}
	return kept, dropped
}

func containsAll(set, sub []ulid.ULID) bool {
	for _, id := range sub {
		if !slices.Contains(set, id) {
			return false
		}
	}
	return len(sub) > 0
}

// matchAll applies matchers to a block's external labels (an absent label
// is the empty value, as in PromQL).
func matchAll(ms []*labels.Matcher, ext labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(ext.Get(m.Name)) {
			return false
		}
	}
	return true
}

// dropNames returns ls without the named labels.
func dropNames(ls labels.Labels, names []string) labels.Labels {
	if len(names) == 0 {
		return ls
	}
	return labels.NewBuilder(ls).Del(names...).Labels()
}

// dirKey is prefix as an objstore directory ("" or "p/").
func dirKey(prefix string) string {
	if prefix == "" {
		return ""
	}
	return strings.TrimSuffix(prefix, "/") + "/"
}
