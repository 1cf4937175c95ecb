package promblocks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/thanos-io/objstore"
	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/internal/miniotest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// store is where a test's blocks live: a file:// directory or a MinIO
// bucket, with the config keys that reach it.
type store struct {
	name string
	bkt  objstore.Bucket
	cfg  func(prefix string) *Config
}

// backends are the stores every scenario runs on: the filesystem always,
// MinIO when it is available (miniotest skips, or fails under CI, as the
// other MinIO tests do).
var backends = []struct {
	name string
	open func(t *testing.T) store
}{{"file", fileStore}, {"minio", func(t *testing.T) store { return minioStore(t, miniotest.Start(t)) }}}

func fileStore(t *testing.T) store {
	t.Helper()
	dir := t.TempDir()
	fsb, _, err := bucket.OpenBucket(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsb.Close() })
	return store{name: "file", bkt: fsb, cfg: func(prefix string) *Config {
		c := NewConfig()
		c.Bucket, c.Prefix = "file://"+dir, prefix
		return c
	}}
}

// minioStore creates a bucket on srv; the config reads the keys from
// files, as a Kubernetes Secret mounts them.
func minioStore(t *testing.T, srv *miniotest.Server) store {
	t.Helper()
	srv.CreateBucket(t, "thanos")
	keys := t.TempDir()
	idFile, secretFile := filepath.Join(keys, "id"), filepath.Join(keys, "secret")
	if err := os.WriteFile(idFile, []byte(srv.AccessKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte(srv.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s3 := bucket.S3{Endpoint: srv.URL, Region: "us-east-1", BucketLookup: "path",
		Credentials: bucket.S3Credentials{AccessKeyIDFile: idFile, SecretAccessKeyFile: secretFile}}
	return store{name: "minio", bkt: srv.Open(t, "s3://thanos", s3), cfg: func(prefix string) *Config {
		c := NewConfig()
		c.Bucket, c.Prefix, c.S3 = "s3://thanos", prefix, s3
		return c
	}}
}

// blockID derives a stable ULID from a name and the block's start.
func blockID(t *testing.T, name string, minT int64) ulid.ULID {
	h := sha256.Sum256([]byte(name))
	id, err := ulid.New(uint64(max(minT, 0)), bytes.NewReader(h[:]))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// uploadOpts shape what upload writes.
type uploadOpts struct {
	ext          map[string]string
	resolution   int64
	deletionMark bool
	noMeta       bool   // a partial upload
	rawMeta      []byte // meta.json as given (corrupt)
	skipChunks   bool   // chunks/ missing
	badIndex     bool   // index replaced by garbage
	listFiles    bool   // meta.json lists files with sizes (Thanos ≥ 0.19)
}

// upload puts the block in dir into bkt under prefix/id in the Thanos
// layout (meta.json with its thanos section last, as the shipper does).
func upload(t *testing.T, bkt objstore.Bucket, prefix, dir string, id ulid.ULID, o uploadOpts) {
	t.Helper()
	ctx := context.Background()
	key := func(rel string) string { return path.Join(prefix, id.String(), rel) }
	put := func(rel string, b []byte) {
		if err := bkt.Upload(ctx, key(rel), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		t.Fatal(err)
	}
	var m blockMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m.ULID = id
	m.Compaction.Sources = []ulid.ULID{id}
	m.Thanos.Labels, m.Thanos.Downsample.Resolution = o.ext, o.resolution
	idx, err := os.ReadFile(filepath.Join(dir, indexFile))
	if err != nil {
		t.Fatal(err)
	}
	if o.badIndex {
		idx = bytes.Repeat([]byte{0xde, 0xad}, len(idx)/2)
	}
	put(indexFile, idx)
	addFile := func(rel string, n int) {
		if o.listFiles {
			m.Thanos.Files = append(m.Thanos.Files, struct {
				RelPath   string `json:"rel_path"`
				SizeBytes int64  `json:"size_bytes"`
			}{rel, int64(n)})
		}
	}
	addFile(indexFile, len(idx))
	chunks, _ := filepath.Glob(filepath.Join(dir, chunksDir, "*"))
	for _, c := range chunks {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		rel := chunksDir + "/" + filepath.Base(c)
		addFile(rel, len(b))
		if !o.skipChunks {
			put(rel, b)
		}
	}
	if o.deletionMark {
		put(deletionMarkFile, []byte(`{"id":"`+id.String()+`","deletion_time":1,"version":1}`))
	}
	switch {
	case o.noMeta:
	case o.rawMeta != nil:
		put(metaFile, o.rawMeta)
	default:
		b, err := json.MarshalIndent(m, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		put(metaFile, b)
	}
}

// sample is one sample of a generated series.
type sample struct {
	t int64
	v float64
}

// writeBlock writes a block of series (labels → samples) into a new dir
// and returns the block's directory.
func writeBlock(t *testing.T, series map[string][]sample) string {
	t.Helper()
	dir := t.TempDir()
	w, err := tsdb.NewBlockWriter(slog.New(slog.DiscardHandler), dir, 4*int64(time.Hour/time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	app := w.Appender(context.Background())
	for ls, samples := range series {
		lbls := labels.FromStrings(strings.Split(ls, ",")...)
		var ref storage.SeriesRef
		for _, s := range samples {
			if ref, err = app.Append(ref, lbls, s.t, s.v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	id, err := w.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, id.String())
}

// scrape returns samples every step from start (+offset) to end,
// leaving out (gapFrom, gapTo); the value is the time in seconds.
func scrape(start, end, offset, step time.Duration, gapFrom, gapTo time.Duration) []sample {
	var out []sample
	for d := start + offset; d < end; d += step {
		if d > gapFrom && d < gapTo {
			continue
		}
		ms := t0.Add(d).UnixMilli()
		out = append(out, sample{ms, float64(ms) / 1000})
	}
	return out
}

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// read selects every series matching ms over [from, to) from q, sorted.
func read(t *testing.T, qa storage.Queryable, from, to time.Time, ms ...*labels.Matcher) (map[string][]sample, error) {
	t.Helper()
	q, err := qa.Querier(from.UnixMilli(), to.UnixMilli()-1)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	if len(ms) == 0 {
		ms = []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")}
	}
	set := q.Select(context.Background(), true, &storage.SelectHints{Start: from.UnixMilli(), End: to.UnixMilli() - 1}, ms...)
	out := map[string][]sample{}
	var it chunkenc.Iterator
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		var got []sample
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			if ts >= from.UnixMilli() && ts < to.UnixMilli() {
				got = append(got, sample{ts, v})
			}
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
		if len(got) > 0 {
			out[s.Labels().String()] = got
		}
	}
	return out, set.Err()
}

// intervals returns the smallest and largest step between samples.
func intervals(s []sample) (lo, hi time.Duration) {
	lo = time.Duration(math.MaxInt64)
	for i := 1; i < len(s); i++ {
		d := time.Duration(s[i].t-s[i-1].t) * time.Millisecond
		lo, hi = min(lo, d), max(hi, d)
	}
	return lo, hi
}
