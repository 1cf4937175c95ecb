package runner_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/schemas"
)

// TestEntityKinds exports the demo windowed by each kind of entity: the
// service (kept), the namespace (kept), the host (a pseudonymized kind) and
// the pod (a custom label the policy pseudonymizes). Every table, the
// report and the card must take entity values from the same place, so the
// gate passes and windows, incidents, logs and log_templates agree.
func TestEntityKinds(t *testing.T) {
	dir := shortDemo(t)
	cases := []struct {
		name, kind, label, logField string
		pseudonymized               bool
	}{
		{"service", "service", "service", "service", false},
		{"namespace", "namespace", "namespace", "namespace", false},
		{"host", "host", "node", "host", true},
		{"pseudonymized custom label", "service", "pod", "pod", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp, b := demoSpec(t, dir, func(s string) string {
				s = strings.Replace(s, "entity:\n  kind: service\n  label: service\n", "entity:\n  kind: "+tc.kind+"\n  label: "+tc.label+"\n", 1)
				s = strings.ReplaceAll(s, "by (service)", "by ("+tc.label+")")
				s = strings.ReplaceAll(s, "by (service, le)", "by ("+tc.label+", le)")
				return strings.Replace(s, "entity: service}", "entity: "+tc.logField+"}", 1)
			})
			out := t.TempDir()
			res, err := export(t, sp, b, out)
			if err != nil {
				t.Fatalf("export windowed by %s: %v", tc.label, err)
			}
			v := filepath.Join(out, "demo-cluster", res.Version)
			windows := map[string]bool{}
			for _, w := range readTable[schemas.WindowKey](t, v, schemas.TableWindows) {
				windows[w.Entity] = true
			}
			if len(windows) < 2 {
				t.Fatalf("windows has %d entities, want the demo's %ss", len(windows), tc.label)
			}
			for ent := range windows {
				if looksPseudonym(ent) != tc.pseudonymized {
					t.Errorf("windows.entity %q: pseudonymized=%v, want %v", ent, !tc.pseudonymized, tc.pseudonymized)
				}
			}
			// Logs of the JSON source name the same entities as the windows.
			var logEnts []string
			for _, l := range readTable[schemas.Log](t, v, schemas.TableLogs) {
				if l.Source == "json-services" && !windows[l.Entity] {
					logEnts = append(logEnts, l.Entity)
				}
			}
			if len(logEnts) > 0 {
				sort.Strings(logEnts)
				t.Errorf("%d JSON log lines name entities the windows do not have, e.g. %q", len(logEnts), logEnts[0])
			}
			incidents := readTable[schemas.Incident](t, v, schemas.TableIncidents)
			if tc.label == "service" {
				if len(incidents) == 0 {
					t.Error("no incidents published for the services the tickets name")
				}
			} else if !strings.Contains(strings.Join(res.Manifest.Labels.Gaps, "\n"), "name entities that are not "+tc.kind+" entities") {
				// The demo's tickets name services: under another kind they
				// are unknown entities, reported and not published.
				t.Errorf("label gaps do not report the tickets' unknown entities: %q", res.Manifest.Labels.Gaps)
			}
			for _, in := range incidents {
				if looksPseudonym(in.Entity) != tc.pseudonymized && windows[in.Entity] {
					t.Errorf("incidents.entity %q is not published like windows.entity", in.Entity)
				}
			}
			for _, c := range readTable[schemas.LogCount](t, v, schemas.TableLogCounts) {
				if c.Entity != "" && !windows[c.Entity] && looksPseudonym(c.Entity) != tc.pseudonymized { // "": lines of unknown entities, as in logs
					t.Errorf("log_counts.entity %q is not published like windows.entity", c.Entity)
				}
			}
			card, err := os.ReadFile(filepath.Join(v, schemas.ReadmeFile))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(card), tc.kind) {
				t.Errorf("the card does not name the entity kind %s", tc.kind)
			}
		})
	}
}

// looksPseudonym: the anonymizer's pseudonyms are TYPE-<hex digest>.
func looksPseudonym(s string) bool {
	i := strings.LastIndexByte(s, '-')
	if i < 1 || len(s)-i-1 < 8 {
		return false
	}
	for _, c := range s[i+1:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
