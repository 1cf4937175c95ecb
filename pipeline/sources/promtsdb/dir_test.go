package promtsdb

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/opsdata/opsdata/datasets/demo"
)

// countSamples reads every sample of every series in dir.
func countSamples(t *testing.T, dir string) (series, samples int) {
	t.Helper()
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatalf("OpenDir(%s): %v", dir, err)
	}
	defer d.Close()
	q, err := d.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	var it chunkenc.Iterator
	for set.Next() {
		series++
		it = set.At().Iterator(it)
		for it.Next() != chunkenc.ValNone {
			samples++
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return series, samples
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		defer out.Close()
		_, err = io.Copy(out, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDirAsOperatorsHaveIt: a TSDB directory reads the same whether it is
// the original (blocks and wal/), a copy of the blocks without wal/ (a
// Thanos download, a promtool backfill), or blocks that are symlinks; an
// empty directory is a clear error; nothing is written into the directory.
func TestDirAsOperatorsHaveIt(t *testing.T) {
	root := t.TempDir()
	if _, err := demo.Generate(context.Background(), demo.Config{Dir: filepath.Join(root, "demo"), Duration: 30 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	orig := filepath.Join(root, "demo", "tsdb")
	wantSeries, wantSamples := countSamples(t, orig)
	if wantSamples == 0 {
		t.Fatal("the demo TSDB has no samples")
	}
	entries, err := os.ReadDir(orig)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "wal" {
			blocks = append(blocks, e.Name())
		}
	}
	if len(blocks) < 2 {
		t.Fatalf("want several blocks, the demo wrote %d", len(blocks))
	}

	noWAL := filepath.Join(root, "no-wal")
	for _, b := range blocks {
		copyTree(t, filepath.Join(orig, b), filepath.Join(noWAL, b))
	}
	links := filepath.Join(root, "links")
	if err := os.MkdirAll(links, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := os.Symlink(filepath.Join(noWAL, b), filepath.Join(links, b)); err != nil {
			t.Fatal(err)
		}
	}
	mixed := filepath.Join(root, "mixed") // a data dir with a WAL, one block plain, the rest links
	copyTree(t, filepath.Join(orig, blocks[0]), filepath.Join(mixed, blocks[0]))
	copyTree(t, filepath.Join(orig, "wal"), filepath.Join(mixed, "wal"))
	for _, b := range blocks[1:] {
		if err := os.Symlink(filepath.Join(noWAL, b), filepath.Join(mixed, b)); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct{ name, dir string }{{"blocks without wal", noWAL}, {"symlinked blocks", links}, {"wal with symlinked blocks", mixed}} {
		t.Run(tc.name, func(t *testing.T) {
			series, samples := countSamples(t, tc.dir)
			if series != wantSeries || samples != wantSamples {
				t.Errorf("%d series, %d samples; the original has %d, %d", series, samples, wantSeries, wantSamples)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(noWAL, "wal")); !os.IsNotExist(err) {
		t.Errorf("opening a directory without wal/ wrote one: %v", err)
	}

	// A Thanos download: the raw blocks beside a downsampled one (which
	// Prometheus could not decode) and ones marked for deletion.
	thanos := filepath.Join(root, "thanos")
	rest := filepath.Join(root, "rest")
	for i, b := range blocks {
		copyTree(t, filepath.Join(orig, b), filepath.Join(thanos, b))
		if i > 0 {
			copyTree(t, filepath.Join(orig, b), filepath.Join(rest, b))
		}
	}
	setMeta(t, filepath.Join(thanos, blocks[0]), map[string]any{"labels": map[string]string{"cluster": "eu1"}, "downsample": map[string]int64{"resolution": 300000}})
	wantSeries, wantSamples = countSamples(t, rest)
	if series, samples := countSamples(t, thanos); series != wantSeries || samples != wantSamples {
		t.Errorf("thanos download: %d series, %d samples; its raw blocks hold %d, %d", series, samples, wantSeries, wantSamples)
	}
	if d, err := OpenDir(thanos); err != nil {
		t.Fatal(err)
	} else if d.Skipped[SkipDownsampled] != 1 || d.Skipped[SkipDeleted] != 0 {
		t.Errorf("thanos download: skipped %v, want the one downsampled block", d.Skipped)
	} else {
		d.Close()
	}
	// The source says so (the export warns about it).
	if src, err := Open(context.Background(), thanos, 0); err != nil {
		t.Fatal(err)
	} else {
		if got, want := src.LeftOut(), map[string]int{SkipDownsampled: 1}; !reflect.DeepEqual(got, want) {
			t.Errorf("LeftOut() = %v, want %v", got, want)
		}
		src.Close()
	}
	if src, err := Open(context.Background(), rest, 0); err != nil {
		t.Fatal(err)
	} else {
		if got := src.LeftOut(); got != nil {
			t.Errorf("LeftOut() of raw blocks only = %v, want nil", got)
		}
		src.Close()
	}
	for _, b := range blocks[1:] {
		if err := os.WriteFile(filepath.Join(thanos, b, "deletion-mark.json"), []byte(`{"id":"`+b+`","deletion_time":1767225600,"version":1}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := OpenDir(thanos); !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "1 downsampled, "+strconv.Itoa(len(blocks)-1)+" marked for deletion") {
		t.Errorf("OpenDir(every block left out) = %v, want ErrNoData saying why", err)
	}

	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDir(empty); !errors.Is(err, ErrNoData) {
		t.Errorf("OpenDir(empty) = %v, want ErrNoData", err)
	}
}

// setMeta adds a Thanos section to the block's meta.json.
func setMeta(t *testing.T, block string, thanos map[string]any) {
	t.Helper()
	p := filepath.Join(block, "meta.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["thanos"] = thanos
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
