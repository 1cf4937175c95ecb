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
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/pipeline"
)

// Names of the files Prepare writes at the top of a version.
const (
	ManifestFile = "manifest.json"
	SumsFile     = "SHA256SUMS"
	ReadmeFile   = "README.md"
	LicenceFile  = "LICENSE"
)

// FormatVersion is the version of the manifest and catalog layout.
const FormatVersion = 1

// FeatureInfo describes one feature column of the windows table.
type FeatureInfo struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	Unit string `json:"unit,omitempty"`
	Help string `json:"help,omitempty"`
}

// LabelSummary is what the runner knows about the labels of a version.
type LabelSummary struct {
	// Labelers names the labelers that ran, in spec order (e.g. "ticket", "alert").
	Labelers []string `json:"labelers"`
	// Method is one or two sentences on how incidents were derived.
	Method string `json:"method,omitempty"`
	// Incidents is the total number of incident intervals.
	Incidents int64 `json:"incidents"`
	// IncidentsBySource counts incidents per label source (ticket, alert, rule, manual).
	IncidentsBySource map[string]int64 `json:"incidents_by_source"`
	// Windows is the number of rows in the windows table.
	Windows int64 `json:"windows"`
	// LabelledWindows is the number of windows with an active incident.
	LabelledWindows int64 `json:"labelled_windows"`
	// WindowsByPhase counts windows per prediction phase.
	WindowsByPhase map[string]int64 `json:"windows_by_phase"`
	// Gaps lists known gaps and caveats (missing sources, unknown end times, ...).
	Gaps []string `json:"gaps"`
}

// Meta is what the runner knows about the version.
type Meta struct {
	Dataset, Version, Title, Description, Licence, Citation string
	// From and To are the export range (UTC), To exclusive.
	From, To       time.Time
	Window         time.Duration
	EntityKind     string
	SpecDigest     string // sha256 of the spec bytes
	CodeVersion    string
	KeyEpoch       string // anonymization key fingerprint
	SchemaVersions map[string]string
	Features       []FeatureInfo
	Labels         LabelSummary
	BadInput       map[string]pipeline.InputProblems
	Anonymization  map[string]int64
}

// File is one file of a version.
type File struct {
	// Path is slash-separated, relative to the version directory.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// Rows is set for Parquet files (from the footer).
	Rows *int64 `json:"rows,omitempty"`
	// Table and Partition are set for files under a table directory,
	// e.g. windows and date=2026-01-05.
	Table     string `json:"table,omitempty"`
	Partition string `json:"partition,omitempty"`
}

// TableTotals sums a table's files.
type TableTotals struct {
	Files int   `json:"files"`
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// Columns lists the table's top-level columns in file order.
	Columns []Column `json:"columns,omitempty"`
}

// Manifest describes one version completely. Its bytes are the version's
// identity: publishing the same manifest twice is a no-op.
type Manifest struct {
	FormatVersion int       `json:"format_version"`
	Dataset       string    `json:"dataset"`
	Version       string    `json:"version"`
	Title         string    `json:"title"`
	Description   string    `json:"description"`
	Licence       string    `json:"licence"`
	LicenceName   string    `json:"licence_name"`
	LicenceURL    string    `json:"licence_url"`
	Citation      string    `json:"citation"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	// Window is a Go duration string ("1m0s"); WindowSeconds the same in seconds.
	Window         string                            `json:"window"`
	WindowSeconds  float64                           `json:"window_seconds"`
	EntityKind     string                            `json:"entity_kind"`
	SpecDigest     string                            `json:"spec_digest"`
	CodeVersion    string                            `json:"code_version"`
	KeyEpoch       string                            `json:"key_epoch"`
	SchemaVersions map[string]string                 `json:"schema_versions"`
	Features       []FeatureInfo                     `json:"features"`
	Labels         LabelSummary                      `json:"labels"`
	BadInput       map[string]pipeline.InputProblems `json:"bad_input"`
	Anonymization  map[string]int64                  `json:"anonymization"`
	// Rows and Bytes total the tables' files.
	Rows   int64                  `json:"rows"`
	Bytes  int64                  `json:"bytes"`
	Tables map[string]TableTotals `json:"tables"`
	// Files lists every file of the version except manifest.json and
	// SHA256SUMS (written after it), sorted by path.
	Files []File `json:"files"`
}

// Encode returns the manifest's canonical bytes: two-space indented JSON
// with sorted map keys and a final newline.
func (m *Manifest) Encode() ([]byte, error) {
	return encodeJSON(m)
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Titles and descriptions may contain <, > and &: keep them readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// reserved are the top-level files Prepare (re)writes; a previous Prepare's
// copies are ignored when scanning, so Prepare can run twice.
var reserved = map[string]bool{ManifestFile: true, SumsFile: true, ReadmeFile: true, LicenceFile: true, CroissantFile: true}

// tableInfo is what Prepare learns about one table for the card.
type tableInfo struct {
	name    string
	totals  TableTotals
	columns []column
	parts   []string // distinct partitions, sorted
}

// Prepare writes LICENSE, README.md, manifest.json and SHA256SUMS into the
// staging directory dir (in that order, since each covers the ones before)
// and returns the manifest. The output depends only on dir's contents and
// meta, never on the clock or on dir's own path.
func Prepare(dir string, meta Meta) (*Manifest, error) {
	if err := validateMeta(meta); err != nil {
		return nil, err
	}
	files, tables, err := scanStaging(dir)
	if err != nil {
		return nil, err
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("prepare %s: no Parquet tables found (expected <table>/[date=YYYY-MM-DD/]*.parquet); did the export write anything?", dir)
	}
	m := newManifest(meta)
	for _, t := range tables {
		t.totals.Columns = exportColumns(t.columns)
		m.Tables[t.name] = t.totals
		m.Rows += t.totals.Rows
		m.Bytes += t.totals.Bytes
	}

	lic := licenceText(m)
	readme := renderCard(m, tables)
	croissant, err := renderCroissant(m, tables, files)
	if err != nil {
		return nil, fmt.Errorf("prepare: %s: %w", CroissantFile, err)
	}
	for _, gen := range []struct {
		name string
		data []byte
	}{{LicenceFile, lic}, {ReadmeFile, readme}, {CroissantFile, croissant}} {
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
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), mb, 0o644); err != nil {
		return nil, fmt.Errorf("prepare: write %s: %w", ManifestFile, err)
	}
	sums := append(append([]File(nil), files...), fileOf(ManifestFile, mb))
	sort.Slice(sums, func(i, j int) bool { return sums[i].Path < sums[j].Path })
	var sb strings.Builder
	for _, f := range sums {
		// GNU coreutils text format: hash, two spaces, path.
		fmt.Fprintf(&sb, "%s  %s\n", f.SHA256, f.Path)
	}
	if err := os.WriteFile(filepath.Join(dir, SumsFile), []byte(sb.String()), 0o644); err != nil {
		return nil, fmt.Errorf("prepare: write %s: %w", SumsFile, err)
	}
	return m, nil
}

func validateMeta(meta Meta) error {
	var errs []error
	if err := ValidateName("dataset", meta.Dataset); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateName("version", meta.Version); err != nil {
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

func newManifest(meta Meta) *Manifest {
	id, name, url := licenceInfo(meta.Licence)
	m := &Manifest{
		FormatVersion:  FormatVersion,
		Dataset:        meta.Dataset,
		Version:        meta.Version,
		Title:          meta.Title,
		Description:    meta.Description,
		Licence:        id,
		LicenceName:    name,
		LicenceURL:     url,
		Citation:       meta.Citation,
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
		Tables:         map[string]TableTotals{},
	}
	// Empty collections encode as [] / {}, never null, so readers need no special case.
	if m.Features == nil {
		m.Features = []FeatureInfo{}
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

func fileOf(name string, data []byte) File {
	sum := sha256.Sum256(data)
	return File{Path: name, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data))}
}

// scanStaging hashes every file under dir (except the reserved top-level
// files) and reads the Parquet footers. Files directly under a top-level
// directory, or one partition directory below it, belong to that table.
func scanStaging(dir string) ([]File, []*tableInfo, error) {
	var files []File
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

// validatePath rejects names that sha256sum would escape or that could
// escape the version directory.
func validatePath(rel string) error {
	for _, seg := range strings.Split(rel, "/") {
		if err := checkSegment(seg); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	}
	return nil
}

func hashFile(p, rel string) (File, []column, error) {
	fh, err := os.Open(p)
	if err != nil {
		return File{}, nil, err
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return File{}, nil, fmt.Errorf("%s: read: %w", rel, err)
	}
	f := File{Path: rel, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n}
	if path.Ext(rel) != ".parquet" {
		return f, nil, nil
	}
	pf, err := parquet.OpenFile(fh, n, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return File{}, nil, fmt.Errorf("%s: not a readable Parquet file: %w", rel, err)
	}
	rows := pf.NumRows()
	f.Rows = &rows
	return f, describeSchema(pf.Schema()), nil
}
