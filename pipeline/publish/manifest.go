// Package publish turns a finished export (a local staging directory of
// Parquet tables) into an immutable, verifiable version in object storage:
//
//	<prefix>/<dataset>/catalog.json, latest, latest.json
//	<prefix>/<dataset>/<version>/manifest.json, SHA256SUMS, LICENSE, README.md, <table>/...
//
// Prepare writes the metadata files into the staging directory; Publish
// uploads it with the manifest last and then moves the catalog and latest
// pointers. See docs/decisions/0003-publish-protocol.md.
package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opsdata/opsdata/schemas"
	"github.com/parquet-go/parquet-go"
)

// Meta is what the runner knows about the version.
type Meta struct {
	Dataset, Version, Title, Description, Licence, Citation string
	// PublicURL is the spec's public_url ("" when not set).
	PublicURL string
	// Citation metadata (schemas/citation.go), from the spec.
	Creators      []schemas.Creator
	Publisher     *schemas.Publisher
	Keywords      []string
	Funding       []schemas.Funding
	DOI           string
	DatePublished string // YYYY-MM-DD or ""
	// Split is the benchmark split policy; nil without one.
	Split *schemas.SplitPolicy
	// From and To are the export range (UTC), To exclusive.
	From, To       time.Time
	Window         time.Duration
	EntityKind     string
	SpecDigest     string // sha256 of the spec bytes
	CodeVersion    string
	KeyEpoch       string // anonymization key fingerprint
	SchemaVersions map[string]string
	Features       []schemas.FeatureInfo
	Labels         schemas.LabelSummary
	BadInput       map[string]schemas.InputProblems
	Anonymization  map[string]int64
	// BaselinesFile is the spec's baselines results file ("" = none): the
	// card shows its scores when they match the staged windows (0035).
	BaselinesFile string
	// Carried are table files the version holds but the staging directory
	// does not: a resumed nightly export's unchanged earlier days, stored
	// once as parts (decision 0038). CarriedColumns are the columns of
	// their tables, for a table none of whose files is staged.
	Carried        []schemas.File
	CarriedColumns map[string][]schemas.Column
}

// reserved are the top-level files Prepare (re)writes; a previous Prepare's
// copies are ignored when scanning, so Prepare can run twice.
var reserved = map[string]bool{schemas.ManifestFile: true, schemas.SumsFile: true, schemas.ReadmeFile: true, schemas.LicenceFile: true, schemas.CroissantFile: true, schemas.CitationFile: true}

// tableInfo is what Prepare learns about one table for the card.
type tableInfo struct {
	name    string
	totals  schemas.TableTotals
	columns []column
	parts   []string // distinct partitions, sorted
}

// Prepare writes LICENSE, README.md, manifest.json and SHA256SUMS into the
// staging directory dir (in that order, since each covers the ones before)
// and returns the manifest. The output depends only on dir's contents and
// meta (and the baselines file meta names), never on the clock or on dir's
// own path.
func Prepare(dir string, meta Meta) (*schemas.Manifest, error) {
	if err := validateMeta(meta); err != nil {
		return nil, err
	}
	files, tables, err := scanStaging(dir)
	if err != nil {
		return nil, err
	}
	if files, tables, err = addCarried(files, tables, meta); err != nil {
		return nil, err
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("prepare %s: no Parquet tables found (expected <table>/[date=YYYY-MM-DD/]*.parquet); did the export write anything?", dir)
	}
	m := newManifest(meta)
	if m.Baselines, err = loadBaselines(meta.BaselinesFile, files); err != nil {
		return nil, err
	}
	for _, t := range tables {
		t.totals.Columns = exportColumns(t.columns)
		m.Tables[t.name] = t.totals
		m.Rows += t.totals.Rows
		m.Bytes += t.totals.Bytes
	}

	lic := licenceText(m)
	readme := renderCard(m, tables, files)
	croissant, err := schemas.RenderCroissant(m, files)
	if err != nil {
		return nil, fmt.Errorf("prepare: %s: %w", schemas.CroissantFile, err)
	}
	cff, err := schemas.RenderCitationCFF(m)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	for _, gen := range []struct {
		name string
		data []byte
	}{{schemas.LicenceFile, lic}, {schemas.ReadmeFile, readme}, {schemas.CroissantFile, croissant}, {schemas.CitationFile, cff}} {
		if err := os.WriteFile(filepath.Join(dir, gen.name), gen.data, 0o644); err != nil {
			return nil, fmt.Errorf("prepare: write %s: %w", gen.name, err)
		}
		files = append(files, fileOf(gen.name, gen.data))
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	m.Files = files

	mb, err := m.Encode()
	if err != nil {
		return nil, fmt.Errorf("prepare: encode manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, schemas.ManifestFile), mb, 0o644); err != nil {
		return nil, fmt.Errorf("prepare: write %s: %w", schemas.ManifestFile, err)
	}
	sums := append(append([]schemas.File(nil), files...), fileOf(schemas.ManifestFile, mb))
	sort.Slice(sums, func(i, j int) bool { return sums[i].Path < sums[j].Path })
	var sb strings.Builder
	for _, f := range sums {
		// GNU coreutils text format: hash, two spaces, path.
		fmt.Fprintf(&sb, "%s  %s\n", f.SHA256, f.Path)
	}
	if err := os.WriteFile(filepath.Join(dir, schemas.SumsFile), []byte(sb.String()), 0o644); err != nil {
		return nil, fmt.Errorf("prepare: write %s: %w", schemas.SumsFile, err)
	}
	return m, nil
}

func validateMeta(meta Meta) error {
	var errs []error
	if err := schemas.ValidateName("dataset", meta.Dataset); err != nil {
		errs = append(errs, err)
	}
	if err := schemas.ValidateName("version", meta.Version); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(meta.Licence) == "" {
		errs = append(errs, errors.New("licence is required: set an SPDX id such as CC-BY-4.0 in the spec"))
	} else if strings.ContainsAny(meta.Licence, " \t\n/") {
		errs = append(errs, fmt.Errorf("licence %q is not an SPDX id (no spaces or slashes), e.g. CC-BY-4.0", meta.Licence))
	}
	if meta.From.IsZero() || meta.To.IsZero() || !meta.From.Before(meta.To) {
		errs = append(errs, fmt.Errorf("export range [%s, %s) is empty or unset", meta.From, meta.To))
	}
	if meta.Window <= 0 {
		errs = append(errs, fmt.Errorf("window %s must be positive", meta.Window))
	}
	if len(errs) > 0 {
		return fmt.Errorf("prepare: invalid meta: %w", errors.Join(errs...))
	}
	return nil
}

func newManifest(meta Meta) *schemas.Manifest {
	id, name, url := licenceInfo(meta.Licence)
	m := &schemas.Manifest{
		FormatVersion:  schemas.FormatVersion,
		Dataset:        meta.Dataset,
		Version:        meta.Version,
		Title:          meta.Title,
		Description:    meta.Description,
		Licence:        id,
		LicenceName:    name,
		LicenceURL:     url,
		Citation:       meta.Citation,
		PublicURL:      strings.TrimSuffix(meta.PublicURL, "/"),
		Creators:       meta.Creators,
		Publisher:      meta.Publisher,
		Keywords:       meta.Keywords,
		Funding:        meta.Funding,
		DOI:            meta.DOI,
		DatePublished:  meta.DatePublished,
		Split:          meta.Split,
		From:           meta.From.UTC(),
		To:             meta.To.UTC(),
		Window:         meta.Window.String(),
		WindowSeconds:  meta.Window.Seconds(),
		EntityKind:     meta.EntityKind,
		SpecDigest:     meta.SpecDigest,
		CodeVersion:    meta.CodeVersion,
		KeyEpoch:       meta.KeyEpoch,
		SchemaVersions: nonNil(meta.SchemaVersions),
		Features:       meta.Features,
		Labels:         meta.Labels,
		BadInput:       nonNil(meta.BadInput),
		Anonymization:  nonNil(meta.Anonymization),
		Tables:         map[string]schemas.TableTotals{},
	}
	// Empty collections encode as [] / {}, never null, so readers need no special case.
	if m.Features == nil {
		m.Features = []schemas.FeatureInfo{}
	}
	if m.Labels.Labelers == nil {
		m.Labels.Labelers = []string{}
	}
	if m.Labels.Gaps == nil {
		m.Labels.Gaps = []string{}
	}
	m.Labels.IncidentsBySource = nonNil(m.Labels.IncidentsBySource)
	m.Labels.WindowsByPhase = nonNil(m.Labels.WindowsByPhase)
	return m
}

func nonNil[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

func fileOf(name string, data []byte) schemas.File {
	sum := sha256.Sum256(data)
	return schemas.File{Path: name, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data))}
}

// scanStaging hashes every file under dir (except the reserved top-level
// files) and reads the Parquet footers. Files directly under a top-level
// directory, or one partition directory below it, belong to that table.
func scanStaging(dir string) ([]schemas.File, []*tableInfo, error) {
	var files []schemas.File
	tables := map[string]*tableInfo{}
	schemaOf := map[string]string{} // table -> path of the file its columns came from
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file (symlinks and devices are not published)", rel)
		}
		if reserved[rel] {
			return nil
		}
		if err := validatePath(rel); err != nil {
			return err
		}
		f, cols, err := hashFile(p, rel)
		if err != nil {
			return err
		}
		parts := strings.Split(rel, "/")
		if len(parts) >= 2 {
			f.Table = parts[0]
			if len(parts) == 3 {
				f.Partition = parts[1]
			} else if len(parts) > 3 {
				return fmt.Errorf("%s: too deep; expected <table>/[<partition>/]<file>", rel)
			}
		}
		if f.Rows != nil && f.Table != "" {
			t := tables[f.Table]
			if t == nil {
				t = &tableInfo{name: f.Table, columns: cols}
				tables[f.Table] = t
				schemaOf[f.Table] = rel
			} else if !sameColumns(t.columns, cols) {
				return fmt.Errorf("%s: schema differs from %s in the same table; every file of a table must share one schema", rel, schemaOf[f.Table])
			}
			t.totals.Files++
			t.totals.Rows += *f.Rows
			t.totals.Bytes += f.Bytes
			if f.Partition != "" && (len(t.parts) == 0 || t.parts[len(t.parts)-1] != f.Partition) {
				t.parts = append(t.parts, f.Partition) // WalkDir is lexical, so this stays sorted
			}
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("prepare: scan %s: %w", dir, err)
	}
	out := make([]*tableInfo, 0, len(tables))
	for _, t := range tables {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return files, out, nil
}

// addCarried adds the files a version carries without staging them, as
// if they had been found in the staging directory.
func addCarried(files []schemas.File, tables []*tableInfo, meta Meta) ([]schemas.File, []*tableInfo, error) {
	if len(meta.Carried) == 0 {
		return files, tables, nil
	}
	staged := map[string]bool{}
	for _, f := range files {
		staged[f.Path] = true
	}
	byName := map[string]*tableInfo{}
	for _, t := range tables {
		byName[t.name] = t
	}
	for _, f := range meta.Carried {
		if staged[f.Path] {
			return nil, nil, fmt.Errorf("prepare: %s is both staged and carried", f.Path)
		}
		if f.Table == "" || f.Rows == nil {
			return nil, nil, fmt.Errorf("prepare: carried %s is not a table file", f.Path)
		}
		f.Object = ""
		t := byName[f.Table]
		if t == nil {
			cols := meta.CarriedColumns[f.Table]
			if len(cols) == 0 {
				return nil, nil, fmt.Errorf("prepare: carried %s: the columns of table %s are unknown", f.Path, f.Table)
			}
			t = &tableInfo{name: f.Table}
			for _, c := range cols {
				t.columns = append(t.columns, column{Name: c.Name, Type: c.Type, Nullable: c.Nullable})
			}
			byName[f.Table] = t
			tables = append(tables, t)
		}
		t.totals.Files++
		t.totals.Rows += *f.Rows
		t.totals.Bytes += f.Bytes
		if f.Partition != "" && !slices.Contains(t.parts, f.Partition) {
			t.parts = append(t.parts, f.Partition)
		}
		files = append(files, f)
	}
	for _, t := range tables {
		sort.Strings(t.parts)
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].name < tables[j].name })
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, tables, nil
}

// validatePath rejects names that sha256sum would escape or that could
// escape the version directory.
func validatePath(rel string) error {
	for _, seg := range strings.Split(rel, "/") {
		if err := schemas.CheckSegment(seg); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	}
	return nil
}

func hashFile(p, rel string) (schemas.File, []column, error) {
	fh, err := os.Open(p)
	if err != nil {
		return schemas.File{}, nil, err
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return schemas.File{}, nil, fmt.Errorf("%s: read: %w", rel, err)
	}
	f := schemas.File{Path: rel, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n}
	if path.Ext(rel) != ".parquet" {
		return f, nil, nil
	}
	pf, err := parquet.OpenFile(fh, n, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return schemas.File{}, nil, fmt.Errorf("%s: not a readable Parquet file: %w", rel, err)
	}
	rows := pf.NumRows()
	f.Rows = &rows
	return f, describeSchema(pf.Schema()), nil
}
