// Package pull downloads a published dataset version (or part of it) from
// a bucket into a local directory, verifying every file against the
// version's manifest:
//
//   - files already present with the right sha256 are kept (a re-run resumes);
//   - each file is written to <name>.part and renamed only once its size and
//     sha256 match the manifest; a mismatch is refetched once, then fails;
//     a transfer cut short keeps its .part, and the next pull resumes it
//     with a range request for the rest (HTTP Range, S3 and file ranges);
//   - every manifest path is checked before anything is written, and all
//     writes go through an os.Root, so no path (../, absolute, a symlink in
//     the target) can leave the target directory;
//   - the target ends with manifest.json and a SHA256SUMS covering exactly
//     what was pulled, so `sha256sum -c SHA256SUMS` passes there. A partial
//     pull (--tables, --from/--to) keeps the version's full list as
//     SHA256SUMS.full, and README.md and croissant.json describe what was
//     pulled (rendered from the manifest by schemas), so the metadata
//     loaders (Hugging Face datasets, mlcroissant) load it.
//
// See docs/decisions/0012-pull-catalog-page-croissant.md and 0030.
package pull

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/schemas"
	"github.com/thanos-io/objstore"
	"golang.org/x/sync/errgroup"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrUnsafePath: a manifest or SHA256SUMS path would leave the target directory.
	ErrUnsafePath = errors.New("unsafe path in manifest")
	// ErrChecksum: a downloaded file does not match the manifest, even after one refetch.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrInconsistent: the manifest, SHA256SUMS and catalog of a version disagree.
	ErrInconsistent = errors.New("version metadata inconsistent")
	// ErrUnknownTable: --tables names a table the version does not have.
	ErrUnknownTable = errors.New("unknown table")
	// ErrOtherVersion: the target directory already holds a different version.
	ErrOtherVersion = errors.New("target holds another version")
	// ErrOutOfRange: --from/--to select no time the version covers.
	ErrOutOfRange = errors.New("range outside the version")
)

// FullSumsFile keeps the version's own SHA256SUMS after a partial pull.
const FullSumsFile = "SHA256SUMS.full"

// DefaultParallel is the number of concurrent downloads when Options.Parallel is 0.
const DefaultParallel = 4

// Options select what to pull and how.
type Options struct {
	// Tables limits the pull to these tables; empty means all. Top-level
	// files (LICENSE, CITATION.cff, ...) always come; a partial pull
	// writes its own README.md and croissant.json.
	Tables []string
	// From and To (UTC, To exclusive; zero = unbounded) keep only the
	// date=YYYY-MM-DD partitions overlapping [From, To). Unpartitioned
	// tables always come. A range that misses the version's is refused
	// (ErrOutOfRange).
	From, To time.Time
	// Parallel bounds concurrent downloads (default DefaultParallel).
	Parallel int
	// Progress, if set, is told about every file; calls are serialized.
	Progress Progress
}

// Progress receives pull progress. Pull serializes the calls.
type Progress interface {
	// Start announces the selected files and their total size.
	Start(files int, bytes int64)
	// Done reports one finished file; skipped is true if it was already present.
	Done(path string, bytes int64, skipped bool)
}

// Result summarizes a pull.
type Result struct {
	Dataset, Version string
	// Files were selected; Fetched were downloaded, Skipped already present.
	Files, Fetched, Skipped int
	// Refetched files failed verification once and were downloaded again.
	Refetched int
	// Resumed files continued a .part an earlier, interrupted pull left,
	// with a range request for the rest.
	Resumed int
	// Bytes is the size of the selected files; Downloaded what was transferred.
	Bytes, Downloaded int64
	// Partial is true if a filter left files out (SHA256SUMS.full was written).
	Partial bool
}

// Pull downloads version (the latest if empty) of dataset under prefix in
// bkt into dir, which is created if missing. It needs only read access, so
// an anonymous bucket client works for a public bucket.
func Pull(ctx context.Context, bkt objstore.BucketReader, prefix, dataset, version, dir string, o Options) (*Result, error) {
	var err error
	if version == "" {
		if version, err = bucket.Latest(ctx, bkt, prefix, dataset); err != nil {
			return nil, fmt.Errorf("pull %s: %w", dataset, err)
		}
	}
	if err := errors.Join(schemas.ValidateName("dataset", dataset), schemas.ValidateName("version", version)); err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	vkey := path.Join(prefix, dataset, version)
	mb, err := getAll(ctx, bkt, vkey+"/"+schemas.ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("pull %s@%s: %w", dataset, version, err)
	}
	var m schemas.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("pull %s@%s: decode %s: %w", dataset, version, schemas.ManifestFile, err)
	}
	if m.Dataset != dataset || m.Version != version {
		return nil, fmt.Errorf("pull: %s/%s names %s@%s: %w", vkey, schemas.ManifestFile, m.Dataset, m.Version, ErrInconsistent)
	}
	msum := sha256hex(mb)
	if err := checkCatalog(ctx, bkt, prefix, dataset, version, msum); err != nil {
		return nil, err
	}
	// Refuse the whole manifest if any path is unsafe, before writing anything.
	byPath := map[string]schemas.File{}
	for i, f := range m.Files {
		if err := SafePath(f.Path); err != nil {
			return nil, fmt.Errorf("pull %s@%s: manifest files[%d]: %w", dataset, version, i, err)
		}
		if f.Object != "" {
			if err := SafePath(f.Object); err != nil {
				return nil, fmt.Errorf("pull %s@%s: manifest files[%d].object: %w", dataset, version, i, err)
			}
		}
		if f.Path == schemas.ManifestFile || f.Path == schemas.SumsFile || f.Path == FullSumsFile {
			return nil, fmt.Errorf("pull %s@%s: manifest files[%d] %q is reserved: %w", dataset, version, i, f.Path, ErrUnsafePath)
		}
		byPath[f.Path] = f
	}
	sums, err := getAll(ctx, bkt, vkey+"/"+schemas.SumsFile)
	if err != nil {
		return nil, fmt.Errorf("pull %s@%s: %w", dataset, version, err)
	}
	sumLines, err := checkSums(sums, byPath, msum)
	if err != nil {
		return nil, fmt.Errorf("pull %s@%s: %s: %w", dataset, version, schemas.SumsFile, err)
	}

	sel, partial, err := selectFiles(&m, o)
	if err != nil {
		return nil, fmt.Errorf("pull %s@%s: %w", dataset, version, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pull: create %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("pull: open %s: %w", dir, err)
	}
	defer root.Close()
	if err := checkTarget(root, dir, dataset, version); err != nil {
		return nil, err
	}

	res := &Result{Dataset: dataset, Version: version, Files: len(sel), Partial: partial}
	for _, f := range sel {
		res.Bytes += f.Bytes
	}
	var mu sync.Mutex // guards res and o.Progress
	if o.Progress != nil {
		o.Progress.Start(len(sel), res.Bytes)
	}
	par := o.Parallel
	if par <= 0 {
		par = DefaultParallel
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(par)
	for _, f := range sel {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			st, err := fetchFile(gctx, bkt, vkey, root, f)
			if err != nil {
				return fmt.Errorf("pull %s@%s: %s: %w", dataset, version, f.Path, err)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case st.skipped:
				res.Skipped++
			default:
				res.Fetched++
				res.Downloaded += st.downloaded
				if st.refetched {
					res.Refetched++
				}
				if st.resumed {
					res.Resumed++
				}
			}
			if o.Progress != nil {
				o.Progress.Done(f.Path, f.Bytes, st.skipped)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("pull %s@%s: %w", dataset, version, err)
	}
	var described []sumLine // a partial pull's own README.md and croissant.json
	if partial {
		if described, err = describePartial(root, &m, sel, o); err != nil {
			return res, fmt.Errorf("pull %s@%s: %w", dataset, version, err)
		}
	}

	// The metadata last: manifest.json, then the sums that cover it.
	if err := writeAtomic(root, schemas.ManifestFile, mb); err != nil {
		return res, fmt.Errorf("pull: write %s: %w", schemas.ManifestFile, err)
	}
	keep := map[string]bool{schemas.ManifestFile: true}
	for _, f := range sel {
		keep[f.Path] = true
	}
	var sub bytes.Buffer
	var lines []sumLine
	for _, l := range sumLines {
		if keep[l.path] {
			lines = append(lines, l)
		}
	}
	lines = append(lines, described...)
	slices.SortFunc(lines, func(a, b sumLine) int { return strings.Compare(a.path, b.path) })
	for _, l := range lines {
		sub.WriteString(l.raw)
		sub.WriteByte('\n')
	}
	if partial {
		if err := writeAtomic(root, FullSumsFile, sums); err != nil {
			return res, fmt.Errorf("pull: write %s: %w", FullSumsFile, err)
		}
	} else if err := root.Remove(FullSumsFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("pull: remove stale %s: %w", FullSumsFile, err)
	}
	if err := writeAtomic(root, schemas.SumsFile, sub.Bytes()); err != nil {
		return res, fmt.Errorf("pull: write %s: %w", schemas.SumsFile, err)
	}
	return res, nil
}

// objectKey is where f's bytes are: under the version, or, for a nightly
// snapshot's shared part (f.Object), relative to the dataset directory.
func objectKey(vkey string, f schemas.File) string {
	if f.Object != "" {
		return path.Join(path.Dir(vkey), f.Object)
	}
	return vkey + "/" + f.Path
}

// SafePath reports whether a manifest path is a plain relative path that
// stays inside the version directory.
func SafePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path: %w", ErrUnsafePath)
	case strings.HasPrefix(p, "/") || strings.Contains(p, `\`) || (len(p) > 1 && p[1] == ':'):
		return fmt.Errorf("%q is absolute or not slash-separated: %w", p, ErrUnsafePath)
	case strings.ContainsAny(p, "\x00\n\r"):
		return fmt.Errorf("%q contains control characters: %w", p, ErrUnsafePath)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%q has an empty, '.' or '..' segment: %w", p, ErrUnsafePath)
		}
	}
	if strings.HasSuffix(p, ".part") {
		return fmt.Errorf("%q ends in .part, which pull uses for downloads in progress: %w", p, ErrUnsafePath)
	}
	return nil
}

type sumLine struct{ path, sum, raw string }

// checkSums parses SHA256SUMS and checks it against the manifest: the same
// files with the same hashes, plus manifest.json with its hash.
func checkSums(data []byte, byPath map[string]schemas.File, msum string) ([]sumLine, error) {
	var out []sumLine
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		raw := sc.Text()
		sum, p, ok := strings.Cut(raw, "  ")
		if !ok || len(sum) != 64 {
			return nil, fmt.Errorf("line %d: not `<sha256>  <path>`: %w", n, ErrInconsistent)
		}
		if err := SafePath(p); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		want := msum
		if p != schemas.ManifestFile {
			f, ok := byPath[p]
			if !ok {
				return nil, fmt.Errorf("line %d: %s is not in the manifest: %w", n, p, ErrInconsistent)
			}
			want = f.SHA256
		}
		if sum != want {
			return nil, fmt.Errorf("line %d: %s has sha256 %s, manifest says %s: %w", n, p, sum, want, ErrInconsistent)
		}
		seen[p] = true
		out = append(out, sumLine{path: p, sum: sum, raw: raw})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for p := range byPath {
		if !seen[p] {
			return nil, fmt.Errorf("%s is in the manifest but not listed: %w", p, ErrInconsistent)
		}
	}
	if !seen[schemas.ManifestFile] {
		return nil, fmt.Errorf("%s not listed: %w", schemas.ManifestFile, ErrInconsistent)
	}
	return out, nil
}

// checkCatalog compares the manifest with the catalog's record of it, when
// the catalog lists the version.
func checkCatalog(ctx context.Context, bkt objstore.BucketReader, prefix, dataset, version, msum string) error {
	cat, err := bucket.ReadCatalog(ctx, bkt, prefix, dataset)
	if err != nil {
		if errors.Is(err, bucket.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("pull %s@%s: %w", dataset, version, err)
	}
	for _, e := range cat.Versions {
		if e.Version == version && e.ManifestSHA256 != "" && e.ManifestSHA256 != msum {
			return fmt.Errorf("pull %s@%s: manifest sha256 %s, %s says %s: %w", dataset, version, msum, schemas.CatalogFile, e.ManifestSHA256, ErrInconsistent)
		}
	}
	return nil
}

// selectFiles applies the table and time filters.
func selectFiles(m *schemas.Manifest, o Options) (sel []schemas.File, partial bool, err error) {
	if !o.From.IsZero() && !o.To.IsZero() && !o.From.Before(o.To) {
		return nil, false, fmt.Errorf("--from %s is not before --to %s", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	if (!o.From.IsZero() && !o.From.Before(m.To)) || (!o.To.IsZero() && !o.To.After(m.From)) {
		return nil, false, fmt.Errorf("--from %s --to %s: %w [%s, %s)", stamp(o.From), stamp(o.To), ErrOutOfRange,
			m.From.UTC().Format(time.RFC3339), m.To.UTC().Format(time.RFC3339))
	}
	want := map[string]bool{}
	for _, t := range o.Tables {
		if _, ok := m.Tables[t]; !ok {
			have := make([]string, 0, len(m.Tables))
			for n := range m.Tables {
				have = append(have, n)
			}
			slices.Sort(have)
			return nil, false, fmt.Errorf("--tables %s: %w; the version has %s", t, ErrUnknownTable, strings.Join(have, ", "))
		}
		want[t] = true
	}
	for _, f := range m.Files {
		keep := true
		if f.Table != "" {
			keep = (len(want) == 0 || want[f.Table]) && inRange(f.Partition, o.From, o.To)
		}
		if keep {
			sel = append(sel, f)
		} else {
			partial = true
		}
	}
	if partial {
		// The version's card and Croissant describe files that are not
		// here: the pull writes its own (describePartial).
		sel = slices.DeleteFunc(sel, func(f schemas.File) bool {
			return f.Path == schemas.ReadmeFile || f.Path == schemas.CroissantFile
		})
	}
	return sel, partial, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "(unbounded)"
	}
	return t.UTC().Format(time.RFC3339)
}

// describePartial writes README.md and croissant.json for the files a
// partial pull selected and returns their SHA256SUMS lines.
func describePartial(root *os.Root, m *schemas.Manifest, sel []schemas.File, o Options) ([]sumLine, error) {
	var data []schemas.File
	for _, f := range sel {
		if f.Table != "" {
			data = append(data, f)
		}
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("the selection holds no table files: %w", ErrOutOfRange)
	}
	sub := m.Subset(data, o.From, o.To)
	cr, err := schemas.RenderCroissant(sub, data)
	if err != nil {
		return nil, err
	}
	var lines []sumLine
	for _, gen := range []struct {
		name string
		data []byte
	}{{schemas.ReadmeFile, schemas.RenderPartialCard(sub, m)}, {schemas.CroissantFile, cr}} {
		if err := writeAtomic(root, gen.name, gen.data); err != nil {
			return nil, fmt.Errorf("write %s: %w", gen.name, err)
		}
		sum := sha256hex(gen.data)
		lines = append(lines, sumLine{path: gen.name, sum: sum, raw: sum + "  " + gen.name})
	}
	return lines, nil
}

// inRange reports whether a date=YYYY-MM-DD partition overlaps [from, to);
// other (or no) partitions always match.
func inRange(part string, from, to time.Time) bool {
	ds, ok := strings.CutPrefix(part, "date=")
	if !ok {
		return true
	}
	day, err := time.Parse("2006-01-02", ds)
	if err != nil {
		return true
	}
	end := day.Add(24 * time.Hour)
	return (to.IsZero() || day.Before(to)) && (from.IsZero() || end.After(from))
}

// checkTarget refuses a directory that holds another dataset or version.
func checkTarget(root *os.Root, dir, dataset, version string) error {
	b, err := root.ReadFile(schemas.ManifestFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pull: read %s in %s: %w", schemas.ManifestFile, dir, err)
	}
	var old struct{ Dataset, Version string }
	if json.Unmarshal(b, &old) == nil && (old.Dataset != dataset || old.Version != version) {
		return fmt.Errorf("pull: %s holds %s@%s, not %s@%s; pull into an empty directory: %w", dir, old.Dataset, old.Version, dataset, version, ErrOtherVersion)
	}
	return nil
}

type fetchStatus struct {
	skipped, refetched, resumed bool
	downloaded                  int64
}

// fetchFile makes root/<f.Path> hold exactly f: kept if already right,
// otherwise downloaded to .part, verified, renamed; one refetch on mismatch.
// A .part left by an interrupted pull is resumed: its bytes are kept and the
// rest fetched with a range request (a wrong .part fails verification and
// the refetch starts over). A failed transfer keeps its .part for the next
// run; a .part that failed verification is removed.
func fetchFile(ctx context.Context, bkt objstore.BucketReader, vkey string, root *os.Root, f schemas.File) (fetchStatus, error) {
	var st fetchStatus
	if fi, err := root.Lstat(f.Path); err == nil {
		if !fi.Mode().IsRegular() {
			return st, fmt.Errorf("target exists and is not a regular file (%s); remove it: %w", fi.Mode().Type(), ErrUnsafePath)
		}
		if fi.Size() == f.Bytes {
			if sum, _, err := hashRoot(root, f.Path); err == nil && sum == f.SHA256 {
				st.skipped = true
				return st, nil
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return st, err // includes os.Root's "path escapes from parent"
	}
	if d := path.Dir(f.Path); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return st, err
		}
	}
	var lastErr error
	resumedFirst := false // the first attempt continued a leftover .part
	for attempt := 0; attempt < 2; attempt++ {
		d, err := download(ctx, bkt, objectKey(vkey, f), root, f.Path+".part", f.Bytes, attempt == 0)
		st.downloaded += d.fetched
		if attempt == 0 {
			resumedFirst = d.resumedFrom > 0
		}
		if errors.Is(err, errOversized) {
			if d.resumedFrom > 0 {
				lastErr = fmt.Errorf("%s: resumed .part plus the rest is longer than the manifest's %d bytes: %w", f.Path, f.Bytes, ErrChecksum)
				continue // the .part was not this object's start: start over
			}
			// Longer than the manifest says: no refetch can make it right.
			root.Remove(f.Path + ".part")
			return st, fmt.Errorf("%s: the object is longer than the manifest's %d bytes (stopped reading there): %w; the object in the bucket is damaged or was replaced — tell the publisher", f.Path, f.Bytes, ErrChecksum)
		}
		if err != nil && d.resumedFrom > 0 && d.fetched == 0 && ctx.Err() == nil {
			// The rest could not be had (a server refusing the range, an
			// object shorter than the .part): start over.
			lastErr = err
			continue
		}
		if err != nil {
			// Keep what arrived: the next pull resumes from it.
			return st, err
		}
		n, sum := d.total, d.sum
		if sum == f.SHA256 && n == f.Bytes {
			if err := root.Rename(f.Path+".part", f.Path); err != nil {
				return st, err
			}
			// A wrong leftover .part replaced is not a refetch of the object.
			st.refetched = attempt > 0 && !resumedFirst
			st.resumed = d.resumedFrom > 0
			return st, nil
		}
		lastErr = fmt.Errorf("downloaded %d bytes with sha256 %s; manifest says %d bytes, %s: %w", n, sum, f.Bytes, f.SHA256, ErrChecksum)
	}
	root.Remove(f.Path + ".part")
	return st, fmt.Errorf("%w (after one refetch; the object in the bucket is damaged or was replaced — tell the publisher)", lastErr)
}

// errOversized: an object has more bytes than its manifest entry.
var errOversized = errors.New("object longer than the manifest says")

// downloaded is what download wrote.
type downloaded struct {
	resumedFrom int64  // bytes of an existing .part kept (0: fetched from the start)
	fetched     int64  // bytes transferred
	total       int64  // bytes in part
	sum         string // sha256 of part ("" on error)
}

// download writes k to part, at most size+1 bytes in all: an object longer
// than its manifest entry stops the copy there (errOversized). With resume,
// a non-empty regular part no longer than size is kept: its bytes are hashed
// and only the rest is fetched, with a range request from its end.
func download(ctx context.Context, bkt objstore.BucketReader, k string, root *os.Root, part string, size int64, resume bool) (downloaded, error) {
	var d downloaded
	h := sha256.New()
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if fi, err := root.Lstat(part); resume && err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size() <= size {
		have, err := root.Open(part)
		if err != nil {
			return d, err
		}
		n, err := io.Copy(h, have)
		have.Close()
		if err != nil {
			return d, err
		}
		d.resumedFrom, d.total = n, n
		flags = os.O_WRONLY | os.O_APPEND
	}
	if d.resumedFrom == size { // complete but not renamed: nothing to fetch
		d.sum = hex.EncodeToString(h.Sum(nil))
		return d, nil
	}
	var rc io.ReadCloser
	var err error
	if d.resumedFrom > 0 {
		// One byte past the manifest's size, to notice a longer object.
		rc, err = bkt.GetRange(ctx, k, d.resumedFrom, size+1-d.resumedFrom)
	} else {
		rc, err = bkt.Get(ctx, k)
	}
	if err != nil {
		return d, fmt.Errorf("get %s: %w", k, err)
	}
	defer rc.Close()
	out, err := root.OpenFile(part, flags, 0o644)
	if err != nil {
		return d, err
	}
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(bucket.ContextReader{Ctx: ctx, R: rc}, size+1-d.total))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	d.fetched, d.total = n, d.total+n
	if err == nil && d.total > size {
		return d, errOversized
	}
	if err != nil {
		return d, fmt.Errorf("download %s: %w", k, err)
	}
	d.sum = hex.EncodeToString(h.Sum(nil))
	return d, nil
}

func hashRoot(root *os.Root, p string) (string, int64, error) {
	fh, err := root.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func writeAtomic(root *os.Root, name string, data []byte) error {
	if err := root.WriteFile(name+".part", data, 0o644); err != nil {
		return err
	}
	return root.Rename(name+".part", name)
}

func getAll(ctx context.Context, bkt objstore.BucketReader, k string) ([]byte, error) {
	data, found, err := bucket.GetBytes(ctx, bkt, k)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", k, err)
	}
	if !found {
		return nil, fmt.Errorf("%s: %w (is the version published? `opsdata ls` lists versions)", k, bucket.ErrNotFound)
	}
	return data, nil
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
