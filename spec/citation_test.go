package spec

import (
	"errors"
	"strings"
	"testing"
)

const citationKeys = `creators:
  - {name: Josiah Carberry, given_names: Josiah, family_names: Carberry, orcid: 0000-0002-1825-0097, affiliation: Brown University}
  - {name: ACME Cloud Ops Team}
publisher: {name: ACME Cloud, url: https://ops.example.org, email: data@example.org}
keywords: [AIOps, incidents]
funding: [{funder: Example Foundation, award: EF-1}]
doi: https://doi.org/10.5281/zenodo.1234567
date_published: 2026-02-01
`

func TestCitationKeys(t *testing.T) {
	s, err := Parse("spec.yaml", []byte(minimal+citationKeys))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Creators) != 2 || s.Creators[0].ORCID != "0000-0002-1825-0097" || s.Publisher.Name != "ACME Cloud" ||
		len(s.Funding) != 1 || s.DatePublished != "2026-02-01" {
		t.Fatalf("citation keys not read: %+v", s)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"bad orcid check digit", "0000-0002-1825-0097", "0000-0002-1825-0098", "check digit"},
		{"orcid shape", "0000-0002-1825-0097", "1825-0097", "not an ORCID"},
		{"creator without name", "{name: ACME Cloud Ops Team}", "{affiliation: x}", "creators[1].name: required"},
		{"given without family", "{name: ACME Cloud Ops Team}", "{name: A B, given_names: A}", "given_names without family_names"},
		{"unknown creator key", "affiliation: Brown", "affilation: Brown", `unknown key "affilation"`},
		{"bad doi", "10.5281/zenodo.1234567", "zenodo.1234567", "not a DOI"},
		{"bad date", "2026-02-01", "Feb 2026", "date_published"},
		{"funder required", "{funder: Example Foundation, award: EF-1}", "{award: EF-1}", "funding[0].funder: required"},
		{"publisher url", "url: https://ops.example.org", "url: ops.example.org", "publisher.url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(minimal+citationKeys, tc.old, tc.new, 1)
			_, err := Parse("spec.yaml", []byte(in))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestORCIDAndDOI(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0000-0002-1825-0097", "0000-0002-1825-0097"},
		{"https://orcid.org/0000-0001-5109-3700", "0000-0001-5109-3700"},
		{"0000-0002-1694-233X", "0000-0002-1694-233X"},
	} {
		if got, err := ORCIDOf(tc.in); err != nil || got != tc.want {
			t.Errorf("ORCIDOf(%q) = %q, %v", tc.in, got, err)
		}
	}
	if got, err := DOIOf("doi:10.1000/xyz-1"); err != nil || got != "10.1000/xyz-1" {
		t.Errorf("DOIOf = %q, %v", got, err)
	}
}

func TestSplitKeys(t *testing.T) {
	ok := "split: {validation: 2026-01-06T00:00:00Z, test: 2026-01-07T00:00:00Z, embargo: 30m}\n"
	s, err := Parse("spec.yaml", []byte(minimal+ok))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Split.Enabled() || s.Split.Test.Day() != 7 {
		t.Fatalf("split not read: %+v", s.Split)
	}
	for _, tc := range []struct{ name, split, want string }{
		{"not midnight", "split: {test: 2026-01-07T06:00:00Z}\n", "UTC midnight"},
		{"backwards", "split: {validation: 2026-01-07T00:00:00Z, test: 2026-01-06T00:00:00Z}\n", "must be after split.validation"},
		{"embargo alone", "split: {embargo: 1h}\n", "embargo without"},
		{"embargo with entity groups only", "split: {embargo: 1h, entity_groups: {test: 0.2}}\n", "embargo without"},
		{"negative share", "split: {entity_groups: {test: -0.1}}\n", "split.entity_groups.test"},
		{"share of one", "split: {entity_groups: {validation: 1}}\n", "split.entity_groups.validation"},
		{"no entity left to train", "split: {entity_groups: {validation: 0.5, test: 0.5}}\n", "leaves no entity for training"},
		{"unknown key", "split: {tset: 2026-01-07T00:00:00Z}\n", `unknown key "tset"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("spec.yaml", []byte(minimal+tc.split))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
