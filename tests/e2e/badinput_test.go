//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput runs the CLI on broken specs: each must fail with a one-line
// cause naming where, never panic, and never leave a visible version.
func TestBadInput(t *testing.T) {
	e := setup(t)
	orig, err := os.ReadFile(e.spec)
	if err != nil {
		t.Fatal(err)
	}
	demoSpec := string(orig)
	cases := []struct {
		name   string
		edit   func(string) string
		expect []string // substrings of stderr
	}{
		{"unknown key", func(s string) string {
			return strings.Replace(s, "window: 1m", "window: 1m\nwindwo: 5m", 1)
		}, []string{"spec.yaml:", `unknown key "windwo"`}},
		{"missing licence", func(s string) string {
			return strings.Replace(s, "licence: CDLA-Permissive-2.0", "", 1)
		}, []string{"licence: required"}},
		{"invalid PromQL", func(s string) string {
			return strings.Replace(s, "sum by (service) (rate(http_requests_total[5m]))", "sum by (service) (rate(http_requests_total[5m])", 1)
		}, []string{"spec.yaml:", "requests_per_second", "invalid PromQL"}},
		{"feature without entity label", func(s string) string {
			return strings.Replace(s, "avg by (service) (cpu_utilization_ratio)", "avg(cpu_utilization_ratio)", 1)
		}, []string{"cpu_utilization", `without the entity label "service"`}},
		{"raw label left in output", func(s string) string {
			// keep a "host" label raw and put a real node name in it: the leakage gate must refuse.
			s = strings.Replace(s, "keep: [job, code, le]", "keep: [job, code, le, host]", 1)
			return strings.Replace(s, "expr: max by (service) (memory_working_set_bytes)", `expr: label_replace(max by (service) (memory_working_set_bytes), "host", "worker-1.prod.acme.internal", "", "")`, 1)
		}, []string{"leakage gate refused to publish", "series/part-00000.parquet", `"labels"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			edited := tc.edit(demoSpec)
			if edited == demoSpec {
				t.Fatal("the edit did not change the spec; the test is stale")
			}
			path := filepath.Join(dir, "spec.yaml")
			if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			_, stderr, err := run(t, e, "export", "--spec", path, "--output", "file://"+out)
			if err == nil {
				t.Fatalf("export succeeded on a broken spec")
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Fatalf("export panicked:\n%s", stderr)
			}
			if !strings.HasPrefix(stderr, "opsdata: ") {
				t.Fatalf("error should start with a one-line cause, got:\n%s", stderr)
			}
			for _, want := range tc.expect {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			manifests, _ := filepath.Glob(filepath.Join(out, "*", "*", "manifest.json"))
			latest, _ := filepath.Glob(filepath.Join(out, "*", "latest"))
			if len(manifests)+len(latest) > 0 {
				t.Fatalf("a failed export left a visible version: %v %v", manifests, latest)
			}
		})
	}
}
