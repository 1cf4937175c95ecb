package promblocks

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
)

// haBucket uploads the HA scenario under prefix and returns the ids of the
// blocks a cluster="a" selection must use. Two replicas of cluster a
// scrape the same two series 3 s apart in two 2-hour blocks each; i1 has a
// 10-minute gap in r0, i2 one in r1. Beside them: cluster b, a block
// marked for deletion, a partial upload and a downsampled block, whose
// series must never show.
func haBucket(t *testing.T, st store, prefix string) (clusterA []string) {
	t.Helper()
	const step, off = 15 * time.Second, 3 * time.Second
	gap := func(on bool) (time.Duration, time.Duration) {
		if on {
			return time.Hour, time.Hour + 10*time.Minute
		}
		return -1, -1
	}
	for _, r := range []string{"r0", "r1"} {
		offset := time.Duration(0)
		if r == "r1" {
			offset = off
		}
		for k := range 2 {
			from, to := time.Duration(k)*2*time.Hour, time.Duration(k+1)*2*time.Hour
			g1f, g1t := gap(r == "r0" && k == 0)
			g2f, g2t := gap(r == "r1" && k == 0)
			dir := writeBlock(t, map[string][]sample{
				"__name__,ha_metric,instance,i1,job,app": scrape(from, to, offset, step, g1f, g1t),
				"__name__,ha_metric,instance,i2,job,app": scrape(from, to, offset, step, g2f, g2t),
			})
			id := blockID(t, prefix+r+string(rune('0'+k)), t0.Add(from).UnixMilli())
			upload(t, st.bkt, prefix, dir, id, uploadOpts{ext: map[string]string{"cluster": "a", "replica": r}, listFiles: k == 1})
			clusterA = append(clusterA, id.String())
		}
	}
	other := func(name string, o uploadOpts) {
		dir := writeBlock(t, map[string][]sample{"__name__," + name + ",instance,x,job,app": scrape(0, 2*time.Hour, 0, step, -1, -1)})
		upload(t, st.bkt, prefix, dir, blockID(t, prefix+name, t0.UnixMilli()), o)
	}
	other("b_metric", uploadOpts{ext: map[string]string{"cluster": "b", "replica": "r0"}})
	other("deleted_metric", uploadOpts{ext: map[string]string{"cluster": "a", "replica": "r0"}, deletionMark: true})
	other("partial_metric", uploadOpts{ext: map[string]string{"cluster": "a", "replica": "r0"}, noMeta: true})
	other("downsampled_metric", uploadOpts{ext: map[string]string{"cluster": "a", "replica": "r0"}, resolution: 300_000})
	return clusterA
}

func TestBlocks(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			st := be.open(t)
			clusterA := haBucket(t, st, "ha")
			t.Run("selection and dedup", func(t *testing.T) { testSelection(t, st, clusterA) })
			t.Run("cache", func(t *testing.T) { testCache(t, st) })
			t.Run("bad blocks", func(t *testing.T) { testBadBlocks(t, st) })
			t.Run("left out", func(t *testing.T) { testLeftOut(t, st) })
		})
	}
}

// testLeftOut: the source counts the blocks it left out whose data the
// operator may expect (the export warns about them): the deleted, partial
// and downsampled blocks of haBucket, whatever the selection.
func testLeftOut(t *testing.T, st store) {
	cfg := st.cfg("ha")
	cfg.ExternalLabels = `{cluster="a"}`
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	src, err := Open(context.Background(), cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := map[string]int{promtsdb.SkipDeleted: 1, promtsdb.SkipPartial: 1, promtsdb.SkipDownsampled: 1}
	if got := src.LeftOut(); !reflect.DeepEqual(got, want) {
		t.Errorf("LeftOut() = %v, want %v", got, want)
	}
}

func testSelection(t *testing.T, st store, clusterA []string) {
	ctx := context.Background()
	end := t0.Add(4 * time.Hour)
	full := int(4 * time.Hour / (15 * time.Second)) // samples of one replica without a gap
	for _, tc := range []struct {
		name     string
		ext      string
		replicas []string
		blocks   int
		// want: series → check of its samples
		want map[string]func(t *testing.T, s []sample)
	}{
		{
			name: "cluster a deduplicated", ext: `{cluster="a"}`, replicas: []string{"replica"}, blocks: 4,
			want: map[string]func(*testing.T, []sample){
				// The gap in r0 is filled from r1, which the iterator then follows.
				`{__name__="ha_metric", cluster="a", instance="i1", job="app"}`: deduped(full-1, full),
				// r0 has no gap: exactly r0's samples.
				`{__name__="ha_metric", cluster="a", instance="i2", job="app"}`: exactly(full, 0),
			},
		},
		{
			name: "one replica chosen by its label", ext: `{cluster="a", replica="r1"}`, replicas: []string{"replica"}, blocks: 2,
			want: map[string]func(*testing.T, []sample){
				`{__name__="ha_metric", cluster="a", instance="i1", job="app"}`: exactly(full, 3*time.Second),
				`{__name__="ha_metric", cluster="a", instance="i2", job="app"}`: exactly(full-40, 3*time.Second),
			},
		},
		{
			name: "without replica labels the replicas are distinct series", ext: `{cluster="a"}`, blocks: 4,
			want: map[string]func(*testing.T, []sample){
				`{__name__="ha_metric", cluster="a", instance="i1", job="app", replica="r0"}`: exactly(full-39, 0),
				`{__name__="ha_metric", cluster="a", instance="i1", job="app", replica="r1"}`: exactly(full, 3*time.Second),
				`{__name__="ha_metric", cluster="a", instance="i2", job="app", replica="r0"}`: exactly(full, 0),
				`{__name__="ha_metric", cluster="a", instance="i2", job="app", replica="r1"}`: exactly(full-40, 3*time.Second),
			},
		},
		{
			name: "cluster b", ext: `{cluster="b"}`, replicas: []string{"replica"}, blocks: 1,
			want: map[string]func(*testing.T, []sample){
				`{__name__="b_metric", cluster="b", instance="x", job="app"}`: exactly(full/2, 0),
			},
		},
		{
			name: "every cluster", ext: "", replicas: []string{"replica", "prometheus_replica"}, blocks: 5,
			want: map[string]func(*testing.T, []sample){
				`{__name__="ha_metric", cluster="a", instance="i1", job="app"}`: deduped(full-1, full),
				`{__name__="ha_metric", cluster="a", instance="i2", job="app"}`: exactly(full, 0),
				`{__name__="b_metric", cluster="b", instance="x", job="app"}`:   exactly(full/2, 0),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := st.cfg("ha")
			cfg.ExternalLabels, cfg.ReplicaLabels = tc.ext, tc.replicas
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			s, err := OpenStore(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.Blocks(); len(got) != tc.blocks {
				t.Errorf("selected blocks %v, want %d", got, tc.blocks)
			} else if tc.ext == `{cluster="a"}` {
				for _, id := range clusterA {
					if !contains(got, id) {
						t.Errorf("block %s of cluster a not selected (%v)", id, got)
					}
				}
			}
			got, err := read(t, s, t0, end)
			if err != nil {
				t.Fatal(err)
			}
			for ls, check := range tc.want {
				if _, ok := got[ls]; !ok {
					t.Errorf("series %s missing", ls)
					continue
				}
				check(t, got[ls])
			}
			for ls := range got {
				if tc.want[ls] == nil {
					t.Errorf("unexpected series %s (a deleted, partial, downsampled or unselected block read?)", ls)
				}
			}
			// A matcher on an external label, and one on the dropped replica label.
			sel, err := read(t, s, t0, end, labels.MustNewMatcher(labels.MatchEqual, "cluster", "b"))
			if err != nil {
				t.Fatal(err)
			}
			for ls := range sel {
				if !strings.Contains(ls, `cluster="b"`) {
					t.Errorf("cluster=\"b\" selected %s", ls)
				}
			}
		})
	}

	// Time selection: a query over the second two hours reads only the
	// blocks that overlap them.
	cfg := st.cfg("ha")
	cfg.ExternalLabels, cfg.ReplicaLabels = `{cluster="a"}`, []string{"replica"}
	s, err := OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := read(t, s, t0.Add(2*time.Hour), end); err != nil {
		t.Fatal(err)
	}
	if dl, _, _ := s.CacheStats(); dl != 2 {
		t.Errorf("a query over [2h, 4h) downloaded %d blocks, want the 2 that overlap it", dl)
	}
	if got, err := read(t, s, end.Add(time.Hour), end.Add(2*time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("a range after every block: %d series, %v", len(got), err)
	}
	if dl, _, _ := s.CacheStats(); dl != 2 {
		t.Errorf("a range without blocks downloaded something (%d)", dl)
	}
}

// exactly checks a series holds n samples on one replica's rhythm (every
// 15 s from t0+offset).
func exactly(n int, offset time.Duration) func(*testing.T, []sample) {
	return func(t *testing.T, s []sample) {
		t.Helper()
		if len(s) != n {
			t.Errorf("%d samples, want %d", len(s), n)
		}
		for _, x := range s {
			if (x.t-t0.Add(offset).UnixMilli())%15000 != 0 {
				t.Errorf("sample at %d is off the replica's 15 s rhythm from +%s", x.t, offset)
				return
			}
		}
	}
}

// deduped checks a series merged from two replicas: between lo and hi
// samples, never two within a scrape interval (no doubled samples) and
// no hole longer than the gap the penalty skips (the gap is filled).
func deduped(lo, hi int) func(*testing.T, []sample) {
	return func(t *testing.T, s []sample) {
		t.Helper()
		if len(s) < lo || len(s) > hi {
			t.Errorf("%d samples, want %d..%d", len(s), lo, hi)
		}
		minStep, maxStep := intervals(s)
		if minStep < 12*time.Second {
			t.Errorf("two samples %s apart: replicas doubled", minStep)
		}
		if maxStep > 45*time.Second {
			t.Errorf("a hole of %s: the gap was not filled from the other replica", maxStep)
		}
		for i, x := range s {
			if x.v != float64(x.t)/1000 {
				t.Errorf("sample %d: value %v at %d, want the time", i, x.v, x.t)
				return
			}
		}
	}
}

// testCache: a cache that holds one replica pair forces evictions, and
// the results are those of an unbounded cache; a range whose blocks do not
// fit at once, or a block larger than the cache, is an error saying what
// to raise.
func testCache(t *testing.T, st store) {
	ctx := context.Background()
	big := st.cfg("ha")
	big.ExternalLabels, big.ReplicaLabels = `{cluster="a"}`, []string{"replica"}
	ref, err := OpenStore(ctx, big)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	want, err := read(t, ref, t0, t0.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, _, all := ref.CacheStats()

	small := *big
	small.CacheDir = t.TempDir()
	small.CacheMaxBytes = Bytes(all/2 + all/8) // a replica pair (half the blocks), not all four
	s, err := OpenStore(ctx, &small)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]sample{}
	for _, w := range [][2]time.Time{{t0, t0.Add(2 * time.Hour)}, {t0.Add(2 * time.Hour), t0.Add(4 * time.Hour)}, {t0, t0.Add(2 * time.Hour)}} {
		part, err := read(t, s, w[0], w[1])
		if err != nil {
			t.Fatalf("window %s: %v", w[0], err)
		}
		if w[0].Equal(t0) && len(got) > 0 {
			continue // the third window only proves the evicted blocks come back
		}
		for ls, x := range part {
			got[ls] = append(got[ls], x...)
		}
		if _, _, used := s.CacheStats(); used > int64(small.CacheMaxBytes) {
			t.Errorf("cache holds %d bytes, above cache_max_bytes %d", used, small.CacheMaxBytes)
		}
	}
	dl, ev, _ := s.CacheStats()
	if ev < 4 || dl != 6 {
		t.Errorf("%d downloads, %d evictions; want 6 and at least 4 (the cache holds one pair)", dl, ev)
	}
	for ls, w := range want {
		if len(got[ls]) != len(w) {
			t.Errorf("%s: %d samples through the small cache, %d through a big one", ls, len(got[ls]), len(w))
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The cache survives the run: a second store adopts it and downloads nothing for the last pair.
	again, err := OpenStore(ctx, &small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := read(t, again, t0, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if dl, _, _ := again.CacheStats(); dl != 0 {
		t.Errorf("a run over a warm cache downloaded %d blocks", dl)
	}
	if _, err := read(t, again, t0, t0.Add(4*time.Hour)); !errors.Is(err, ErrCacheFull) || !strings.Contains(err.Error(), "raise metrics.blocks.cache_max_bytes") {
		t.Errorf("all four blocks at once in a cache for two: %v, want ErrCacheFull saying to raise cache_max_bytes", err)
	}
	again.Close()

	tiny := *big
	tiny.CacheMaxBytes = 1024
	ts, err := OpenStore(ctx, &tiny)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if _, err := read(t, ts, t0, t0.Add(time.Hour)); !errors.Is(err, ErrCacheFull) || !strings.Contains(err.Error(), "more than the whole cache") {
		t.Errorf("a block larger than the cache: %v", err)
	}
}

// testBadBlocks: a corrupt meta.json, a missing chunk file and an index
// that is not one each give an error naming the block and the object, and
// nothing panics.
func testBadBlocks(t *testing.T, st store) {
	ctx := context.Background()
	good := writeBlock(t, map[string][]sample{"__name__,m,job,app": scrape(0, time.Hour, 0, 15*time.Second, -1, -1)})
	for _, tc := range []struct {
		name string
		o    uploadOpts
		// atOpen: the error comes from listing; otherwise from a query.
		atOpen bool
		want   []string
	}{
		{"corrupt meta.json", uploadOpts{rawMeta: []byte(`{"ulid": "01J`)}, true, []string{"meta.json", "corrupt block", "syntax error at byte"}},
		{"meta.json of the wrong type", uploadOpts{rawMeta: []byte(`{"version": "one"}`)}, true, []string{"meta.json", "wrong type"}},
		{"missing chunk file", uploadOpts{skipChunks: true}, false, []string{"chunks", "corrupt block"}},
		{"missing chunk file listed in meta.json", uploadOpts{skipChunks: true, listFiles: true}, false, []string{"chunks", "corrupt block"}},
		{"garbage index", uploadOpts{badIndex: true}, false, []string{"corrupt block", "open"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "bad-" + strings.ReplaceAll(tc.name, " ", "-")
			id := blockID(t, prefix, t0.UnixMilli())
			upload(t, st.bkt, prefix, good, blockID(t, prefix+"good", t0.Add(-time.Hour).UnixMilli()), uploadOpts{})
			upload(t, st.bkt, prefix, good, id, tc.o)
			s, err := OpenStore(ctx, st.cfg(prefix))
			if err == nil {
				defer s.Close()
				_, err = read(t, s, t0, t0.Add(time.Hour))
			} else if !tc.atOpen {
				t.Fatalf("listing failed, want the query to: %v", err)
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range append(tc.want, id.String(), prefix+"/"+id.String()) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not name %q", msg, w)
				}
			}
			if !errors.Is(err, ErrCorruptBlock) {
				t.Errorf("error does not wrap ErrCorruptBlock: %v", err)
			}
			if strings.Contains(msg, `"01J`) || strings.Contains(msg, `"one"`) {
				t.Errorf("error quotes the block's content: %q", msg)
			}
		})
	}
}
