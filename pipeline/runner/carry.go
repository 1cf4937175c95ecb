package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/thanos-io/objstore"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
)

// carry takes over the previous version's files of the days before the
// checkpoint (a resumed export). Metrics, logs and log_counts are carried
// by reference (Meta.Carried: the version names their parts, nothing is
// fetched). A windows file is carried by reference too when its label
// columns come out as they were (the checkpoint's digest of the day);
// otherwise it is fetched and its labels are recomputed from today's
// incidents, which is what an export from the first day would write (a
// day's other columns depend on that day and the days before it only,
// decision 0033).
func (e *export) carry(ctx context.Context) error {
	prev := e.o.Resume.Previous
	at := pipeline.Date(e.resumeAt)
	days := map[string]pipeline.Grid{}
	for _, d := range e.grid.Days() {
		days[pipeline.Date(d.Start)] = d
	}
	var bkt objstore.Bucket
	defer func() {
		if bkt != nil {
			bkt.Close()
		}
	}()
	var prefix string
	affected := labelsAffected(e.resumed.ByEntity, e.byEntity, e.grid.Step, e.labelCfg) // checkpoint.go
	touched := func(day pipeline.Grid, ents []string) bool {
		for _, ent := range ents {
			if from, ok := affected[ent]; ok && (from.IsZero() || from.Before(day.End)) {
				return true
			}
		}
		return false
	}
	for _, f := range prev.Files {
		date, ok := strings.CutPrefix(f.Partition, "date=")
		if f.Table == "" || !ok || date >= at {
			continue
		}
		day, ok := days[date]
		if !ok {
			return fmt.Errorf("%w: %s of version %s is outside the range", ErrResume, f.Path, prev.Version)
		}
		if f.Table == schemas.TableWindows {
			dc, known := e.days[date]
			if !known {
				return fmt.Errorf("%w: the checkpoint does not know the entities of %s", ErrResume, date)
			}
			phases, relabelled := dc.Phases, false
			// Labels are recomputed only where an entity's changed incidents
			// reach the day; the file is rewritten only if they moved.
			if touched(day, dc.Entities) {
				var labels map[string][]schemas.WindowLabels
				labels, phases = e.dayLabels(day, dc.Entities)
				digest := labelsDigest(dc.Entities, labels)
				e.days[date] = dayCheckpoint{Entities: dc.Entities, Labels: digest, Phases: phases}
				if digest != dc.Labels {
					if bkt == nil {
						var err error
						if bkt, prefix, err = bucket.OpenBucket(ctx, e.output, bucket.WithS3(e.s.S3)); err != nil {
							return fmt.Errorf("output %s: %w", e.output, err)
						}
					}
					if err := e.relabelFile(ctx, bkt, prefix, prev, f, day, labels); err != nil {
						return err
					}
					relabelled = true
				}
			}
			for p, n := range phases {
				e.phases[p] += n
			}
			if relabelled {
				continue // staged, its rows counted by relabel
			}
		}
		e.carried = append(e.carried, f)
		if f.Rows != nil {
			e.rows[f.Table] += *f.Rows
		}
	}
	return nil
}

// stageCarried fetches the files carried by reference into the staging
// directory, for a version published by copying its directory.
func (e *export) stageCarried(ctx context.Context) error {
	if len(e.carried) == 0 {
		return nil
	}
	prev := e.o.Resume.Previous
	bkt, prefix, err := bucket.OpenBucket(ctx, e.output, bucket.WithS3(e.s.S3))
	if err != nil {
		return fmt.Errorf("output %s: %w", e.output, err)
	}
	defer bkt.Close()
	for _, f := range e.carried {
		if err := bucket.DownloadVerified(ctx, bkt, carriedKey(prefix, prev, f), filepath.Join(e.staging, filepath.FromSlash(f.Path)), f.SHA256, f.Bytes); err != nil {
			return fmt.Errorf("carry %s from %s: %w", f.Path, prev.Version, err)
		}
	}
	e.carried = nil
	return nil
}

// carriedKey is where a file of the previous version is stored: its part
// (a nightly snapshot) or under the version's directory.
func carriedKey(prefix string, prev *schemas.Manifest, f schemas.File) string {
	if f.Object != "" {
		return schemas.Key(prefix, prev.Dataset, f.Object)
	}
	return schemas.Key(prefix, prev.Dataset, prev.Version, f.Path)
}

// carriedColumns are the columns of the previous version's tables, for
// carried files of a table this export staged nothing of.
func (e *export) carriedColumns() map[string][]schemas.Column {
	if len(e.carried) == 0 {
		return nil
	}
	out := map[string][]schemas.Column{}
	for name, t := range e.o.Resume.Previous.Tables {
		out[name] = t.Columns
	}
	return out
}

// relabelFile fetches a carried windows file beside the staging
// directory and stages it relabelled.
func (e *export) relabelFile(ctx context.Context, bkt objstore.Bucket, prefix string, prev *schemas.Manifest, f schemas.File, day pipeline.Grid, labels map[string][]schemas.WindowLabels) error {
	src := filepath.Join(filepath.Dir(e.staging), "carried.parquet") // the scratch dir, not the version
	defer os.Remove(src)
	if err := bucket.DownloadVerified(ctx, bkt, carriedKey(prefix, prev, f), src, f.SHA256, f.Bytes); err != nil {
		return fmt.Errorf("carry %s from %s: %w", f.Path, prev.Version, err)
	}
	if err := e.relabel(src, f.Path, day, labels); err != nil {
		return fmt.Errorf("relabel %s: %w", f.Path, err)
	}
	return nil
}

// relabel writes the windows file src, row by row in its order, as rel
// in the staging directory with the day's labels (by raw entity); memory
// holds one row at a time.
func (e *export) relabel(src, rel string, day pipeline.Grid, labels map[string][]schemas.WindowLabels) error {
	table := e.windowTable()
	raw := make(map[string]string, len(e.names)) // published → raw
	for r, p := range e.names {
		raw[p] = r
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return err
	}
	r := parquet.NewReader(pf, parquet.SchemaOf(table.NewRow()))
	defer r.Close()
	w, err := write.CreateDynamic(e.staging, rel, table.Type(), write.WindowsRowGroups(day.Len()), "entity", "window_start")
	if err != nil {
		return err
	}
	for {
		row := table.NewRow() // a fresh row: Read need not reset every field
		if err := r.Read(row); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			w.Abort()
			return err
		}
		k := table.Key(row)
		ls, ok := labels[raw[k.Entity]]
		if !ok {
			w.Abort()
			return fmt.Errorf("%w: an entity of a carried day is not in the checkpoint", ErrResume)
		}
		i, ok := day.Index(k.WindowStart)
		if !ok {
			w.Abort()
			return fmt.Errorf("row at %s is outside its day", k.WindowStart.UTC().Format(time.RFC3339))
		}
		table.SetLabels(row, ls[i])
		if err := w.Write(row); err != nil {
			w.Abort()
			return err
		}
	}
	e.rows[schemas.TableWindows] += w.Rows()
	return w.Close()
}
