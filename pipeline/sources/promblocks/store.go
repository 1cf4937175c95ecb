package promblocks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/internal/scratch"
)

// Store is the blocks of a bucket that the config selects, read through a
// bounded local cache. It is a storage.Queryable: a querier downloads (or
// finds in the cache) the blocks its selects need, when they need them,
// and holds them until it is closed.
type Store struct {
	bkt     objstore.Bucket
	cfg     *Config
	list    *listing
	cache   *cache
	scratch string // the cache when cache_dir is empty, removed at Close

	closeOnce sync.Once
	closeErr  error
}

// OpenStore lists the bucket's blocks (meta.json only; nothing is
// downloaded until a query needs it).
func OpenStore(ctx context.Context, cfg *Config) (*Store, error) {
	bkt, urlPrefix, err := bucket.OpenBucket(ctx, cfg.Bucket, bucket.ForReading(), bucket.WithS3(cfg.S3))
	if err != nil {
		return nil, fmt.Errorf("metrics.blocks.bucket: %w", err)
	}
	s := &Store{bkt: bkt, cfg: cfg}
	prefix := cfg.blocksPrefix(urlPrefix)
	sel, err := cfg.selector()
	if err != nil {
		bkt.Close()
		return nil, err
	}
	if s.list, err = listBlocks(ctx, bkt, prefix, sel, cfg.ReplicaLabels); err != nil {
		bkt.Close()
		return nil, fmt.Errorf("metrics.blocks: %w", err)
	}
	dir := cfg.CacheDir
	if dir == "" {
		if s.scratch, err = scratch.Dir("", "opsdata-tsdb-"); err != nil {
			bkt.Close()
			return nil, fmt.Errorf("metrics.blocks: cache scratch dir: %w", err)
		}
		dir = s.scratch
	}
	if s.cache, err = openCache(dir, int64(cfg.CacheMaxBytes), bkt); err != nil {
		s.Close()
		return nil, fmt.Errorf("metrics.blocks.%w", err)
	}
	return s, nil
}

// Blocks lists the ULIDs of the selected blocks, sorted.
func (s *Store) Blocks() []string {
	out := make([]string, len(s.list.blocks))
	for i, b := range s.list.blocks {
		out[i] = b.id()
	}
	sort.Strings(out)
	return out
}

// CacheStats reports the blocks downloaded and evicted so far and the
// cache's bytes in use.
func (s *Store) CacheStats() (downloads, evictions int, used int64) {
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	return s.cache.downloads, s.cache.evictions, s.cache.used
}

// Querier covers [mint, maxt] (milliseconds, inclusive).
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{s: s, mint: mint, maxt: maxt}, nil
}

// Close closes the blocks and the bucket; a scratch cache is removed.
// Closing twice does nothing more.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.cache != nil {
			errs = append(errs, s.cache.close())
		}
		errs = append(errs, s.bkt.Close())
		if s.scratch != "" {
			errs = append(errs, os.RemoveAll(s.scratch))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// querier selects over the blocks overlapping each select's range.
type querier struct {
	s          *Store
	mint, maxt int64

	mu     sync.Mutex
	pinned map[*block]*tsdb.Block
	qs     []storage.Querier
	closed bool
}

// group is the blocks of one series set: the same external labels once
// the replica labels are dropped.
type group struct {
	labels   labels.Labels
	replicas [][]*block // by replica, in order of their external labels
}

// groups sorts the blocks overlapping [mint, maxt] into groups, in a
// deterministic order.
func (q *querier) groups(mint, maxt int64) []group {
	byGroup := map[string]map[string][]*block{}
	groupLabels := map[string]labels.Labels{}
	for _, b := range q.s.list.blocks {
		if !b.overlaps(mint, maxt) {
			continue
		}
		gk, rk := b.group.String(), b.ext.String()
		if byGroup[gk] == nil {
			byGroup[gk] = map[string][]*block{}
			groupLabels[gk] = b.group
		}
		byGroup[gk][rk] = append(byGroup[gk][rk], b)
	}
	var out []group
	for _, gk := range slices.Sorted(maps.Keys(byGroup)) {
		g := group{labels: groupLabels[gk]}
		for _, rk := range slices.Sorted(maps.Keys(byGroup[gk])) {
			g.replicas = append(g.replicas, byGroup[gk][rk])
		}
		out = append(out, g)
	}
	return out
}

func (q *querier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	groups := q.groups(mint, maxt)
	var sets []storage.SeriesSet
	for _, g := range groups {
		blockMs, ok := q.splitMatchers(g.labels, ms)
		if !ok {
			continue
		}
		replicaSets := make([]storage.SeriesSet, 0, len(g.replicas))
		for rank, blocks := range g.replicas {
			blockSets := make([]storage.SeriesSet, 0, len(blocks))
			for _, b := range blocks {
				bq, err := q.blockQuerier(ctx, b, mint, maxt)
				if err != nil {
					return storage.ErrSeriesSet(err)
				}
				// Persisted blocks return series sorted by labels anyway.
				blockSets = append(blockSets, bq.Select(ctx, true, hints, blockMs...))
			}
			// Blocks of one replica: Prometheus' own merge (overlapping blocks
			// from vertical compaction share timestamps).
			replicaSets = append(replicaSets, rankedSet{storage.NewMergeSeriesSet(blockSets, 0, storage.ChainedSeriesMerge), rank})
		}
		set := storage.NewMergeSeriesSet(replicaSets, 0, mergeReplicas)
		sets = append(sets, withExternalLabels(set, g.labels, sortSeries || len(groups) > 1))
	}
	return storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
}

// splitMatchers applies the matchers on a group's external labels (and
// on the dropped replica labels, which no output series has) to the group
// itself, and returns those left for the blocks; ok is false when the
// group cannot match.
func (q *querier) splitMatchers(ext labels.Labels, ms []*labels.Matcher) ([]*labels.Matcher, bool) {
	out := make([]*labels.Matcher, 0, len(ms))
	for _, m := range ms {
		switch {
		case ext.Has(m.Name):
			if !m.Matches(ext.Get(m.Name)) {
				return nil, false
			}
		case contains(q.s.cfg.ReplicaLabels, m.Name):
			if !m.Matches("") {
				return nil, false
			}
		default:
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		out = append(out, labels.MustNewMatcher(labels.MatchEqual, "", "")) // every series (tsdb's all-postings key)
	}
	return out, true
}

// blockQuerier pins b in the cache (downloading it if needed) for the
// querier's lifetime and queries it over [mint, maxt].
func (q *querier) blockQuerier(ctx context.Context, b *block, mint, maxt int64) (storage.Querier, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, errors.New("promblocks: select on a closed querier")
	}
	tb, ok := q.pinned[b]
	if !ok {
		var err error
		if tb, err = q.s.cache.acquire(ctx, b); err != nil {
			return nil, err
		}
		if q.pinned == nil {
			q.pinned = map[*block]*tsdb.Block{}
		}
		q.pinned[b] = tb
	}
	bq, err := tsdb.NewBlockQuerier(tb, mint, maxt)
	if err != nil {
		return nil, fmt.Errorf("block %s (%s): %w", b.id(), b.dir, err)
	}
	q.qs = append(q.qs, bq)
	return bq, nil
}

// LabelValues lists a label's values among the selected series; it reads
// series labels (no samples), which is what dedup and external labels
// need to be right.
func (q *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	err := q.eachLabels(ctx, ms, func(ls labels.Labels) {
		if v := ls.Get(name); v != "" {
			seen[v] = struct{}{}
		}
	})
	return limit(slices.Sorted(maps.Keys(seen)), hints), nil, err
}

// LabelNames lists the label names among the selected series.
func (q *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	err := q.eachLabels(ctx, ms, func(ls labels.Labels) {
		ls.Range(func(l labels.Label) { seen[l.Name] = struct{}{} })
	})
	return limit(slices.Sorted(maps.Keys(seen)), hints), nil, err
}

func (q *querier) eachLabels(ctx context.Context, ms []*labels.Matcher, f func(labels.Labels)) error {
	if len(ms) == 0 {
		ms = []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "", "")}
	}
	set := q.Select(ctx, false, &storage.SelectHints{Start: q.mint, End: q.maxt, Func: "series"}, ms...)
	for set.Next() {
		f(set.At().Labels())
	}
	return set.Err()
}

func limit(vals []string, hints *storage.LabelHints) []string {
	if hints != nil && hints.Limit > 0 && len(vals) > hints.Limit {
		return vals[:hints.Limit]
	}
	return vals
}

// Close closes the block queriers and unpins the blocks.
func (q *querier) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	var errs []error
	for _, bq := range q.qs {
		errs = append(errs, bq.Close())
	}
	for b := range q.pinned {
		q.s.cache.release(b.meta.ULID)
	}
	return errors.Join(errs...)
}

// rankedSet tags its series with their replica's rank.
type rankedSet struct {
	storage.SeriesSet
	rank int
}

func (r rankedSet) At() storage.Series { return replicaSeries{r.SeriesSet.At(), r.rank} }

// withExternalLabels adds a group's external labels to its series (they
// override a series label of the same name, as in Thanos). Adding labels
// can change the order of series, so when the caller needs them sorted the
// set is read into memory (labels and iterators only, no samples) and
// sorted; series that become equal are merged.
func withExternalLabels(set storage.SeriesSet, ext labels.Labels, sorted bool) storage.SeriesSet {
	if ext.IsEmpty() {
		return set
	}
	ext2 := extender{ext: ext}
	if !sorted {
		return &extendedSet{SeriesSet: set, ext: ext2}
	}
	var all []storage.Series
	for set.Next() {
		all = append(all, ext2.extend(set.At()))
	}
	if err := set.Err(); err != nil {
		return storage.ErrSeriesSet(err)
	}
	sort.SliceStable(all, func(i, j int) bool { return labels.Compare(all[i].Labels(), all[j].Labels()) < 0 })
	var merged []storage.Series
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && labels.Equal(all[i].Labels(), all[j].Labels()) {
			j++
		}
		if j-i == 1 {
			merged = append(merged, all[i])
		} else {
			merged = append(merged, storage.ChainedSeriesMerge(all[i:j]...))
		}
		i = j
	}
	return &sliceSet{series: merged, i: -1, warnings: set.Warnings()}
}

type extender struct {
	ext labels.Labels
	b   labels.Builder
}

func (e *extender) extend(s storage.Series) storage.Series {
	e.b.Reset(s.Labels())
	e.ext.Range(func(l labels.Label) { e.b.Set(l.Name, l.Value) })
	return &storage.SeriesEntry{Lset: e.b.Labels(), SampleIteratorFn: s.Iterator}
}

type extendedSet struct {
	storage.SeriesSet
	ext extender
}

func (e *extendedSet) At() storage.Series { return e.ext.extend(e.SeriesSet.At()) }

type sliceSet struct {
	series   []storage.Series
	i        int
	warnings annotations.Annotations
}

func (s *sliceSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *sliceSet) At() storage.Series                { return s.series[s.i] }
func (s *sliceSet) Err() error                        { return nil }
func (s *sliceSet) Warnings() annotations.Annotations { return s.warnings }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
