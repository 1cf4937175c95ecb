package schemas

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// CitationFile is the Citation File Format file of every version.
const CitationFile = "CITATION.cff"

// Creator is an author of a dataset, as the manifest records it.
type Creator struct {
	Name        string `json:"name"`
	GivenNames  string `json:"given_names,omitempty"`
	FamilyNames string `json:"family_names,omitempty"`
	// ORCID is the bare iD (0000-0002-1825-0097).
	ORCID       string `json:"orcid,omitempty"`
	Affiliation string `json:"affiliation,omitempty"`
}

// Person reports whether the creator is cited as a person (family names
// known) rather than as an entity (an organization, or a name not split).
func (c Creator) Person() bool { return c.FamilyNames != "" }

// ORCIDURL is the creator's ORCID as a URL, or "".
func (c Creator) ORCIDURL() string {
	if c.ORCID == "" {
		return ""
	}
	return "https://orcid.org/" + c.ORCID
}

// Publisher is who makes a dataset available.
type Publisher struct {
	Name  string `json:"name"`
	URL   string `json:"url,omitempty"`
	Email string `json:"email,omitempty"`
}

// Funding is one funder (and award) that supported a dataset.
type Funding struct {
	Funder string `json:"funder"`
	Award  string `json:"award,omitempty"`
}

// PublishedDate is the date a version is cited with: the spec's
// date_published, else the date of the version's range end (the earliest
// day it can have been published). Never the clock, so re-runs are
// byte-identical.
func (m *Manifest) PublishedDate() string {
	if m.DatePublished != "" {
		return m.DatePublished
	}
	return m.To.UTC().Format(time.DateOnly)
}

// DisplayTitle is the title, or the dataset name without one.
func (m *Manifest) DisplayTitle() string {
	if m.Title != "" {
		return m.Title
	}
	return m.Dataset
}

// cff is CITATION.cff, version 1.2.0 (https://citation-file-format.github.io).
type cff struct {
	CFFVersion   string          `yaml:"cff-version"`
	Message      string          `yaml:"message"`
	Type         string          `yaml:"type"`
	Title        string          `yaml:"title"`
	Version      string          `yaml:"version"`
	DateReleased string          `yaml:"date-released"`
	DOI          string          `yaml:"doi,omitempty"`
	License      string          `yaml:"license"`
	URL          string          `yaml:"url,omitempty"`
	Abstract     string          `yaml:"abstract,omitempty"`
	Keywords     []string        `yaml:"keywords,omitempty"`
	Authors      []cffAuthor     `yaml:"authors"`
	Identifiers  []cffIdentifier `yaml:"identifiers,omitempty"`
}

type cffAuthor struct {
	GivenNames  string `yaml:"given-names,omitempty"`
	FamilyNames string `yaml:"family-names,omitempty"`
	Name        string `yaml:"name,omitempty"`
	Affiliation string `yaml:"affiliation,omitempty"`
	ORCID       string `yaml:"orcid,omitempty"`
	Email       string `yaml:"email,omitempty"`
	Website     string `yaml:"website,omitempty"`
}

type cffIdentifier struct {
	Type        string `yaml:"type"`
	Value       string `yaml:"value"`
	Description string `yaml:"description,omitempty"`
}

// CitationAuthors are the version's authors as cited: its creators, else
// its publisher, else the dataset's title (a citation needs an author).
func (m *Manifest) CitationAuthors() []Creator {
	if len(m.Creators) > 0 {
		return m.Creators
	}
	if m.Publisher != nil && m.Publisher.Name != "" {
		return []Creator{{Name: m.Publisher.Name}}
	}
	return []Creator{{Name: m.DisplayTitle()}}
}

// RenderCitationCFF is the version's CITATION.cff. Funding has no key in
// CFF 1.2.0; it is in the card, the BibTeX note and Croissant.
func RenderCitationCFF(m *Manifest) ([]byte, error) {
	c := cff{
		CFFVersion:   "1.2.0",
		Message:      "If you use this dataset, please cite it using the metadata from this file.",
		Type:         "dataset",
		Title:        m.DisplayTitle(),
		Version:      m.Version,
		DateReleased: m.PublishedDate(),
		DOI:          m.DOI,
		License:      m.Licence,
		Abstract:     strings.TrimSpace(m.Description),
		Keywords:     m.Keywords,
	}
	if m.Publisher != nil {
		c.URL = m.Publisher.URL
	}
	for _, a := range m.CitationAuthors() {
		ca := cffAuthor{Affiliation: a.Affiliation, ORCID: a.ORCIDURL()}
		if a.Person() {
			ca.GivenNames, ca.FamilyNames = a.GivenNames, a.FamilyNames
		} else {
			ca.Name = a.Name
		}
		c.Authors = append(c.Authors, ca)
	}
	if m.DOI != "" {
		c.Identifiers = []cffIdentifier{{Type: "doi", Value: m.DOI, Description: "The dataset's DOI."}}
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", CitationFile, err)
	}
	return append([]byte("# "+CitationFile+" of "+m.Dataset+" version "+m.Version+", written by opsdata.\n"), out...), nil
}

// BibTeXKey is the entry key: the dataset name and the version, in
// letters, digits and underscores.
func (m *Manifest) BibTeXKey() string {
	key := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, m.Dataset)
	return key + "_" + strings.ReplaceAll(m.Version, "-", "")
}

// RenderBibTeX is the version's BibTeX entry (@misc, which every style
// knows; biblatex users may change it to @dataset).
func RenderBibTeX(m *Manifest) string {
	var authors []string
	for _, a := range m.CitationAuthors() {
		if a.Person() {
			authors = append(authors, bibEscape(a.FamilyNames)+", "+bibEscape(a.GivenNames))
		} else {
			authors = append(authors, "{"+bibEscape(a.Name)+"}") // braces: an entity is not split into names
		}
	}
	date := m.PublishedDate()
	fields := [][2]string{
		{"author", strings.Join(authors, " and ")},
		{"title", "{" + bibEscape(m.DisplayTitle()) + "}"},
		{"year", date[:4]},
		{"month", ""}, // a BibTeX month macro, unbraced: below
		{"version", bibEscape(m.Version)},
	}
	if m.Publisher != nil && m.Publisher.Name != "" {
		fields = append(fields, [2]string{"publisher", bibEscape(m.Publisher.Name)})
	}
	if m.DOI != "" {
		fields = append(fields, [2]string{"doi", m.DOI}, [2]string{"url", "https://doi.org/" + m.DOI})
	} else if m.Publisher != nil && m.Publisher.URL != "" {
		fields = append(fields, [2]string{"url", m.Publisher.URL})
	}
	if len(m.Keywords) > 0 {
		fields = append(fields, [2]string{"keywords", bibEscape(strings.Join(m.Keywords, ", "))})
	}
	note := "Dataset, licence " + m.Licence
	if len(m.Funding) > 0 {
		var fs []string
		for _, f := range m.Funding {
			s := f.Funder
			if f.Award != "" {
				s += " (" + f.Award + ")"
			}
			fs = append(fs, s)
		}
		note += "; funded by " + strings.Join(fs, ", ")
	}
	fields = append(fields, [2]string{"note", bibEscape(note)})
	var b strings.Builder
	fmt.Fprintf(&b, "@misc{%s,\n", m.BibTeXKey())
	for i, f := range fields {
		sep := ","
		if i == len(fields)-1 {
			sep = ""
		}
		if f[0] == "month" {
			fmt.Fprintf(&b, "  %-9s = %s%s\n", f[0], monthOf(date), sep)
			continue
		}
		fmt.Fprintf(&b, "  %-9s = {%s}%s\n", f[0], f[1], sep)
	}
	b.WriteString("}\n")
	return b.String()
}

func monthOf(date string) string {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return ""
	}
	return strings.ToLower(t.Month().String()[:3])
}

// bibEscape escapes BibTeX's special characters in a field value.
func bibEscape(s string) string {
	r := strings.NewReplacer(`\`, `\textbackslash{}`, "{", `\{`, "}", `\}`, "&", `\&`, "%", `\%`, "$", `\$`, "#", `\#`, "_", `\_`)
	return r.Replace(strings.TrimSpace(s))
}
