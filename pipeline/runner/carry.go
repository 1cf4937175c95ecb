package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/label"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
)

// carry stages the previous version's files of the days before the
// checkpoint (a resumed export): metrics, logs and log_counts as they
// were (verified against the manifest's sha256), windows with their label
// columns recomputed from today's incidents, which is what an export from
// the first day would write for them (a day's other columns depend on that
// day and the days before it only, decision 0033).
func (e *export) carry(ctx context.Context) error {
	prev := e.o.Resume.Previous
	bkt, prefix, err := bucket.OpenBucket(ctx, e.output, bucket.WithS3(e.s.S3))
	if err != nil {
		return fmt.Errorf("output %s: %w", e.output, err)
	}
	defer bkt.Close()
	at := pipeline.Date(e.resumeAt)
	days := map[string]pipeline.Grid{}
	for _, d := range e.grid.Days() {
		days[pipeline.Date(d.Start)] = d
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
		obj := f.Object
		if obj == "" {
			obj = prev.Version + "/" + f.Path
		}
		dst := filepath.Join(e.staging, filepath.FromSlash(f.Path))
		if err := fetchVerified(ctx, bkt, schemas.Key(prefix, prev.Dataset, obj), dst, f.SHA256); err != nil {
			return fmt.Errorf("carry %s from %s: %w", f.Path, prev.Version, err)
		}
		if f.Table == schemas.TableWindows {
			if err := e.relabel(dst, day); err != nil {
				return fmt.Errorf("relabel %s: %w", f.Path, err)
			}
			continue
		}
		if f.Rows != nil {
			e.rows[f.Table] += *f.Rows
		}
	}
	return nil
}

// fetchVerified downloads k to dst and checks its sha256.
func fetchVerified(ctx context.Context, bkt interface {
	Get(context.Context, string) (io.ReadCloser, error)
}, k, dst, sha string) error {
	rc, err := bkt.Get(ctx, k)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), rc); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return fmt.Errorf("sha256 %s, the manifest says %s: the stored part is damaged", got, sha)
	}
	return nil
}

// relabel rewrites a carried windows file in place with today's labels,
// rows in their order; unchanged labels give the same bytes.
func (e *export) relabel(path string, day pipeline.Grid) error {
	table := e.windowTable()
	raw := make(map[string]string, len(e.names)) // published → raw
	for r, p := range e.names {
		raw[p] = r
	}
	rows, err := readDynamic(path, table)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(e.staging, path)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	w, err := write.CreateDynamic(e.staging, filepath.ToSlash(rel), table.Type(), write.WindowsRowGroups(day.Len()), "entity", "window_start")
	if err != nil {
		return err
	}
	labels := map[string][]schemas.WindowLabels{}
	for _, row := range rows {
		k := table.Key(row)
		ls, ok := labels[k.Entity]
		if !ok {
			r, known := raw[k.Entity]
			if !known {
				w.Abort()
				return fmt.Errorf("%w: entity %q of a carried day is not in the checkpoint", ErrResume, k.Entity)
			}
			ls = label.Apply(day, e.byEntity[r], e.labelCfg)
			applySplit(e.split, day, k.Entity, ls)
			labels[k.Entity] = ls
		}
		i, ok := day.Index(k.WindowStart)
		if !ok {
			w.Abort()
			return fmt.Errorf("row at %s is outside its day", k.WindowStart.UTC().Format(time.RFC3339))
		}
		table.SetLabels(row, ls[i])
		e.phases[ls[i].Phase]++
		if err := w.Write(row); err != nil {
			w.Abort()
			return err
		}
	}
	e.rows[schemas.TableWindows] += w.Rows()
	return w.Close()
}

// readDynamic reads every row of a Parquet file as the table's row type.
func readDynamic(path string, table *align.WindowTable) ([]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, err
	}
	r := parquet.NewReader(pf, parquet.SchemaOf(table.NewRow()))
	defer r.Close()
	var rows []any
	for {
		row := table.NewRow()
		if err := r.Read(row); err != nil {
			if errors.Is(err, io.EOF) {
				return rows, nil
			}
			return nil, err
		}
		rows = append(rows, row)
	}
}
