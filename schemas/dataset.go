package schemas

// The published dataset's metadata contract: the manifest of a version, the
// catalog of a dataset and its pointers, and the names of their objects.
// publish writes them; pull, ls and inspect read them; nothing here does I/O.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"
)

// Names of the files at the top of a version.
const (
	ManifestFile = "manifest.json"
	SumsFile     = "SHA256SUMS"
	ReadmeFile   = "README.md"
	LicenceFile  = "LICENSE"
)

// StateDir is the directory under <prefix>/<dataset>/ where runs keep
// operational state (input fingerprints): never a version, never listed by
// the catalog, never published content.
const StateDir = "_state"

// Directories under <prefix>/<dataset>/ that nightly datasets keep beside
// their snapshots: content-addressed parts and the current view.
const (
	PartsDir   = "parts"
	CurrentDir = "current"
)

// IsReservedDir reports whether a directory under <prefix>/<dataset>/ is
// opsdata's own (state, parts, current view) and never a version.
func IsReservedDir(name string) bool {
	return name == StateDir || name == PartsDir || name == CurrentDir
}

// Names of the pointer objects under <prefix>/<dataset>/.
const (
	CatalogFile    = "catalog.json"
	LatestFile     = "latest"
	LatestJSONFile = "latest.json"
)

// InputProblems reports the malformed records of one input (a log source,
// a ticket source) in the manifest's bad_input.
type InputProblems struct {
	Count    int64            `json:"count"`
	Reasons  map[string]int64 `json:"reasons"`
	Examples []string         `json:"examples"`
}

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
	// Object, when set, is the key of the file's bytes relative to the
	// dataset directory: a nightly snapshot's files are shared,
	// content-addressed parts (parts/...), not copies under the snapshot.
	// Readers fetch Object and store it as Path.
	Object string `json:"object,omitempty"`
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
	FormatVersion int    `json:"format_version"`
	Dataset       string `json:"dataset"`
	Version       string `json:"version"`
	Title         string `json:"title"`
	Description   string `json:"description"`
	Licence       string `json:"licence"`
	LicenceName   string `json:"licence_name"`
	LicenceURL    string `json:"licence_url"`
	Citation      string `json:"citation"`
	// PublicURL is where the output is served over HTTPS, when published:
	// the version is at PublicURL/<dataset>/<version>/.
	PublicURL string `json:"public_url,omitempty"`
	// Citation metadata from the spec (schemas/citation.go); empty ones are omitted.
	Creators  []Creator  `json:"creators,omitempty"`
	Publisher *Publisher `json:"publisher,omitempty"`
	Keywords  []string   `json:"keywords,omitempty"`
	Funding   []Funding  `json:"funding,omitempty"`
	DOI       string     `json:"doi,omitempty"`
	// DatePublished is the spec's date_published (YYYY-MM-DD), if any; see PublishedDate.
	DatePublished string `json:"date_published,omitempty"`
	// Split is the benchmark split policy of the windows table's split column; nil without one.
	Split *SplitPolicy `json:"split,omitempty"`
	// Baselines are the spec's baseline scores (baselines.go); nil without them.
	Baselines *ManifestBaselines `json:"baselines,omitempty"`
	From      time.Time          `json:"from"`
	To        time.Time          `json:"to"`
	// Window is a Go duration string ("1m0s"); WindowSeconds the same in seconds.
	Window         string                   `json:"window"`
	WindowSeconds  float64                  `json:"window_seconds"`
	EntityKind     string                   `json:"entity_kind"`
	SpecDigest     string                   `json:"spec_digest"`
	CodeVersion    string                   `json:"code_version"`
	KeyEpoch       string                   `json:"key_epoch"`
	SchemaVersions map[string]string        `json:"schema_versions"`
	Features       []FeatureInfo            `json:"features"`
	Labels         LabelSummary             `json:"labels"`
	BadInput       map[string]InputProblems `json:"bad_input"`
	Anonymization  map[string]int64         `json:"anonymization"`
	// Rows and Bytes total the tables' files.
	Rows   int64                  `json:"rows"`
	Bytes  int64                  `json:"bytes"`
	Tables map[string]TableTotals `json:"tables"`
	// Files lists every file of the version except manifest.json and
	// SHA256SUMS (written after it), sorted by path.
	Files []File `json:"files"`
	// Changelog is set on nightly snapshots: what changed since the
	// previous snapshot, and why.
	Changelog *Changelog `json:"changelog,omitempty"`
}

// Changelog says what a nightly snapshot changed against the one before.
type Changelog struct {
	// Previous is the snapshot this one was compared with ("" for the first).
	Previous string `json:"previous"`
	// Watermark is the end (exclusive, UTC midnight) of the days covered.
	Watermark time.Time `json:"watermark"`
	// Added lists the new days (YYYY-MM-DD); Changed the days already
	// published whose files changed, each with the reasons.
	Added   []string    `json:"added"`
	Changed []DayChange `json:"changed"`
}

// DayChange is one republished day of a changelog.
type DayChange struct {
	Date string `json:"date"`
	// Tables names the day's tables whose content changed (windows, logs, ...).
	Tables []string `json:"tables"`
	// Reasons are sentences such as "ticket OPS-123 created 2 days after impact".
	Reasons []string `json:"reasons"`
}

// Encode returns the manifest's canonical bytes: two-space indented JSON
// with sorted map keys and a final newline.
func (m *Manifest) Encode() ([]byte, error) {
	return EncodeJSON(m)
}

// EncodeJSON is the canonical encoding of every metadata file: two-space
// indented, sorted map keys, HTML left unescaped, a final newline.
func EncodeJSON(v any) ([]byte, error) {
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

// CroissantFile is the Croissant 1.0 (JSON-LD) description of a version,
// written by Prepare next to README.md so SHA256SUMS and the manifest cover it.
const CroissantFile = "croissant.json"

// Column is one top-level column of a table as the manifest, the card, the
// catalog page and croissant.json describe it.
type Column struct {
	Name string `json:"name"`
	// Type is a reader-friendly Parquet type, e.g. "timestamp[ms, UTC]",
	// "double", "list<string>".
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// Catalog lists every visible version of a dataset.
type Catalog struct {
	FormatVersion int    `json:"format_version"`
	Dataset       string `json:"dataset"`
	Title         string `json:"title"`
	// Latest is the newest version, the last of Versions.
	Latest   string         `json:"latest"`
	Versions []CatalogEntry `json:"versions"`
}

// CatalogEntry summarizes one version from its manifest.
type CatalogEntry struct {
	Version        string            `json:"version"`
	From           time.Time         `json:"from"`
	To             time.Time         `json:"to"`
	Window         string            `json:"window"`
	Rows           int64             `json:"rows"`
	Bytes          int64             `json:"bytes"`
	Licence        string            `json:"licence"`
	KeyEpoch       string            `json:"key_epoch"`
	SchemaVersions map[string]string `json:"schema_versions"`
	// Manifest is the manifest's key relative to the dataset directory.
	Manifest       string `json:"manifest"`
	ManifestSHA256 string `json:"manifest_sha256"`
	// Changelog is the snapshot's changelog (nightly snapshots only).
	Changelog *Changelog `json:"changelog,omitempty"`
}

// LatestPointer is latest.json.
type LatestPointer struct {
	Dataset        string `json:"dataset"`
	Version        string `json:"version"`
	Manifest       string `json:"manifest"`
	ManifestSHA256 string `json:"manifest_sha256"`
}

// ValidateName checks a dataset or version name: [A-Za-z0-9._-]+, not "."
// or "..", at most 128 bytes. what names the field for the error.
func ValidateName(what, name string) error {
	err := CheckSegment(name)
	if err == nil && strings.Contains(name, "=") {
		err = fmt.Errorf("character '=' not allowed; use [A-Za-z0-9._-]")
	}
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, name, err)
	}
	return nil
}

// CheckSegment checks one path segment of an object key. The same rule
// keeps keys portable across S3 and filesystems and keeps SHA256SUMS in the
// plain (unescaped) coreutils format. '=' is allowed for Hive partitions.
func CheckSegment(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%q is not allowed", s)
	}
	if len(s) > 128 {
		return fmt.Errorf("longer than 128 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '='
		if !ok {
			return fmt.Errorf("character %q not allowed; use [A-Za-z0-9._=-]", c)
		}
	}
	return nil
}

// ValidatePrefix accepts "" or slash-separated valid segments.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	for _, seg := range strings.Split(prefix, "/") {
		if err := CheckSegment(seg); err != nil {
			return fmt.Errorf("prefix %q: %w", prefix, err)
		}
	}
	return nil
}

// Key joins a prefix and segments into an object key.
func Key(prefix string, segs ...string) string {
	return path.Join(append([]string{prefix}, segs...)...)
}
