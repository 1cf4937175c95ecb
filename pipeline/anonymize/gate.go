package anonymize

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/internal/ordered"
)

// Leak is one cell (or line) of an output file holding a needle.
type Leak struct {
	File   string // path relative to the scanned directory, slash-separated
	Column string // dotted Parquet column path; "" for non-Parquet files
	// Row is the 0-based row index in a Parquet file, or the 1-based line
	// number in any other file.
	Row int64
	// Needle is masked ("db…21"): a leak report must not leak.
	Needle string
}

func (l Leak) String() string {
	if l.Column == "" {
		return fmt.Sprintf("%s:%d: contains %s", l.File, l.Row, l.Needle)
	}
	return fmt.Sprintf("%s: column %s row %d: contains %s", l.File, l.Column, l.Row, l.Needle)
}

// MaskNeedle shows the first two characters and the length of a raw value.
func MaskNeedle(s string) string {
	n, i := 0, 0
	for i < len(s) && n < 2 {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
		n++
	}
	return fmt.Sprintf("%s…%d", s[:i], len(s))
}

// ScanDir looks for needles (case-insensitive substrings) in every file
// under dir: Parquet files cell by cell, decoded (so compression cannot hide
// a value), any other file as raw bytes line by line. It returns up to max
// leaks (max <= 0: all), sorted by file, column and row, at most one per
// cell or line.
func ScanDir(ctx context.Context, dir string, needles []string, max int) ([]Leak, error) {
	return ScanDirWith(ctx, dir, needles, max, nil)
}

// ScanDirWith is ScanDir with one more check per cell or line: extra
// reports a leak its own way (Anonymizer.CoveredScan: addresses and
// e-mails by shape, against the hashes of those the run redacted).
func ScanDirWith(ctx context.Context, dir string, needles []string, max int, extra func([]byte) (string, bool)) ([]Leak, error) {
	return scanDir(ctx, dir, newNeedleSet(needles), max, extra, nil)
}

// gateHooks are the anonymizer's additions to the plain scan (scan.go).
type gateHooks struct {
	skip      func(pats []string, files []string) (func(b []byte, start, end int, id int32, meta bool) bool, error)
	metaCheck func([]byte) (string, bool)
}

// needleSet is what the gate searches for: the needles, each spelling
// once (case-folded), sorted, and their automaton.
type needleSet struct {
	pats []string
	m    *matcher
}

// newNeedleSet keeps the first spelling given of each case-folded needle.
// It finds them by sorting (folded, position), not through a set of every
// needle: PrepareGate builds it from 350k values on a realistic day while
// the last windows are written, and the set's tens of MB added to the
// run's peak.
func newNeedleSet(needles []string) needleSet {
	type folded struct {
		f string
		i int
	}
	fs := make([]folded, 0, len(needles))
	for i, n := range needles {
		if n != "" {
			fs = append(fs, folded{foldString(n), i})
		}
	}
	slices.SortFunc(fs, func(x, y folded) int {
		if c := strings.Compare(x.f, y.f); c != 0 {
			return c
		}
		return x.i - y.i
	})
	pats := make([]string, 0, len(fs))
	for k, x := range fs {
		if k == 0 || x.f != fs[k-1].f {
			pats = append(pats, needles[x.i])
		}
	}
	sort.Strings(pats)
	return needleSet{pats: pats, m: newMatcher(pats)}
}

func scanDir(ctx context.Context, dir string, ns needleSet, max int, extra func([]byte) (string, bool), hooks *gateHooks) ([]Leak, error) {
	pats, m := ns.pats, ns.m
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("leakage scan: walk %s: %w", dir, err)
	}
	if m.empty() && extra == nil && hooks == nil {
		return nil, nil
	}
	type file struct{ rel, path string }
	fl := make([]file, 0, len(files))
	for _, p := range files {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, fmt.Errorf("leakage scan: %s: %w", p, err)
		}
		fl = append(fl, file{filepath.ToSlash(rel), p})
	}
	sort.Slice(fl, func(i, j int) bool { return fl[i].rel < fl[j].rel })

	s := &scan{m: m, pats: pats, max: max, extra: extra}
	if hooks != nil && hooks.skip != nil {
		skip := hooks.skip
		paths := make([]string, len(fl))
		for i, f := range fl {
			paths[i] = f.path
		}
		if s.skip, err = skip(pats, paths); err != nil {
			return nil, err
		}
	}
	if hooks != nil {
		s.metaCheck = hooks.metaCheck
	}
	var units []scanUnit
	for _, f := range fl {
		if strings.HasSuffix(f.rel, ".parquet") {
			us, ok, err := parquetUnits(f.rel, f.path)
			if err != nil {
				closeAll(units)
				return nil, err
			}
			if ok {
				units = append(units, us...)
				continue
			}
		}
		units = append(units, scanUnit{rel: f.rel, path: f.path}) // its bytes
	}
	defer closeAll(units)
	// The units run on every core; their leaks are taken in unit order,
	// each unit's in the order it found them, up to max: the leaks of
	// scanning the units one after the other and stopping at max.
	errFull := errors.New("enough leaks")
	err = ordered.Do(ctx, len(units), runtime.GOMAXPROCS(0), func(ctx context.Context, i int) ([]Leak, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		u := &units[i]
		sub := &scan{m: s.m, pats: s.pats, skip: s.skip, metaCheck: s.metaCheck, extra: s.extra, max: s.max}
		if u.pf == nil {
			sub.meta = true
			return sub.leaks, sub.rawFile(u.rel, u.path)
		}
		err := sub.columnChunk(u.pf.RowGroups()[u.rg].ColumnChunks()[u.ci], u.rel, u.col, u.base, make([]parquet.Value, 1024), map[parquet.Dictionary]bool{})
		return sub.leaks, err
	}, func(_ int, leaks []Leak) error {
		for _, l := range leaks {
			if s.full() {
				break
			}
			s.leaks = append(s.leaks, l)
		}
		if s.full() {
			return errFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		return nil, err
	}
	sort.Slice(s.leaks, func(i, j int) bool {
		a, b := s.leaks[i], s.leaks[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Row < b.Row
	})
	return s.leaks, nil
}

type scan struct {
	m    *matcher
	pats []string
	// skip, if set, says that an occurrence of needle id at b[start:end] is
	// not a leak (it lies inside a pseudonym opsdata issued, or is a word
	// of the version's own vocabulary in a metadata file).
	skip func(b []byte, start, end int, id int32, meta bool) bool
	meta bool // the file being scanned is not Parquet
	// metaCheck, if set, is one more check for metadata files (secrets by
	// shape in README, manifest examples, croissant.json).
	metaCheck func([]byte) (string, bool)
	extra     func([]byte) (string, bool)
	max       int
	leaks     []Leak
	// scratch holds a number's text between check calls.
	scratch []byte
}

func (s *scan) full() bool { return s.max > 0 && len(s.leaks) >= s.max }

func (s *scan) check(b []byte, file, col string, row int64) bool {
	masked, ok := s.hit(b)
	if ok {
		s.leaks = append(s.leaks, Leak{File: file, Column: col, Row: row, Needle: masked})
	}
	return ok
}

// hit reports the masked needle b holds, if any.
func (s *scan) hit(b []byte) (string, bool) {
	if s.skip == nil {
		if mt, ok := s.m.first(b); ok {
			return MaskNeedle(s.pats[mt.id]), true
		}
	} else if mt, ok := s.m.first(b); ok {
		// Rare (a candidate was found): look at every occurrence.
		hit := int32(-1)
		if !s.skip(b, mt.start, mt.end, mt.id, s.meta) {
			hit = mt.id
		} else {
			s.m.each(string(b), func(m match) bool {
				if !s.skip(b, m.start, m.end, m.id, s.meta) {
					hit = m.id
					return false
				}
				return true
			})
		}
		if hit >= 0 {
			return MaskNeedle(s.pats[hit]), true
		}
	}
	if s.extra != nil {
		if masked, ok := s.extra(b); ok {
			return masked, true
		}
	}
	if s.meta && s.metaCheck != nil {
		if masked, ok := s.metaCheck(b); ok {
			return masked, true
		}
	}
	return "", false
}

// text renders a value as the bytes a reader would see, without
// allocating for numbers (metrics columns are most of the cells).
func (s *scan) text(v parquet.Value) []byte {
	switch v.Kind() {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return v.ByteArray()
	case parquet.Int32:
		s.scratch = strconv.AppendInt(s.scratch[:0], int64(v.Int32()), 10)
	case parquet.Int64:
		s.scratch = strconv.AppendInt(s.scratch[:0], v.Int64(), 10)
	case parquet.Float:
		s.scratch = strconv.AppendFloat(s.scratch[:0], float64(v.Float()), 'g', -1, 32)
	case parquet.Double:
		s.scratch = strconv.AppendFloat(s.scratch[:0], v.Double(), 'g', -1, 64)
	default:
		s.scratch = append(s.scratch[:0], v.String()...)
	}
	return s.scratch
}

func (s *scan) rawFile(rel, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("leakage scan: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	for line := int64(1); !s.full(); line++ {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			s.check(b, rel, "", line)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("leakage scan: read %s: %w", rel, err)
		}
	}
	return nil
}

// scanUnit is one piece of the scan: a column chunk of a Parquet file
// (pf set) or a whole file read as bytes.
type scanUnit struct {
	rel, path string
	pf        *parquet.File
	col       string
	ci, rg    int
	base      int64     // the chunk's first row in the file
	closer    io.Closer // set on a file's last unit
}

func closeAll(units []scanUnit) {
	for _, u := range units {
		if u.closer != nil {
			u.closer.Close()
		}
	}
}

// parquetUnits lists a Parquet file's column chunks to scan: column by
// column (columns in name order, so an early stop at max keeps the first
// leaks in sorted order), row group by row group; the file closes with its
// last unit. ok is false for a file that does not open as Parquet: its
// bytes are scanned instead.
//
// Only byte-array columns are read: a number, a boolean or a timestamp is
// not text a raw identifier can hide in, and rendering 57M of them was most
// of a raw export's CPU. Every string column is still checked (default
// deny); dictionary-encoded pages are checked once per distinct value.
func parquetUnits(rel, path string) ([]scanUnit, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("leakage scan: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("leakage scan: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, false, nil
	}
	cols := pf.Schema().Columns()
	order := make([]int, 0, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = strings.Join(c, ".")
		leaf, ok := pf.Schema().Lookup(c...)
		if ok && !textKind(leaf.Node.Type().Kind()) {
			continue
		}
		order = append(order, i)
	}
	sort.SliceStable(order, func(i, j int) bool { return names[order[i]] < names[order[j]] })
	var units []scanUnit
	for _, ci := range order {
		var base int64
		for rg, g := range pf.RowGroups() {
			units = append(units, scanUnit{rel: rel, path: path, pf: pf, col: names[ci], ci: ci, rg: rg, base: base})
			base += g.NumRows()
		}
	}
	if len(units) == 0 {
		f.Close()
		return nil, true, nil // nothing that can hold text
	}
	units[len(units)-1].closer = f
	return units, true, nil
}

// textKind says whether a Parquet physical type can hold text.
func textKind(k parquet.Kind) bool {
	return k == parquet.ByteArray || k == parquet.FixedLenByteArray
}

// cleanDict says whether no value of dictionary d holds a needle, checking
// each distinct value once per column (cached in seen).
func (s *scan) cleanDict(d parquet.Dictionary, seen map[parquet.Dictionary]bool) bool {
	if clean, ok := seen[d]; ok {
		return clean
	}
	clean := true
	for i := 0; i < d.Len() && clean; i++ {
		v := d.Index(int32(i))
		if _, hit := s.hit(s.text(v)); hit {
			clean = false
		}
	}
	seen[d] = clean
	return clean
}

func (s *scan) columnChunk(cc parquet.ColumnChunk, rel, col string, base int64, buf []parquet.Value, dicts map[parquet.Dictionary]bool) error {
	pages := cc.Pages()
	defer pages.Close()
	row := base - 1
	flagged := int64(-1) // one leak per cell, even for list cells
	for !s.full() {
		page, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("leakage scan: %s column %s: %w", rel, col, err)
		}
		if d := page.Dictionary(); d != nil && s.cleanDict(d, dicts) {
			// No distinct value leaks: the rows need not be read. A page
			// holds whole rows, so the row count carries over.
			row += page.NumRows()
			parquet.Release(page)
			continue
		}
		vr := page.Values()
		for {
			n, err := vr.ReadValues(buf)
			for _, v := range buf[:n] {
				if v.RepetitionLevel() == 0 {
					row++
				}
				if v.IsNull() || row == flagged {
					continue
				}
				if s.check(s.text(v), rel, col, row) {
					flagged = row
					if s.full() {
						break
					}
				}
			}
			if s.full() {
				break
			}
			if errors.Is(err, io.EOF) || n == 0 && err == nil {
				break
			}
			if err != nil {
				parquet.Release(page)
				return fmt.Errorf("leakage scan: %s column %s: %w", rel, col, err)
			}
		}
		parquet.Release(page)
	}
	return nil
}
