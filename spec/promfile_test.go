package spec

import (
	"strings"
	"testing"
)

func TestMetricFileSource(t *testing.T) {
	for _, tc := range []struct {
		name, metrics, err string
	}{
		{"csv", "source: csv\n  file: {path: ./series/*.csv, timezone: Europe/Berlin}", ""},
		{"openmetrics", "source: openmetrics\n  file: {path: ./series.om}", ""},
		{"no path", "source: csv", "metrics.file.path: required for the csv source"},
		{"bad glob", "source: openmetrics\n  file: {path: \"./[a\"}", "is not a valid glob"},
		{"bad zone", "source: csv\n  file: {path: x.csv, timezone: Mars/Base}", "metrics.file.timezone: unknown time zone Mars/Base"},
		{"zone for openmetrics", "source: openmetrics\n  file: {path: x.om, timezone: UTC}", "only applies to source csv"},
		{"unknown key", "source: csv\n  file: {path: x.csv, zone: UTC}", `unknown key "zone"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(minimal, "tsdb: {path: ./tsdb}", tc.metrics, 1)
			s, err := Parse("spec.yaml", []byte(in))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.Metrics.File.Path == "" {
					t.Fatal("metrics.file.path not decoded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}
