package runner

import (
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// withCitation copies the spec's citation metadata into a version's meta.
// The spec validated ORCIDs and the DOI; they are stored bare.
func withCitation(m publish.Meta, s *spec.Spec) publish.Meta {
	for _, c := range s.Creators {
		orcid, _ := spec.ORCIDOf(c.ORCID) // "" when unset
		m.Creators = append(m.Creators, schemas.Creator{Name: c.Name, GivenNames: c.GivenNames, FamilyNames: c.FamilyNames, ORCID: orcid, Affiliation: c.Affiliation})
	}
	if s.Publisher.Name != "" {
		m.Publisher = &schemas.Publisher{Name: s.Publisher.Name, URL: s.Publisher.URL, Email: s.Publisher.Email}
	}
	m.Keywords = append([]string(nil), s.Keywords...)
	for _, f := range s.Funding {
		m.Funding = append(m.Funding, schemas.Funding{Funder: f.Funder, Award: f.Award})
	}
	if s.DOI != "" {
		m.DOI, _ = spec.DOIOf(s.DOI)
	}
	m.DatePublished = s.DatePublished
	return m
}
