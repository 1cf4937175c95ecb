package promblocks

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
)

// ErrCacheFull means the blocks one query needs do not fit in
// cache_max_bytes at the same time.
var ErrCacheFull = errors.New("block cache too small")

// tmpPrefix names the directories a download is written into before it is
// renamed into place; a crash leaves them behind and the next open removes
// them.
const tmpPrefix = ".download-"

// cache keeps downloaded blocks under dir, at most max bytes, evicting the
// least recently used block no query holds. Blocks stay open while cached
// (opening one reads its index's tables, which a query per feature would
// otherwise repeat).
type cache struct {
	dir string
	max int64
	bkt objstore.BucketReader

	mu      sync.Mutex
	used    int64
	entries map[ulid.ULID]*entry
	lru     *list.List // front: most recently used; values *entry
	// fetch serializes downloads: two queries needing the same block wait
	// for one download, and eviction never races a download's reservation.
	fetch sync.Mutex
	// stats, for tests and the log.
	downloads, evictions int
}

type entry struct {
	id    ulid.ULID
	size  int64
	pins  int
	block *tsdb.Block // nil until first acquired
	elem  *list.Element
}

// openCache adopts the complete blocks already in dir (a previous run's)
// and removes unfinished downloads.
func openCache(dir string, max int64, bkt objstore.BucketReader) (*cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cache_dir %s: %w", dir, err)
	}
	c := &cache{dir: dir, max: max, bkt: bkt, entries: map[ulid.ULID]*entry{}, lru: list.New()}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cache_dir %s: %w", dir, err)
	}
	type found struct {
		e   *entry
		mod int64
	}
	var adopted []found
	for _, de := range des {
		p := filepath.Join(dir, de.Name())
		if strings.HasPrefix(de.Name(), tmpPrefix) {
			if err := os.RemoveAll(p); err != nil {
				return nil, fmt.Errorf("cache_dir %s: remove unfinished download %s: %w", dir, de.Name(), err)
			}
			continue
		}
		id, err := ulid.ParseStrict(de.Name())
		if err != nil || !de.IsDir() {
			continue
		}
		fi, err := os.Stat(filepath.Join(p, metaFile))
		if err != nil {
			continue
		}
		size, err := dirSize(p)
		if err != nil {
			return nil, fmt.Errorf("cache_dir %s: block %s: %w", dir, id, err)
		}
		adopted = append(adopted, found{&entry{id: id, size: size}, fi.ModTime().UnixNano()})
	}
	// The oldest meta.json is the least recently used (acquire touches it).
	sort.Slice(adopted, func(i, j int) bool { return adopted[i].mod > adopted[j].mod })
	for _, f := range adopted {
		f.e.elem = c.lru.PushBack(f.e)
		c.entries[f.e.id] = f.e
		c.used += f.e.size
	}
	// A smaller cache_max_bytes than last time: shrink now.
	if err := c.evictLocked(0); err != nil {
		return nil, err
	}
	return c, nil
}

// acquire returns the open block b, downloading it if needed, and pins it
// until release is called.
func (c *cache) acquire(ctx context.Context, b *block) (*tsdb.Block, error) {
	if tb, ok, err := c.pinCached(b); ok || err != nil {
		return tb, err
	}
	c.fetch.Lock()
	defer c.fetch.Unlock()
	if tb, ok, err := c.pinCached(b); ok || err != nil {
		return tb, err
	}
	objs, size, err := c.plan(ctx, b)
	if err != nil {
		return nil, err
	}
	if size > c.max {
		return nil, fmt.Errorf("block %s (%s) is %d bytes, more than the whole cache: %w; raise metrics.blocks.cache_max_bytes above %d", b.id(), b.dir, size, ErrCacheFull, size)
	}
	c.mu.Lock()
	err = c.evictLocked(size)
	if err == nil {
		c.used += size // reserved while downloading
	}
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", b.id(), err)
	}
	final := filepath.Join(c.dir, b.id())
	if err := c.download(ctx, b, objs, final); err != nil {
		c.mu.Lock()
		c.used -= size
		c.mu.Unlock()
		return nil, err
	}
	tb, err := openBlock(b, final)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downloads++
	if err != nil {
		c.used -= size
		_ = os.RemoveAll(final) // not worth keeping: it would fail again
		return nil, err
	}
	e := &entry{id: b.meta.ULID, size: size, block: tb, pins: 1}
	e.elem = c.lru.PushFront(e)
	c.entries[e.id] = e
	return tb, nil
}

// pinCached pins b if it is in the cache, opening it on first use.
func (c *cache) pinCached(b *block) (*tsdb.Block, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[b.meta.ULID]
	if !ok {
		return nil, false, nil
	}
	if e.block == nil {
		tb, err := openBlock(b, filepath.Join(c.dir, b.id()))
		if err != nil {
			return nil, true, err
		}
		e.block = tb
	}
	e.pins++
	c.lru.MoveToFront(e.elem)
	now := time.Now()
	_ = os.Chtimes(filepath.Join(c.dir, b.id(), metaFile), now, now) // LRU order for the next run
	return e.block, true, nil
}

// release unpins a block acquire returned.
func (c *cache) release(id ulid.ULID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok && e.pins > 0 {
		e.pins--
	}
}

// evictLocked removes unpinned blocks, least recently used first, until
// need more bytes fit.
func (c *cache) evictLocked(need int64) error {
	for el := c.lru.Back(); el != nil && c.used+need > c.max; {
		e := el.Value.(*entry)
		prev := el.Prev()
		if e.pins == 0 {
			if e.block != nil {
				if err := e.block.Close(); err != nil {
					return fmt.Errorf("cache: close block %s: %w", e.id, err)
				}
			}
			if err := os.RemoveAll(filepath.Join(c.dir, e.id.String())); err != nil {
				return fmt.Errorf("cache: evict block %s: %w", e.id, err)
			}
			c.lru.Remove(el)
			delete(c.entries, e.id)
			c.used -= e.size
			c.evictions++
		}
		el = prev
	}
	if c.used+need > c.max {
		return fmt.Errorf("%w: it needs %d more bytes while this query holds %d of cache_max_bytes %d; raise metrics.blocks.cache_max_bytes or query a shorter range (fewer blocks at once)", ErrCacheFull, need, c.used, c.max)
	}
	return nil
}

// object is one object of a block and its size in the bucket.
type object struct {
	key, rel string
	size     int64
}

// plan lists the objects a block needs (meta.json, index, chunks/*) with
// their sizes, and checks them against meta.json's file list when it has
// one.
func (c *cache) plan(ctx context.Context, b *block) ([]object, int64, error) {
	rels := []string{metaFile, indexFile}
	err := c.bkt.Iter(ctx, path.Join(b.dir, chunksDir)+"/", func(name string) error {
		if !strings.HasSuffix(name, "/") {
			rels = append(rels, strings.TrimPrefix(name, b.dir+"/"))
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("block %s: list %s/: %w", b.id(), path.Join(b.dir, chunksDir), err)
	}
	if len(rels) == 2 && b.meta.Stats.NumChunks > 0 {
		return nil, 0, fmt.Errorf("block %s: %w: no objects under %s/ but meta.json counts %d chunks; re-upload the block or mark it for deletion",
			b.id(), ErrCorruptBlock, path.Join(b.dir, chunksDir), b.meta.Stats.NumChunks)
	}
	want := map[string]int64{}
	for _, f := range b.meta.Thanos.Files {
		want[f.RelPath] = f.SizeBytes
	}
	var objs []object
	var total int64
	for _, rel := range rels {
		key := path.Join(b.dir, rel)
		attrs, err := c.bkt.Attributes(ctx, key)
		if err != nil {
			if c.bkt.IsObjNotFoundErr(err) {
				return nil, 0, fmt.Errorf("block %s: %w: object %s is missing; re-upload the block or mark it for deletion", b.id(), ErrCorruptBlock, key)
			}
			return nil, 0, fmt.Errorf("block %s: stat %s: %w", b.id(), key, err)
		}
		if w, ok := want[rel]; ok && rel != metaFile && w != attrs.Size {
			return nil, 0, fmt.Errorf("block %s: %w: object %s is %d bytes, meta.json says %d; re-upload the block", b.id(), ErrCorruptBlock, key, attrs.Size, w)
		}
		delete(want, rel)
		objs = append(objs, object{key: key, rel: rel, size: attrs.Size})
		total += attrs.Size
	}
	delete(want, metaFile)
	for rel := range want {
		if rel == "tombstones" { // Thanos never uploads it; the block opens without
			continue
		}
		return nil, 0, fmt.Errorf("block %s: %w: object %s named in meta.json is missing; re-upload the block or mark it for deletion", b.id(), ErrCorruptBlock, path.Join(b.dir, rel))
	}
	return objs, total, nil
}

// download writes the objects into a temporary directory beside final,
// checks every size, and renames it into place: a crash or an error never
// leaves a block that looks complete.
func (c *cache) download(ctx context.Context, b *block, objs []object, final string) error {
	tmp, err := os.MkdirTemp(c.dir, tmpPrefix+b.id()+"-")
	if err != nil {
		return fmt.Errorf("cache_dir %s: %w", c.dir, err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	for _, o := range objs {
		if err := c.fetchObject(ctx, b, o, filepath.Join(tmp, filepath.FromSlash(o.rel))); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("cache: place block %s: %w", b.id(), err)
	}
	return nil
}

func (c *cache) fetchObject(ctx context.Context, b *block, o object, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	rc, err := c.bkt.Get(ctx, o.key)
	if err != nil {
		return fmt.Errorf("block %s: download %s: %w", b.id(), o.key, err)
	}
	defer rc.Close()
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	n, err := io.Copy(f, bucket.ContextReader{Ctx: ctx, R: rc})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("block %s: download %s: %w", b.id(), o.key, err)
	}
	if n != o.size {
		return fmt.Errorf("block %s: %w: downloaded %d bytes of %s, the bucket lists %d; retry (an upload may have replaced it)", b.id(), ErrCorruptBlock, n, o.key, o.size)
	}
	return nil
}

// openBlock opens a cached block read-only with Prometheus' own reader.
func openBlock(b *block, dir string) (*tsdb.Block, error) {
	tb, err := tsdb.OpenBlock(promslog.NewNopLogger(), dir, nil, tsdb.DefaultPostingsDecoderFactory)
	if err != nil {
		return nil, fmt.Errorf("block %s (%s): %w: open: %w; re-upload the block or mark it for deletion", b.id(), b.dir, ErrCorruptBlock, err)
	}
	return tb, nil
}

// close closes every open block; the cached files stay for the next run.
func (c *cache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, e := range c.entries {
		if e.block != nil {
			errs = append(errs, e.block.Close())
			e.block = nil
		}
	}
	return errors.Join(errs...)
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
