package spec

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDemoSpecIsValid(t *testing.T) {
	s, err := Load("../datasets/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Dataset != "demo-cluster" || time.Duration(s.Window) != time.Minute || len(s.Metrics.Features) < 5 {
		t.Fatalf("unexpected demo spec: %+v", s)
	}
	if s.Metrics.Features[0].Line == 0 {
		t.Fatal("features must remember their line for error messages")
	}
}

const minimal = `dataset: d
licence: CC-BY-4.0
range: {from: 2026-01-05T00:00:00Z, to: 2026-01-06T00:00:00Z}
metrics:
  tsdb: {path: ./tsdb}
  features:
    - name: rps
      expr: sum by (service) (rate(http_requests_total[5m]))
anonymize:
  key: {env: OPSDATA_KEY}
`

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"unknown top-level key", func(s string) string { return s + "windwo: 5m\n" }, []string{"spec.yaml:11:", `unknown key "windwo"`}},
		{"missing licence", func(s string) string { return strings.Replace(s, "licence: CC-BY-4.0\n", "", 1) }, []string{"licence: required", "SPDX"}},
		{"bad licence", func(s string) string { return strings.Replace(s, "CC-BY-4.0", "'CC BY'", 1) }, []string{"not a current SPDX licence id"}},
		{"reserved feature name", func(s string) string { return strings.Replace(s, "name: rps", "name: phase", 1) }, []string{"reserved column"}},
		{"bad feature name", func(s string) string { return strings.Replace(s, "name: rps", "name: Rps-1", 1) }, []string{"must match"}},
		{"bad window", func(s string) string { return s + "window: 5 minutes\n" }, []string{"invalid duration"}},
		{"range backwards", func(s string) string {
			return strings.Replace(s, "to: 2026-01-06T00:00:00Z", "to: 2026-01-04T00:00:00Z", 1)
		}, []string{"range: to"}},
		{"no key", func(s string) string { return strings.Replace(s, "  key: {env: OPSDATA_KEY}\n", "  keep: []\n", 1) }, []string{"anonymize.key: required"}},
		{"bad output", func(s string) string { return s + "output: ./out\n" }, []string{"file://DIR or s3://"}},
		{"wrong type", func(s string) string { return s + "labelers: {kind: ticket}\n" }, []string{"spec.yaml:11:"}},
		{"unknown feature key", func(s string) string {
			return strings.Replace(s, "    - name: rps\n", "    - name: rps\n      halp: x\n", 1)
		}, []string{"spec.yaml:8:", `unknown key "halp"`}},
		{"zero window", func(s string) string { return s + "window: 0s\n" }, []string{"window: must be positive"}},
		{"unknown key under anonymize", func(s string) string {
			return strings.Replace(s, "  key: {env: OPSDATA_KEY}", "  key: {env: OPSDATA_KEY, fiel: k}", 1)
		}, []string{"spec.yaml:10:", `unknown key "fiel"`}},
	}
	if _, err := Parse("spec.yaml", []byte(minimal)); err != nil {
		t.Fatalf("the minimal spec must be valid: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.edit(minimal)
			if in == minimal {
				t.Fatal("edit did not change the spec")
			}
			_, err := Parse("spec.yaml", []byte(in))
			if err == nil {
				t.Fatal("expected an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error should wrap ErrInvalid: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse("spec.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(s.Window) != DefaultWindow || s.Output != DefaultOutput || s.Entity.Label != "service" || time.Duration(s.Metrics.LookbackDelta) != DefaultLookback {
		t.Fatalf("defaults not applied: %+v", s)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1m": time.Minute, "2d": 48 * time.Hour, "1w": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90s": 90 * time.Second} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "m", "1x", "1dz"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) should fail", bad)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("does-not-exist.yaml")
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want a not-exist error, got %v", err)
	}
}

func TestEmptySpec(t *testing.T) {
	for _, in := range []string{"", "\n# only a comment\n"} {
		_, err := Parse("empty.yaml", []byte(in))
		if err == nil || !strings.Contains(err.Error(), "empty.yaml: the spec is empty") {
			t.Errorf("Parse(%q) = %v, want the empty-spec message", in, err)
		}
	}
}

func TestValidateLicence(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"CDLA-Permissive-2.0", true}, {"CC-BY-4.0", true}, {"cc-by-4.0", true}, {"CC0-1.0", true},
		{"CDLA-Permissive-2.0 OR CC-BY-4.0", true}, {"ODbL-1.0", true},
		{"CC-BY-5.0", false}, {"Open-Data-Licence", false}, {"LicenseRef-acme", false},
		{"MIT AND", false}, {"GPL-2.0", false}, // deprecated id
	} {
		if err := ValidateLicence(tc.in); (err == nil) != tc.ok {
			t.Errorf("ValidateLicence(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
