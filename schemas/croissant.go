package schemas

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// croissantContext is the @context of Croissant 1.0 (the spec's example
// context, https://docs.mlcommons.org/croissant/docs/croissant-spec.html).
var croissantContext = map[string]any{
	"@language":          "en",
	"@vocab":             "https://schema.org/",
	"citeAs":             "cr:citeAs",
	"column":             "cr:column",
	"conformsTo":         "dct:conformsTo",
	"cr":                 "http://mlcommons.org/croissant/",
	"rai":                "http://mlcommons.org/croissant/RAI/",
	"data":               map[string]string{"@id": "cr:data", "@type": "@json"},
	"dataType":           map[string]string{"@id": "cr:dataType", "@type": "@vocab"},
	"equivalentProperty": "cr:equivalentProperty",
	"samplingRate":       "cr:samplingRate",
	"dct":                "http://purl.org/dc/terms/",
	"examples":           map[string]string{"@id": "cr:examples", "@type": "@json"},
	"extract":            "cr:extract",
	"field":              "cr:field",
	"fileProperty":       "cr:fileProperty",
	"fileObject":         "cr:fileObject",
	"fileSet":            "cr:fileSet",
	"format":             "cr:format",
	"includes":           "cr:includes",
	"isLiveDataset":      "cr:isLiveDataset",
	"jsonPath":           "cr:jsonPath",
	"key":                "cr:key",
	"md5":                "cr:md5",
	"parentField":        "cr:parentField",
	"path":               "cr:path",
	"recordSet":          "cr:recordSet",
	"references":         "cr:references",
	"regex":              "cr:regex",
	"repeated":           "cr:repeated",
	"replace":            "cr:replace",
	"sc":                 "https://schema.org/",
	"separator":          "cr:separator",
	"source":             "cr:source",
	"subField":           "cr:subField",
	"transform":          "cr:transform",
}

type crDataset struct {
	Context          map[string]any `json:"@context"`
	Type             string         `json:"@type"`
	ConformsTo       string         `json:"conformsTo"`
	Name             string         `json:"name"`
	AlternateName    string         `json:"alternateName,omitempty"`
	Description      string         `json:"description"`
	License          string         `json:"license"`
	Version          string         `json:"version"`
	CiteAs           string         `json:"citeAs,omitempty"`
	Creator          []crAgent      `json:"creator"`
	Publisher        *crAgent       `json:"publisher,omitempty"`
	DatePublished    string         `json:"datePublished"`
	Identifier       string         `json:"identifier,omitempty"`
	Funding          []crGrant      `json:"funding,omitempty"`
	Keywords         []string       `json:"keywords"`
	TemporalCoverage string         `json:"temporalCoverage"`
	Distribution     []any          `json:"distribution"`
	RecordSet        []crRecordSet  `json:"recordSet"`
}

// crAgent is a schema.org Person or Organization.
type crAgent struct {
	Type        string   `json:"@type"`
	Name        string   `json:"name"`
	GivenName   string   `json:"givenName,omitempty"`
	FamilyName  string   `json:"familyName,omitempty"`
	Identifier  string   `json:"identifier,omitempty"` // ORCID URL
	URL         string   `json:"url,omitempty"`
	Email       string   `json:"email,omitempty"`
	Affiliation *crAgent `json:"affiliation,omitempty"`
}

type crGrant struct {
	Type       string  `json:"@type"`
	Name       string  `json:"name"`
	Identifier string  `json:"identifier,omitempty"`
	Funder     crAgent `json:"funder"`
}

// croissantCitation fills the dataset's creator, publisher, datePublished,
// identifier (DOI), funding and keywords from the manifest; citeAs is the
// BibTeX entry (Croissant recommends BibTeX there).
func croissantCitation(d *crDataset, m *Manifest) {
	d.CiteAs = RenderBibTeX(m)
	d.DatePublished = m.PublishedDate()
	d.Creator = []crAgent{}
	for _, c := range m.CitationAuthors() {
		a := crAgent{Type: "sc:Organization", Name: c.Name, Identifier: c.ORCIDURL()}
		if c.Person() || c.ORCID != "" {
			a.Type, a.GivenName, a.FamilyName = "sc:Person", c.GivenNames, c.FamilyNames
		}
		if c.Affiliation != "" {
			a.Affiliation = &crAgent{Type: "sc:Organization", Name: c.Affiliation}
		}
		d.Creator = append(d.Creator, a)
	}
	if p := m.Publisher; p != nil && p.Name != "" {
		d.Publisher = &crAgent{Type: "sc:Organization", Name: p.Name, URL: p.URL, Email: p.Email}
	}
	if m.DOI != "" {
		d.Identifier = "https://doi.org/" + m.DOI
	}
	for _, f := range m.Funding {
		name := f.Funder
		if f.Award != "" {
			name += " " + f.Award
		}
		d.Funding = append(d.Funding, crGrant{Type: "sc:Grant", Name: name, Identifier: f.Award, Funder: crAgent{Type: "sc:Organization", Name: f.Funder}})
	}
	seen := map[string]bool{}
	for _, k := range d.Keywords {
		seen[strings.ToLower(k)] = true
	}
	for _, k := range m.Keywords {
		if !seen[strings.ToLower(k)] {
			d.Keywords = append(d.Keywords, k)
			seen[strings.ToLower(k)] = true
		}
	}
}

type crFileObject struct {
	Type           string `json:"@type"`
	ID             string `json:"@id"`
	Name           string `json:"name"`
	ContentURL     string `json:"contentUrl"`
	ContentSize    string `json:"contentSize"`
	EncodingFormat string `json:"encodingFormat"`
	SHA256         string `json:"sha256"`
}

type crFileSet struct {
	Type           string `json:"@type"`
	ID             string `json:"@id"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	EncodingFormat string `json:"encodingFormat"`
	Includes       string `json:"includes"`
}

type crRecordSet struct {
	Type        string    `json:"@type"`
	ID          string    `json:"@id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Field       []crField `json:"field"`
}

type crField struct {
	Type        string   `json:"@type"`
	ID          string   `json:"@id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	DataType    string   `json:"dataType"`
	Repeated    bool     `json:"repeated,omitempty"`
	Source      crSource `json:"source"`
}

type crSource struct {
	FileSet   map[string]string `json:"fileSet"`
	Extract   map[string]string `json:"extract"`
	Transform map[string]string `json:"transform,omitempty"`
}

// RenderCroissant describes the version in Croissant 1.0: one cr:FileObject
// per data file of files (with its sha256), one cr:FileSet per table of
// m.Tables (a glob over its files) and one cr:RecordSet per table whose
// fields read the FileSet's columns (m.Tables[t].Columns). Paths are
// relative to the version directory, so the file works wherever the version
// is copied (bucket, `opsdata pull` target). It reads only m and files:
// publish renders a version's, pull a partial pull's (decision 0030).
func RenderCroissant(m *Manifest, files []File) ([]byte, error) {
	d := crDataset{
		Context:          croissantContext,
		Type:             "sc:Dataset",
		ConformsTo:       "http://mlcommons.org/croissant/1.0",
		Name:             m.Dataset,
		AlternateName:    m.Title,
		Description:      croissantDescription(m),
		License:          m.LicenceURL,
		Version:          SemverOf(m),
		Keywords:         []string{"AIOps", "operations data", "incident prediction", "time series", "logs"},
		TemporalCoverage: m.From.UTC().Format(time.RFC3339) + "/" + m.To.UTC().Format(time.RFC3339),
		Distribution:     []any{},
		RecordSet:        []crRecordSet{},
	}
	croissantCitation(&d, m)
	for _, f := range files {
		if f.Table == "" || !strings.HasSuffix(f.Path, ".parquet") {
			continue
		}
		d.Distribution = append(d.Distribution, crFileObject{
			Type: "cr:FileObject", ID: f.Path, Name: f.Path, ContentURL: f.Path,
			ContentSize: strconv.FormatInt(f.Bytes, 10) + " B", EncodingFormat: "application/x-parquet", SHA256: f.SHA256,
		})
	}
	for _, name := range sortedTableNames(m) {
		t := m.Tables[name]
		fsID := name + "-files"
		noun := "files"
		if t.Files == 1 {
			noun = "file"
		}
		d.Distribution = append(d.Distribution, crFileSet{
			Type: "cr:FileSet", ID: fsID, Name: fsID,
			Description:    fmt.Sprintf("The Parquet files of table %s (%d %s).", name, t.Files, noun),
			EncodingFormat: "application/x-parquet", Includes: TableGlob(files, name),
		})
		rs := crRecordSet{Type: "cr:RecordSet", ID: name, Name: name, Description: TableDescriptions[name], Field: []crField{}}
		for _, c := range t.Columns {
			dt, rep := croissantType(c.Type)
			nul := ""
			if c.Nullable {
				nul = ", nullable"
			}
			rs.Field = append(rs.Field, crField{
				Type: "cr:Field", ID: name + "/" + c.Name, Name: c.Name,
				Description: fieldDescription(m, name, c.Name, "Parquet type "+c.Type+nul+"."),
				DataType:    dt, Repeated: rep,
				Source: crSource{FileSet: map[string]string{"@id": fsID}, Extract: map[string]string{"column": c.Name}},
			})
		}
		if TableGlob(files, name) != name+"/*.parquet" {
			// The Hive partition, typed as a date from the file's path.
			rs.Field = append(rs.Field, crField{
				Type: "cr:Field", ID: name + "/date", Name: "date",
				Description: fieldDescription(m, name, "date", "From the path, not a Parquet column."),
				DataType:    "sc:Date",
				Source: crSource{FileSet: map[string]string{"@id": fsID}, Extract: map[string]string{"fileProperty": "fullpath"},
					Transform: map[string]string{"regex": `^(?:.*/)?date=(\d{4}-\d{2}-\d{2})/[^/]*$`}},
			})
		}
		d.RecordSet = append(d.RecordSet, rs)
	}
	return EncodeJSON(d)
}

// fieldDescription is a Croissant field's description: what the column
// means, its unit, and how it is stored.
func fieldDescription(m *Manifest, table, column, storage string) string {
	d, ok := DescribeColumn(m, table, column)
	if column == "date" {
		d, ok = PartitionDoc, true
	}
	if !ok {
		return storage
	}
	s := d.Description
	if d.Unit != "" {
		s += " Unit: " + d.Unit + "."
	}
	return s + " " + storage
}

func cmpOr(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

func croissantDescription(m *Manifest) string {
	desc := strings.TrimSpace(m.Description)
	if desc != "" {
		desc += " "
	}
	return desc + fmt.Sprintf("Operations data (metrics, logs, tickets) in %s windows per %s, labelled with incidents, anonymized. Version %s, %s to %s UTC.",
		m.Window, cmpOr(m.EntityKind, "-"), m.Version, m.From.UTC().Format(time.RFC3339), m.To.UTC().Format(time.RFC3339))
}

// TableGlob is the glob matching a table's files (of files), relative to
// the version: <table>/*/*.parquet when they sit in partitions, else
// <table>/*.parquet.
func TableGlob(files []File, table string) string {
	for _, f := range files {
		if f.Table == table && f.Partition != "" {
			return table + "/*/*.parquet"
		}
	}
	return table + "/*.parquet"
}

func sortedTableNames(m *Manifest) []string {
	names := make([]string, 0, len(m.Tables))
	for n := range m.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// croissantType maps a Column.Type to a schema.org data type; list columns
// are repeated fields of their element type.
func croissantType(typ string) (dataType string, repeated bool) {
	if el, ok := strings.CutPrefix(typ, "list<"); ok {
		dt, _ := croissantType(strings.TrimSuffix(el, ">"))
		return dt, true
	}
	switch {
	case typ == "bool":
		return "sc:Boolean", false
	case typ == "double" || typ == "float":
		return "sc:Float", false
	case strings.HasPrefix(typ, "int") || strings.HasPrefix(typ, "uint"):
		return "sc:Integer", false
	case strings.HasPrefix(typ, "timestamp"):
		return "sc:DateTime", false
	case typ == "date":
		return "sc:Date", false
	}
	return "sc:Text", false
}

var semverRE = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)

// SemverOf maps a version to the semantic version croissant.json carries
// (docs/decisions/0012-pull-catalog-page-croissant.md): a version named like
// "1.2.3" or "v1.2.3" keeps that number; any other name (the runner's
// date-range names) becomes MAJOR.FROM.TO, where MAJOR is the highest major
// schema version of the tables (a breaking schema change bumps it) and FROM
// and TO are the range's UTC dates as YYYYMMDD, with the version name as
// build metadata (characters outside [0-9A-Za-z-] become '-') so two
// versions of the same range stay distinct: 2026-01-05_2026-01-08 becomes
// 1.20260105.20260108+2026-01-05-2026-01-08.
func SemverOf(m *Manifest) string {
	if g := semverRE.FindStringSubmatch(m.Version); g != nil {
		return g[1] + "." + g[2] + "." + g[3]
	}
	major := 1
	keys := make([]string, 0, len(m.SchemaVersions))
	for k := range m.SchemaVersions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		maj, _, _ := strings.Cut(m.SchemaVersions[k], ".")
		if n, err := strconv.Atoi(maj); err == nil && n > major {
			major = n
		}
	}
	from, to := m.From.UTC(), m.To.UTC()
	build := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return '-'
	}, m.Version)
	return fmt.Sprintf("%d.%s.%s+%s", major, from.Format("20060102"), to.Format("20060102"), build)
}
