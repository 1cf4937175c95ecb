package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/raw"
	"github.com/opsdata/opsdata/schemas"
)

// A sharded raw export (docs/decisions/0036-sharded-raw-export.md): shard i
// of N writes the buckets b with b % N == i under
// <dataset>/_state/staging/<version>/shard-IIII-of-NNNN/ in the output,
// then its receipt; RawCommit checks every receipt and publishes.

// ReceiptName is a shard's receipt, written after all its files.
const ReceiptName = "receipt.json"

// ReceiptFormat names the receipt's format.
const ReceiptFormat = "opsdata-raw-shard/v1"

// MaxShards bounds --shards.
const MaxShards = 9999

// ErrShardsIncomplete: a commit found shards without a receipt (exit 5).
var ErrShardsIncomplete = errors.New("shards incomplete")

// Receipt says what one shard wrote. Two receipts of one version must
// agree on everything but Shard, Files and Stats.
type Receipt struct {
	Format      string    `json:"format"`
	Dataset     string    `json:"dataset"`
	Version     string    `json:"version"`
	SpecDigest  string    `json:"spec_digest"`
	KeyEpoch    string    `json:"key_epoch"`
	CodeVersion string    `json:"code_version"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Match       []string  `json:"match"`
	Buckets     int       `json:"buckets"`
	Shard       int       `json:"shard"`
	Shards      int       `json:"shards"`
	// ResumeAt is a resumed windowed export's first day: its shards
	// evaluate the days from it (pieces.go).
	ResumeAt *time.Time `json:"resume_at,omitempty"`
	// Partition is the digest of the entity buckets a windowed shard split
	// features by (entityshard.go); every shard's must agree.
	Partition string      `json:"partition,omitempty"`
	Series    int64       `json:"series"`
	Samples   int64       `json:"samples"`
	Stale     int64       `json:"stale"`
	Files     []ShardFile `json:"files"`
}

// ShardFile is one file of a shard, relative to the version.
type ShardFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	Rows   int64  `json:"rows"`
}

// StagingPrefix is where the shards of a version stage their files.
func StagingPrefix(prefix, dataset, version string) string {
	return schemas.Key(prefix, dataset, "_state", "staging", version)
}

// ShardDir names shard i of n under the staging prefix.
func ShardDir(i, n int) string { return fmt.Sprintf("shard-%04d-of-%04d", i, n) }

func checkShards(i, n int) error {
	if n < 1 || n > MaxShards || i < 0 || i >= n {
		return fmt.Errorf("shard %d/%d: want 0 <= i < N <= %d", i, n, MaxShards)
	}
	return nil
}

// RawShard runs shard o.Shard of o.Shards: it lists and anonymizes every
// series (as one process does, so its gate searches for every raw value),
// writes its buckets, gates them, uploads them to the staging prefix and
// then its receipt. Re-running it overwrites its files with the same bytes.
// When the version is already published it does nothing.
func RawShard(ctx context.Context, o RawOptions) (*RawResult, error) {
	if err := checkShards(o.Shard, o.Shards); err != nil {
		return nil, err
	}
	r, err := rawSetup(ctx, o)
	if err != nil {
		return nil, err
	}
	defer r.close()
	res := &RawResult{Dataset: r.meta.Dataset, Version: r.meta.Version, Output: r.output}
	bkt, prefix, err := bucket.OpenBucket(ctx, r.output, bucket.WithS3(o.Spec.S3))
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", r.output, err)
	}
	defer bkt.Close()
	if _, found, err := bucket.GetBytes(ctx, bkt, schemas.Key(prefix, r.meta.Dataset, r.meta.Version, schemas.ManifestFile)); err != nil {
		return nil, fmt.Errorf("shard %d/%d: check whether %s/%s is published: %w", o.Shard, o.Shards, r.meta.Dataset, r.meta.Version, err)
	} else if found {
		res.AlreadyPublished = true
		return res, nil
	}
	staging, cleanup, err := makeStaging(o.TempDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	st, err := raw.Write(ctx, r.q, r.writeOptions(staging, o.Shard, o.Shards))
	if err != nil {
		return nil, fmt.Errorf("raw export shard %d/%d from %s: %w", o.Shard, o.Shards, r.source, err)
	}
	res.Stats = st
	leaks, err := r.anon.ScanDir(ctx, staging, 10)
	if err != nil {
		return nil, fmt.Errorf("shard %d/%d: leakage gate: %w", o.Shard, o.Shards, err)
	}
	if len(leaks) > 0 {
		return nil, fmt.Errorf("shard %d/%d: %w: %d raw identifier(s) found in %s column %q; fix the anonymization policy (anonymize: in %s); nothing was staged",
			o.Shard, o.Shards, ErrLeak, len(leaks), leaks[0].File, leaks[0].Column, o.Spec.Path)
	}
	rc := r.receipt(o.Shard, o.Shards)
	rc.Series, rc.Samples, rc.Stale = st.Series, st.Samples, st.Stale
	if rc.Files, err = stagedFiles(staging); err != nil {
		return nil, fmt.Errorf("shard %d/%d: %w", o.Shard, o.Shards, err)
	}
	if err := stageReceipt(ctx, bkt, StagingPrefix(prefix, r.meta.Dataset, r.meta.Version), staging, rc); err != nil { // pieces.go
		return nil, err
	}
	r.log.Info("raw shard staged", "shard", o.Shard, "shards", o.Shards, "series", st.Series, "samples", st.Samples, "files", len(rc.Files))
	return res, nil
}

// receipt is the part of a receipt every shard of the run shares.
func (r *rawRun) receipt(i, n int) Receipt {
	return Receipt{Format: ReceiptFormat, Dataset: r.meta.Dataset, Version: r.meta.Version, SpecDigest: r.meta.SpecDigest,
		KeyEpoch: r.meta.KeyEpoch, CodeVersion: r.meta.CodeVersion, From: r.from, To: r.to, Match: r.match,
		Buckets: r.buckets, Shard: i, Shards: n, Files: []ShardFile{}}
}

// stagedFiles lists the Parquet files under dir (sorted) with their
// checksums and row counts.
func stagedFiles(dir string) ([]ShardFile, error) {
	var out []ShardFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		sum, size, err := publish.FileSHA256(p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		pf, err := parquet.OpenFile(f, size)
		if err != nil {
			return fmt.Errorf("read back %s: %w", rel, err)
		}
		out = append(out, ShardFile{Path: filepath.ToSlash(rel), SHA256: sum, Bytes: size, Rows: pf.NumRows()})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// CommitResult says what RawCommit did.
type CommitResult struct {
	Dataset, Version, Output string
	Manifest                 *schemas.Manifest
	AlreadyPublished         bool
	Stats                    raw.Stats
}

// RawCommit publishes the version the o.Shards shards staged: every
// receipt must be present and agree with this run (spec digest, key
// epoch, code version, range, selectors, buckets, shards), every file must
// match its receipt. It then lists and anonymizes every series (the
// anonymizer's counts and the gate's raw values are those of one process),
// and finishes like Raw: report, manifest, leakage gate over every byte,
// publish with the manifest last. The staging prefix is removed after.
// An already published version returns AlreadyPublished; shards without a
// receipt return an error wrapping ErrShardsIncomplete naming them.
func RawCommit(ctx context.Context, o RawOptions) (*CommitResult, error) {
	if err := checkShards(0, o.Shards); err != nil {
		return nil, err
	}
	r, err := rawSetup(ctx, o)
	if err != nil {
		return nil, err
	}
	defer r.close()
	res := &CommitResult{Dataset: r.meta.Dataset, Version: r.meta.Version, Output: r.output}
	bkt, prefix, err := bucket.OpenBucket(ctx, r.output, bucket.WithS3(o.Spec.S3))
	if err != nil {
		return nil, fmt.Errorf("output %s: %w", r.output, err)
	}
	defer bkt.Close()
	stagingKey := StagingPrefix(prefix, r.meta.Dataset, r.meta.Version)
	if _, found, err := bucket.GetBytes(ctx, bkt, schemas.Key(prefix, r.meta.Dataset, r.meta.Version, schemas.ManifestFile)); err != nil {
		return nil, fmt.Errorf("commit: check whether %s/%s is published: %w", r.meta.Dataset, r.meta.Version, err)
	} else if found {
		res.AlreadyPublished = true
		if err := removePrefix(ctx, bkt, stagingKey); err != nil {
			r.log.Warn("could not remove the staging prefix of a published version", "prefix", stagingKey, "err", err)
		}
		return res, nil
	}
	receipts, err := readReceipts(ctx, bkt, stagingKey, r.receipt(0, o.Shards))
	if err != nil {
		return nil, err
	}
	staging, cleanup, err := makeStaging(o.TempDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var st raw.Stats
	for _, rc := range receipts {
		dir := stagingKey + "/" + ShardDir(rc.Shard, rc.Shards)
		for _, f := range rc.Files {
			if err := bucket.DownloadVerified(ctx, bkt, dir+"/"+f.Path, filepath.Join(staging, filepath.FromSlash(f.Path)), f.SHA256, f.Bytes); err != nil {
				return nil, fmt.Errorf("commit: shard %d/%d file %s (re-run that shard): %w", rc.Shard, rc.Shards, f.Path, err)
			}
			st.Files++
		}
		st.Series += rc.Series
		st.Samples += rc.Samples
		st.Stale += rc.Stale
	}
	if st.Samples == 0 {
		return nil, r.noSamples()
	}
	n, err := raw.Learn(ctx, r.q, r.writeOptions("", 0, 1))
	if err != nil {
		return nil, fmt.Errorf("commit: list series from %s: %w", r.source, err)
	}
	if n != st.Series {
		return nil, fmt.Errorf("commit: the shards wrote %d series, the source now has %d: it changed since they ran; re-run every shard", st.Series, n)
	}
	r.meta.Anonymization = r.anon.Report()
	man, already, err := finish(ctx, staged{dir: staging, meta: r.meta, anon: r.anon, spec: o.Spec, output: r.output, public: o.Public})
	if err != nil {
		return nil, err
	}
	if err := removePrefix(ctx, bkt, stagingKey); err != nil {
		r.log.Warn("published; could not remove the staging prefix (remove it by hand or re-run commit)", "prefix", stagingKey, "err", err)
	}
	res.Manifest, res.AlreadyPublished, res.Stats = man, already, st
	return res, nil
}

// readReceipts reads and checks the receipt of every shard against want
// (the fields every shard shares).
func readReceipts(ctx context.Context, bkt objstore.Bucket, stagingKey string, want Receipt) ([]Receipt, error) {
	var missing []string
	var out []Receipt
	for i := 0; i < want.Shards; i++ {
		k := stagingKey + "/" + ShardDir(i, want.Shards) + "/" + ReceiptName
		b, found, err := bucket.GetBytes(ctx, bkt, k)
		if err != nil {
			return nil, fmt.Errorf("commit: read %s: %w", k, err)
		}
		if !found {
			missing = append(missing, fmt.Sprint(i))
			continue
		}
		var rc Receipt
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rc); err != nil {
			return nil, fmt.Errorf("commit: receipt %s is not a shard receipt (re-run shard %d): %w", k, i, err)
		}
		if diff := receiptDiff(rc, want, i); diff != "" {
			return nil, fmt.Errorf("commit: shard %d/%d was run differently from this commit (%s): re-run it with the same spec, key, binary, range and --buckets", i, want.Shards, diff)
		}
		out = append(out, rc)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("commit %s/%s: %w: %d of %d shards have no receipt (shard %s); run them, then commit again",
			want.Dataset, want.Version, ErrShardsIncomplete, len(missing), want.Shards, strings.Join(missing, ", "))
	}
	return out, nil
}

// receiptDiff names the shared fields in which rc differs from want.
func receiptDiff(rc, want Receipt, shard int) string {
	var d []string
	check := func(name string, ok bool) {
		if !ok {
			d = append(d, name)
		}
	}
	check("format", rc.Format == want.Format)
	check("dataset", rc.Dataset == want.Dataset)
	check("version", rc.Version == want.Version)
	check("spec digest", rc.SpecDigest == want.SpecDigest)
	check("key epoch", rc.KeyEpoch == want.KeyEpoch)
	check("code version", rc.CodeVersion == want.CodeVersion)
	check("range", rc.From.Equal(want.From) && rc.To.Equal(want.To) &&
		(rc.ResumeAt == nil) == (want.ResumeAt == nil) && (rc.ResumeAt == nil || rc.ResumeAt.Equal(*want.ResumeAt)))
	check("match", strings.Join(rc.Match, "\x00") == strings.Join(want.Match, "\x00"))
	check("buckets", rc.Buckets == want.Buckets)
	check("shard", rc.Shard == shard && rc.Shards == want.Shards)
	prefixes := []string{schemas.TableSamples + "/", schemas.TableRawSeries + "/"}
	if want.Format == PiecesFormat {
		prefixes = []string{"pieces/", "slices/"}
	}
	for _, f := range rc.Files {
		if strings.Contains(f.Path, "..") || !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(f.Path, p) }) {
			d = append(d, "file list")
			break
		}
	}
	return strings.Join(d, ", ")
}

// removePrefix deletes every object under key (best effort: the first
// error is returned after trying all).
func removePrefix(ctx context.Context, bkt objstore.Bucket, key string) error {
	var keys []string
	if err := bkt.Iter(ctx, key+"/", func(name string) error {
		keys = append(keys, name)
		return nil
	}, objstore.WithRecursiveIter()); err != nil {
		return err
	}
	var first error
	for _, k := range keys {
		if err := bkt.Delete(ctx, k); err != nil && first == nil && !bkt.IsObjNotFoundErr(err) {
			first = err
		}
	}
	return first
}
