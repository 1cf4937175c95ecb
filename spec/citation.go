package spec

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Creator is an author of the dataset (a person or an organization).
type Creator struct {
	// Name is the display name: "Ada Lovelace" or "ACME Cloud Ops Team".
	Name string `yaml:"name"`
	// GivenNames and FamilyNames split a person's name for CITATION.cff
	// and BibTeX; without FamilyNames the creator is cited as an entity
	// under Name.
	GivenNames  string `yaml:"given_names"`
	FamilyNames string `yaml:"family_names"`
	// ORCID is a person's ORCID iD, 0000-0002-1825-0097 (or its https://orcid.org/ URL).
	ORCID       string `yaml:"orcid"`
	Affiliation string `yaml:"affiliation"`
}

// Publisher is who makes the dataset available (and takes reports about it).
type Publisher struct {
	Name  string `yaml:"name"`
	URL   string `yaml:"url"`
	Email string `yaml:"email"`
}

// Funding is one grant or funder that supported the dataset.
type Funding struct {
	Funder string `yaml:"funder"`
	Award  string `yaml:"award"` // grant number or name; optional
}

var (
	orcidRe = regexp.MustCompile(`^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$`)
	doiRe   = regexp.MustCompile(`^10\.\d{4,9}/\S+$`)
)

// ORCIDOf returns the bare iD of an ORCID (a URL or the iD itself), or an
// error when it is malformed or its ISO 7064 MOD 11-2 check digit is wrong.
func ORCIDOf(s string) (string, error) {
	id := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "https://orcid.org/"), "http://orcid.org/")
	if !orcidRe.MatchString(id) {
		return "", fmt.Errorf("%q is not an ORCID iD (0000-0002-1825-0097)", s)
	}
	total := 0
	digits := strings.ReplaceAll(id, "-", "")
	for _, c := range digits[:15] {
		total = (total + int(c-'0')) * 2
	}
	check := (12 - total%11) % 11
	want := byte('0' + check)
	if check == 10 {
		want = 'X'
	}
	if digits[15] != want {
		return "", fmt.Errorf("ORCID iD %s: check digit is %c, want %c", id, digits[15], want)
	}
	return id, nil
}

// DOIOf returns the bare DOI (10.xxxx/...) of a DOI or its https://doi.org/ URL.
func DOIOf(s string) (string, error) {
	d := strings.TrimSpace(s)
	for _, p := range []string{"https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"} {
		d = strings.TrimPrefix(d, p)
	}
	if !doiRe.MatchString(d) {
		return "", fmt.Errorf("%q is not a DOI (10.NNNN/suffix)", s)
	}
	return d, nil
}

// validateCitation checks the citation keys (creators, publisher,
// keywords, funding, doi, date_published).
func (s *Spec) validateCitation(add func(string, ...any)) {
	for i, c := range s.Creators {
		if strings.TrimSpace(c.Name) == "" {
			add("creators[%d].name: required", i)
		}
		if c.GivenNames != "" && c.FamilyNames == "" {
			add("creators[%d]: given_names without family_names", i)
		}
		if c.ORCID != "" {
			if _, err := ORCIDOf(c.ORCID); err != nil {
				add("creators[%d].orcid: %v", i, err)
			}
		}
	}
	if (s.Publisher.URL != "" || s.Publisher.Email != "") && strings.TrimSpace(s.Publisher.Name) == "" {
		add("publisher.name: required when publisher has a url or email")
	}
	if u := s.Publisher.URL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		add("publisher.url: %q must be an http(s) URL", u)
	}
	for i, k := range s.Keywords {
		if strings.TrimSpace(k) == "" {
			add("keywords[%d]: empty", i)
		}
	}
	for i, f := range s.Funding {
		if strings.TrimSpace(f.Funder) == "" {
			add("funding[%d].funder: required", i)
		}
	}
	if s.DOI != "" {
		if _, err := DOIOf(s.DOI); err != nil {
			add("doi: %v", err)
		}
	}
	if s.DatePublished != "" {
		if _, err := time.Parse(time.DateOnly, s.DatePublished); err != nil {
			add("date_published: %q must be a date YYYY-MM-DD", s.DatePublished)
		}
	}
}
