package schemas

import (
	"strings"
	"testing"
	"time"
)

func citedManifest() *Manifest {
	return &Manifest{
		Dataset: "acme-ops", Version: "2026-01-05_2026-01-06", Title: "ACME ops & incidents", Licence: "CC-BY-4.0",
		From: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC),
		Creators: []Creator{
			{Name: "Josiah Carberry", GivenNames: "Josiah", FamilyNames: "Carberry", ORCID: "0000-0002-1825-0097", Affiliation: "Brown University"},
			{Name: "ACME Cloud Ops Team"},
		},
		Publisher: &Publisher{Name: "ACME Cloud", URL: "https://ops.example.org"},
		Keywords:  []string{"AIOps"},
		Funding:   []Funding{{Funder: "Example Foundation", Award: "EF-1"}},
		DOI:       "10.5281/zenodo.1234567",
	}
}

func TestCitation(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*Manifest)
		render func(*Manifest) string
		want   []string
	}{
		{"bibtex", func(*Manifest) {}, RenderBibTeX, []string{
			"@misc{acme_ops_20260105_20260106,\n",
			"  author    = {Carberry, Josiah and {ACME Cloud Ops Team}},\n",
			"  title     = {{ACME ops \\& incidents}},\n",
			"  year      = {2026},\n  month     = jan,\n",
			"  doi       = {10.5281/zenodo.1234567},\n  url       = {https://doi.org/10.5281/zenodo.1234567},\n",
			"  note      = {Dataset, licence CC-BY-4.0; funded by Example Foundation (EF-1)}\n}\n",
		}},
		{"bibtex without creators cites the publisher", func(m *Manifest) { m.Creators = nil }, RenderBibTeX, []string{"author    = {{ACME Cloud}}"}},
		{"bibtex without anyone cites the title", func(m *Manifest) { m.Creators, m.Publisher = nil, nil }, RenderBibTeX, []string{"author    = {{ACME ops \\& incidents}}"}},
		{"date from the spec", func(m *Manifest) { m.DatePublished = "2026-03-02" }, RenderBibTeX, []string{"year      = {2026},\n  month     = mar,"}},
		{"cff", func(*Manifest) {}, func(m *Manifest) string { b, _ := RenderCitationCFF(m); return string(b) }, []string{
			"cff-version: 1.2.0\n", "type: dataset\n", "date-released: \"2026-01-06\"\n", "doi: 10.5281/zenodo.1234567\n",
			"license: CC-BY-4.0\n", "url: https://ops.example.org\n",
			"    - given-names: Josiah\n      family-names: Carberry\n      affiliation: Brown University\n      orcid: https://orcid.org/0000-0002-1825-0097\n",
			"    - name: ACME Cloud Ops Team\n",
			"identifiers:\n    - type: doi\n      value: 10.5281/zenodo.1234567\n",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := citedManifest()
			tc.edit(m)
			got := tc.render(m)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			if again := tc.render(m); again != got {
				t.Error("rendering is not deterministic")
			}
		})
	}
}
