package nightly

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/schemas"
)

// PartKey is where a table file's bytes live, relative to the dataset
// directory: parts/<table>/[<partition>/]<sha256><ext>. Equal bytes, one
// object, however many snapshots name it.
func PartKey(f schemas.File) string {
	segs := []string{"parts", f.Table}
	if f.Partition != "" {
		segs = append(segs, f.Partition)
	}
	return path.Join(append(segs, f.SHA256+path.Ext(f.Path))...)
}

// publishSnapshot is the runner's Publish hook: dir is the export of
// [start, watermark), gated and prepared. Order: parts (only missing ones),
// state, the snapshot's metadata files, SHA256SUMS, the lease check, and the
// manifest last (the commit); then the current view and the pointers.
func (r *run) publishSnapshot(ctx context.Context, dir string, m *schemas.Manifest) error {
	ds := schemas.Key(r.prefix, m.Dataset)
	// Which parts exist: one listing, not a request per file (a year of
	// days names thousands). A part's name is its sha256, and uploads are
	// atomic, so a listed part holds the right bytes.
	stored := map[string]bool{}
	if err := r.bkt.Iter(ctx, ds+"/"+schemas.PartsDir+"/", func(k string) error {
		stored[k] = true
		return nil
	}, objstore.WithRecursiveIter()); err != nil {
		return fmt.Errorf("snapshot %s: list parts: %w", m.Version, err)
	}
	for i := range m.Files {
		f := &m.Files[i]
		if f.Table == "" {
			continue
		}
		f.Object = PartKey(*f)
		k := ds + "/" + f.Object
		if stored[k] {
			r.rep.PartsReused++
			continue
		}
		local := filepath.Join(dir, filepath.FromSlash(f.Path))
		if _, err := os.Stat(local); errors.Is(err, fs.ErrNotExist) {
			// A file carried by reference whose part is gone (deleted by
			// hand): the night exports every day from its inputs instead,
			// which stores the part again.
			return fmt.Errorf("snapshot %s: %w: the part %s of %s is missing", m.Version, runner.ErrResume, k, f.Path)
		}
		if err := publish.UploadFileVerified(ctx, r.bkt, k, local, f.SHA256, f.Bytes); err != nil {
			return fmt.Errorf("snapshot %s: part %s: %w", m.Version, k, err)
		}
		r.rep.PartsUploaded++
		r.rep.BytesUploaded += f.Bytes
	}
	err := r.stage(ctx, "parts")
	if err != nil {
		return err
	}

	var prevLabels map[string]string
	if r.prev != nil {
		prevLabels = r.prev.Labels
	}
	if r.next.Labels, err = labelDigests(dir, m, prevLabels); err != nil {
		return err
	}
	cl := r.changelog(m)
	m.Changelog = cl
	r.rep.DaysAdded, r.rep.DaysChanged = cl.Added, cl.Changed
	r.next.DaysPublished += int64(len(cl.Added) + len(cl.Changed))
	mb, err := m.Encode()
	if err != nil {
		return err
	}
	sums := sumsFile(m, mb)
	for name, data := range map[string][]byte{schemas.ManifestFile: mb, schemas.SumsFile: sums} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	if r.checkpoint != nil {
		if err := r.bkt.Upload(ctx, checkpointKey(r.prefix, m.Dataset, m.Version), bytes.NewReader(r.checkpoint)); err != nil {
			return fmt.Errorf("snapshot %s: write checkpoint: %w", m.Version, err)
		}
		r.next.Checkpoint = true
	}
	sb, err := schemas.EncodeJSON(r.next)
	if err != nil {
		return err
	}
	if err := r.bkt.Upload(ctx, stateKey(r.prefix, m.Dataset, m.Version), bytes.NewReader(sb)); err != nil {
		return fmt.Errorf("snapshot %s: write state: %w", m.Version, err)
	}
	vdir := ds + "/" + m.Version
	for _, f := range m.Files {
		if f.Object != "" {
			continue
		}
		if err := publish.UploadFileVerified(ctx, r.bkt, vdir+"/"+f.Path, filepath.Join(dir, filepath.FromSlash(f.Path)), f.SHA256, f.Bytes); err != nil {
			return fmt.Errorf("snapshot %s: %s: %w", m.Version, f.Path, err)
		}
	}
	if err := r.bkt.Upload(ctx, vdir+"/"+schemas.SumsFile, bytes.NewReader(sums)); err != nil {
		return fmt.Errorf("snapshot %s: %s: %w", m.Version, schemas.SumsFile, err)
	}
	if err := r.lease.Check(ctx); err != nil {
		return fmt.Errorf("snapshot %s not committed: %w", m.Version, err)
	}
	if err := r.stage(ctx, "commit"); err != nil {
		return err
	}
	sum := sha256.Sum256(mb)
	if err := publish.UploadBytesVerified(ctx, r.bkt, vdir+"/"+schemas.ManifestFile, mb); err != nil {
		return fmt.Errorf("snapshot %s: manifest: %w", m.Version, err)
	}
	// Committed. What follows can be repaired by the next run.
	if err := updateCurrent(ctx, r.bkt, ds, dir, m, hex.EncodeToString(sum[:])); err != nil {
		return fmt.Errorf("snapshot %s committed; current view not updated (the next run repairs it): %w", m.Version, err)
	}
	if err := publish.UpdatePointers(ctx, r.bkt, r.prefix, m.Dataset); err != nil {
		return fmt.Errorf("snapshot %s committed; pointers not updated (the next run repairs them): %w", m.Version, err)
	}
	// Only the newest snapshot's checkpoint is resumed from; an older one
	// left behind is removed by gc.
	if r.prev != nil && r.prev.Checkpoint {
		if err := r.bkt.Delete(ctx, checkpointKey(r.prefix, m.Dataset, r.prev.Snapshot)); err != nil && !r.bkt.IsObjNotFoundErr(err) {
			r.o.Logger.Warn("previous checkpoint not removed (gc removes it)", "err", err)
		}
	}
	return nil
}

func (r *run) stage(ctx context.Context, name string) error {
	if r.o.hook != nil {
		return r.o.hook(ctx, name)
	}
	return ctx.Err()
}

// sumsFile is SHA256SUMS for the snapshot as pulled: every file by its
// path, and the manifest.
func sumsFile(m *schemas.Manifest, mb []byte) []byte {
	type line struct{ sum, path string }
	ls := []line{}
	for _, f := range m.Files {
		ls = append(ls, line{f.SHA256, f.Path})
	}
	ms := sha256.Sum256(mb)
	ls = append(ls, line{hex.EncodeToString(ms[:]), schemas.ManifestFile})
	sort.Slice(ls, func(i, j int) bool { return ls[i].path < ls[j].path })
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%s  %s\n", l.sum, l.path)
	}
	return []byte(b.String())
}

// changelog compares the new snapshot's day files with the previous one's.
func (r *run) changelog(m *schemas.Manifest) *schemas.Changelog {
	cl := &schemas.Changelog{Watermark: r.next.Watermark, Added: []string{}, Changed: []schemas.DayChange{}}
	days := func(man *schemas.Manifest) map[string]map[string]string {
		out := map[string]map[string]string{}
		if man == nil {
			return out
		}
		for _, f := range man.Files {
			d, ok := strings.CutPrefix(f.Partition, "date=")
			if !ok {
				continue
			}
			if out[d] == nil {
				out[d] = map[string]string{}
			}
			out[d][f.Table] += f.SHA256
		}
		return out
	}
	old, cur := days(r.prevM), days(m)
	if r.prevM != nil {
		cl.Previous = r.prevM.Version
	}
	for _, d := range slices.Sorted(maps.Keys(cur)) {
		o, had := old[d]
		if !had {
			cl.Added = append(cl.Added, d)
			continue
		}
		tables := map[string]bool{}
		for t, sum := range cur[d] {
			if o[t] != sum {
				tables[t] = true
			}
		}
		for t := range o {
			if _, ok := cur[d][t]; !ok {
				tables[t] = true
			}
		}
		if len(tables) == 0 {
			continue
		}
		dc := schemas.DayChange{Date: d, Tables: sortedSet(tables), Reasons: []string{}}
		for _, tc := range r.tickets {
			for _, td := range tc.days {
				if td == d {
					dc.Reasons = append(dc.Reasons, tc.reason)
					break
				}
			}
		}
		for _, in := range r.changedInputs {
			switch {
			case strings.HasPrefix(in, "logs/") && (tables[schemas.TableLogs] || tables["log_counts"]):
				dc.Reasons = append(dc.Reasons, "log input "+strings.TrimPrefix(in, "logs/")+" changed since the last snapshot (late or grown log files)")
			case in == "metrics" && tables[schemas.TableMetrics]:
				dc.Reasons = append(dc.Reasons, "metric input changed since the last snapshot (late samples)")
			case in == "spec" || in == "key" || strings.HasPrefix(in, "labelers"):
				dc.Reasons = append(dc.Reasons, in+" changed since the last snapshot")
			}
		}
		if len(dc.Reasons) == 0 && tables[schemas.TableWindows] {
			dc.Reasons = append(dc.Reasons, labelReason(r.prev, r.next, d))
		}
		if len(dc.Reasons) == 0 {
			dc.Reasons = append(dc.Reasons, "recomputed with the days added")
		}
		cl.Changed = append(cl.Changed, dc)
	}
	return cl
}

// currentIndex is current/index.json: which snapshot the current view
// holds and each file's checksum, so an update rewrites only what changed.
type currentIndex struct {
	Snapshot       string            `json:"snapshot"`
	ManifestSHA256 string            `json:"manifest_sha256"`
	Files          map[string]string `json:"files"`
}

// updateCurrent makes <dataset>/current/ hold the snapshot's table files
// under their plain paths (one line of pandas or DuckDB reads it): changed
// files are uploaded, files the snapshot no longer has are deleted, and
// index.json and SHA256SUMS move last.
func updateCurrent(ctx context.Context, bkt objstore.Bucket, ds, dir string, m *schemas.Manifest, msum string) error {
	cdir := ds + "/current"
	var old currentIndex
	if err := bucket.ReadJSON(ctx, bkt, cdir+"/index.json", &old); err != nil && !isNotFound(err) {
		return err
	}
	idx := currentIndex{Snapshot: m.Version, ManifestSHA256: msum, Files: map[string]string{}}
	var sums strings.Builder
	for _, f := range m.Files {
		if f.Object == "" {
			continue
		}
		idx.Files[f.Path] = f.SHA256
		fmt.Fprintf(&sums, "%s  %s\n", f.SHA256, f.Path)
		if old.Files[f.Path] == f.SHA256 {
			continue
		}
		local := filepath.Join(dir, filepath.FromSlash(f.Path))
		if _, err := os.Stat(local); errors.Is(err, fs.ErrNotExist) {
			// Not staged (carried by reference, or a repair): copied from its part.
			if err := bucket.DownloadVerified(ctx, bkt, ds+"/"+f.Object, local, f.SHA256, f.Bytes); err != nil {
				return err
			}
		}
		if err := publish.UploadFileVerified(ctx, bkt, cdir+"/"+f.Path, local, f.SHA256, f.Bytes); err != nil {
			return err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(old.Files)) {
		if _, keep := idx.Files[p]; !keep {
			if err := bkt.Delete(ctx, cdir+"/"+p); err != nil && !bkt.IsObjNotFoundErr(err) {
				return err
			}
		}
	}
	ib, err := schemas.EncodeJSON(idx)
	if err != nil {
		return err
	}
	if err := bkt.Upload(ctx, cdir+"/"+schemas.SumsFile, strings.NewReader(sums.String())); err != nil {
		return err
	}
	return bkt.Upload(ctx, cdir+"/index.json", bytes.NewReader(ib))
}

func isNotFound(err error) bool {
	return errors.Is(err, bucket.ErrNotFound)
}

// labelReason says what moved in a windows file no input change explains.
func labelReason(prev, next *State, d string) string {
	if prev == nil || prev.Labels == nil || prev.Labels[d] == "" {
		return "recomputed with the days added"
	}
	oc, om, _ := strings.Cut(prev.Labels[d], ":")
	nc, nm, _ := strings.Cut(next.Labels[d], ":")
	switch {
	case oc != nc:
		return "labels recomputed with the days added (an incident on a later day moves pre_incident)"
	case om != nm:
		return "minutes_to_next_incident updated: a later day brought the next incident"
	default:
		return "labels unchanged: windows columns recomputed over the longer range (tpl_ column ranking)"
	}
}

// repair brings current/ and the pointers up to the committed snapshot m
// if a run died between its commit and their update. The current view is
// rebuilt from the snapshot's parts, changed files only.
func repair(ctx context.Context, bkt objstore.Bucket, prefix string, m *schemas.Manifest) error {
	ds := schemas.Key(prefix, m.Dataset)
	var idx currentIndex
	if err := bucket.ReadJSON(ctx, bkt, ds+"/current/index.json", &idx); err != nil && !isNotFound(err) {
		return err
	}
	if idx.Snapshot != m.Version {
		mb, err := m.Encode()
		if err != nil {
			return err
		}
		// An empty directory: updateCurrent copies every changed file from
		// its part.
		dir, err := os.MkdirTemp("", "opsdata-repair-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		sum := sha256.Sum256(mb)
		if err := updateCurrent(ctx, bkt, ds, dir, m, hex.EncodeToString(sum[:])); err != nil {
			return fmt.Errorf("repair current view: %w", err)
		}
	}
	if v, err := bucket.Latest(ctx, bkt, prefix, m.Dataset); err != nil || v != m.Version {
		if err := publish.UpdatePointers(ctx, bkt, prefix, m.Dataset); err != nil {
			return fmt.Errorf("repair pointers: %w", err)
		}
	}
	return nil
}
