// Package write turns rows into the Parquet files of a staged version:
// zstd, bounded row groups, sorting metadata, one file per Hive partition,
// and never a half-written file under its final name.
package write

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
)

// MaxRowsPerRowGroup bounds memory while writing and keeps row-group
// statistics useful for pruning.
const MaxRowsPerRowGroup = 128 * 1024

// PartPath is the path of a table's file inside a staged version:
// <table>/date=<date>/part-00000.parquet, or <table>/part-00000.parquet for
// unpartitioned tables (date == "").
func PartPath(table, date string, part int) string {
	name := fmt.Sprintf("part-%05d.parquet", part)
	if date == "" {
		return filepath.Join(table, name)
	}
	return filepath.Join(table, "date="+date, name)
}

// pageCodec compresses every published page (zstd.go).
var pageCodec = &zstdCodec{level: zstd.SpeedDefault}

// options are the writer settings of every published file: the compatible
// profile of docs/decisions/0028-parquet-writer-profile.md. Version 1 data
// pages and only PLAIN, dictionary and RLE encodings (no DELTA_*, no
// BYTE_STREAM_SPLIT unless a row type's tag asks for it: the raw tables),
// which Spark 3.2's vectorized reader and fastparquet decode; the pandas
// footer entry gives fastparquet the UTC zone of every timestamp.
func options(schema *parquet.Schema, sortBy []string) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		schema,
		parquet.Compression(pageCodec),
		parquet.MaxRowsPerRowGroup(MaxRowsPerRowGroup),
		parquet.PageBufferSize(256 * 1024),
		parquet.CreatedBy("opsdata", "", ""),
		parquet.DataPageVersion(1),
		// parquet-go's default for untagged strings is DELTA_LENGTH_BYTE_ARRAY.
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.Plain),
	}
	if md, err := pandasMetadataOf(schema); err == nil {
		opts = append(opts, parquet.KeyValueMetadata("pandas", md))
	}
	if len(sortBy) > 0 {
		cols := make([]parquet.SortingColumn, len(sortBy))
		for i, c := range sortBy {
			cols[i] = parquet.Ascending(c)
		}
		opts = append(opts, parquet.SortingWriterConfig(parquet.SortingColumns(cols...)))
	}
	return opts
}

// staged is the file under both writers: rows go to <path>.tmp and only a
// finished file is renamed to its final name, so nothing half-written is
// ever visible.
type staged struct {
	path string
	f    *os.File
	rows int64
}

func createStaged(dir, rel string) (staged, error) {
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return staged{}, fmt.Errorf("create %s: %w", rel, err)
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return staged{}, fmt.Errorf("create %s: %w", rel, err)
	}
	return staged{path: path, f: f}, nil
}

// finish closes the Parquet writer w, then the file, and renames it.
func (s *staged) finish(closeWriter func() error) error {
	if err := closeWriter(); err != nil {
		s.abort()
		return fmt.Errorf("finish %s: %w", s.path, err)
	}
	if err := s.f.Close(); err != nil {
		os.Remove(s.f.Name())
		return fmt.Errorf("finish %s: %w", s.path, err)
	}
	if err := os.Rename(s.path+".tmp", s.path); err != nil {
		return fmt.Errorf("finish %s: %w", s.path, err)
	}
	return nil
}

func (s *staged) abort() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// File is a Parquet file of rows of type T being written; Close moves it
// into place, Abort removes it.
type File[T any] struct {
	staged
	w *parquet.GenericWriter[T]
}

// Create starts a file for rows of type T under dir/rel. sortBy names the
// columns the caller writes rows ordered by; it is recorded in the footer.
func Create[T any](dir, rel string, sortBy ...string) (*File[T], error) {
	return CreateWith[T](dir, rel, nil, sortBy...)
}

// CreateWith is Create with extra writer options, applied after the
// defaults (so they override them: a compression level, page size).
func CreateWith[T any](dir, rel string, extra []parquet.WriterOption, sortBy ...string) (*File[T], error) {
	st, err := createStaged(dir, rel)
	if err != nil {
		return nil, err
	}
	schema := parquet.SchemaOf(new(T))
	return &File[T]{staged: st, w: parquet.NewGenericWriter[T](st.f, append(options(schema, sortBy), extra...)...)}, nil
}

// Write appends rows.
func (p *File[T]) Write(rows []T) error {
	n, err := p.w.Write(rows)
	p.rows += int64(n)
	if err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	return nil
}

// Rows is the number of rows written so far.
func (p *File[T]) Rows() int64 { return p.rows }

// Close finishes the file and moves it to its final name.
func (p *File[T]) Close() error { return p.finish(p.w.Close) }

// Abort discards the file; on a nil File (Create failed) it does nothing.
func (p *File[T]) Abort() {
	if p != nil {
		p.abort()
	}
}

// Table writes all rows of one file in one call.
func Table[T any](dir, rel string, rows []T, sortBy ...string) (int64, error) {
	f, err := Create[T](dir, rel, sortBy...)
	if err != nil {
		return 0, err
	}
	if err := f.Write(rows); err != nil {
		f.Abort()
		return 0, err
	}
	return f.Rows(), f.Close()
}

// Dynamic writes rows of a struct type built at run time (the windows
// table, whose feature columns come from the spec). Rows are pointers to
// values of that type.
type Dynamic struct {
	staged
	w *parquet.Writer
}

// CreateDynamic starts a file for rows of the struct type typ; extra
// options apply after the defaults (WindowsRowGroups).
func CreateDynamic(dir, rel string, typ reflect.Type, extra []parquet.WriterOption, sortBy ...string) (*Dynamic, error) {
	st, err := createStaged(dir, rel)
	if err != nil {
		return nil, err
	}
	schema := parquet.SchemaOf(reflect.New(typ).Interface())
	return &Dynamic{staged: st, w: parquet.NewWriter(st.f, append(options(schema, sortBy), extra...)...)}, nil
}

// WindowsRowGroupTarget is the number of rows a windows row group aims at.
// Smaller groups prune finer and compress worse; at 16 Ki rows a day of
// 1,000 entities at 1m is 91 groups and a one-entity query reads one
// (docs/decisions/0029-windows-entity-first.md, BENCHMARKS.md).
const WindowsRowGroupTarget = 16 * 1024

// WindowsRowGroups sizes the row groups of a windows file whose rows come
// entity by entity, perEntity windows each: a group holds whole
// entity-days (at least one), so no entity straddles two groups.
func WindowsRowGroups(perEntity int) []parquet.WriterOption {
	if perEntity <= 0 {
		return nil
	}
	n := max(1, WindowsRowGroupTarget/perEntity) * perEntity
	return []parquet.WriterOption{parquet.MaxRowsPerRowGroup(int64(n))}
}

// Write appends one row (a pointer to a value of the file's type).
func (d *Dynamic) Write(row any) error {
	if err := d.w.Write(row); err != nil {
		return fmt.Errorf("write %s: %w", d.path, err)
	}
	d.rows++
	return nil
}

// Rows is the number of rows written so far.
func (d *Dynamic) Rows() int64 { return d.rows }

// Close finishes the file and moves it to its final name.
func (d *Dynamic) Close() error { return d.finish(d.w.Close) }

// Abort discards the file; on a nil Dynamic it does nothing.
func (d *Dynamic) Abort() {
	if d != nil {
		d.abort()
	}
}
