package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/spec"
)

// checkBase is a valid spec with a TSDB source; cases append or replace.
const checkBase = `dataset: d
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

// resolve is what `opsdata check` and every run do with a spec.
func resolve(text string) error {
	s, err := spec.Parse("spec.yaml", []byte(text))
	if err != nil {
		return err
	}
	_, err = runner.Resolve(s, components())
	return err
}

// TestResolveComponents checks the component sections through the real
// registry: each kind decodes and validates its own keys, strictly, with
// file:line, and rules that cross kinds go through capabilities.
func TestResolveComponents(t *testing.T) {
	replace := func(old, new string) func(string) string {
		return func(s string) string { return strings.Replace(s, old, new, 1) }
	}
	appendText := func(extra string) func(string) string {
		return func(s string) string { return s + extra }
	}
	cases := []struct {
		name string
		edit func(string) string
		want []string // nil: valid
	}{
		{"base", func(s string) string { return s }, nil},
		{"unknown key of the tsdb kind", replace("tsdb: {path: ./tsdb}", "tsdb: {path: ./tsdb, pth: x}"), []string{"spec.yaml:5:", `unknown key "pth"`}},
		{"unknown metrics section", replace("  tsdb: {path: ./tsdb}", "  tsbd: {path: ./tsdb}"), []string{"spec.yaml:5:", `unknown key "tsbd"`, "prometheus"}},
		{"tsdb without path", replace("  tsdb: {path: ./tsdb}\n", ""), []string{"metrics.tsdb: path: required"}},
		{"unknown metric source", replace("metrics:\n", "metrics:\n  source: graphite\n"), []string{`metrics.source: "graphite" is not a known metric source`}},
		{"invalid PromQL", replace("[5m]))", "[5m])"), []string{"spec.yaml:7:", "features[0] (rps).expr", "invalid PromQL"}},
		{"range vector feature", replace("sum by (service) (rate(http_requests_total[5m]))", "http_requests_total[5m]"), []string{"needs an instant vector or a scalar"}},
		{"prometheus source", replace("  tsdb: {path: ./tsdb}", "  source: prometheus\n  prometheus: {url: 'http://127.0.0.1:9090'}"), nil},
		{"prometheus without url", replace("  tsdb: {path: ./tsdb}", "  source: prometheus\n  prometheus: {timeout: 1m}"), []string{"metrics.prometheus: url: required"}},
		// The drift the review found: an OpenMetrics source serves PromQL to a rule labeler.
		{"openmetrics with a rule labeler", func(s string) string {
			return strings.Replace(s, "  tsdb: {path: ./tsdb}", "  source: openmetrics\n  file: {path: ./m.om}", 1) + "labelers:\n  - {kind: rule, rules: [r.yml]}\n"
		}, nil},
		{"prometheus with a rule labeler", func(s string) string {
			return strings.Replace(s, "  tsdb: {path: ./tsdb}", "  source: prometheus\n  prometheus: {url: 'http://127.0.0.1:9090'}", 1) + "labelers:\n  - {kind: rule, rules: [r.yml]}\n"
		}, []string{"labeler rule evaluates PromQL", "csv, openmetrics, tsdb"}},
		{"csv", replace("  tsdb: {path: ./tsdb}", "  source: csv\n  file: {path: ./series/*.csv, timezone: Europe/Berlin}"), nil},
		{"csv without path", replace("  tsdb: {path: ./tsdb}", "  source: csv"), []string{"metrics.file: path: required for the csv source"}},
		{"bad glob", replace("  tsdb: {path: ./tsdb}", "  source: openmetrics\n  file: {path: \"./[a\"}"), []string{"is not a valid glob"}},
		{"bad zone", replace("  tsdb: {path: ./tsdb}", "  source: csv\n  file: {path: x.csv, timezone: Mars/Base}"), []string{"metrics.file: timezone: unknown time zone Mars/Base"}},
		{"zone for openmetrics", replace("  tsdb: {path: ./tsdb}", "  source: openmetrics\n  file: {path: x.om, timezone: UTC}"), []string{"only applies to source csv"}},
		{"unknown file key", replace("  tsdb: {path: ./tsdb}", "  source: csv\n  file: {path: x.csv, zone: UTC}"), []string{"spec.yaml:6:", `unknown key "zone"`}},
		{"text log without pattern", appendText("logs:\n  - {name: a, path: x.log, format: text}\n"), []string{"logs[0] (a).pattern: required"}},
		{"bad log timezone", appendText("logs:\n  - {name: a, path: x.log, timezone: Mars/Olympus}\n"), []string{"logs[0] (a).timezone"}},
		{"unknown log format", appendText("logs:\n  - {name: a, path: x.log, format: xml}\n"), []string{`logs[0] (a).format: "xml" is not a known format`}},
		{"valid loki", appendText("logs:\n  - {name: l, format: loki, loki: {url: \"http://127.0.0.1:3100\", query: '{job=\"app\"}', limit: 1000, chunk: 30m, tenant_id: t1}}\n"), nil},
		{"loki without url and query", appendText("logs:\n  - {name: l, format: loki}\n"), []string{"loki.url: required", "loki.query: required"}},
		{"loki metric query", appendText("logs:\n  - {name: l, format: loki, loki: {url: \"http://127.0.0.1:3100\", query: 'rate({a=\"b\"}[1m])'}}\n"), []string{"must start with a stream selector"}},
		{"loki with path", appendText("logs:\n  - {name: l, format: loki, path: x.log, loki: {url: \"http://127.0.0.1:3100\", query: '{a=\"b\"}'}}\n"), []string{`unknown key "path"`}},
		{"loki keys on a file source", appendText("logs:\n  - {name: l, format: jsonl, path: x.log, loki: {url: \"http://x\"}}\n"), []string{`unknown key "loki"`}},
		{"unknown loki key", appendText("logs:\n  - {name: l, format: loki, loki: {url: \"http://127.0.0.1:3100\", query: '{a=\"b\"}', tenant: x}}\n"), []string{`unknown key "tenant"`}},
		{"valid multiline", appendText("logs:\n  - {name: m, format: jsonl, path: x.log, multiline: {start: '^\\d{4}-', max_lines: 200}}\n"), nil},
		{"bad multiline regexp", appendText("logs:\n  - {name: m, format: jsonl, path: x.log, multiline: {start: '^(('}}\n"), []string{"multiline.start"}},
		{"multiline bounds without start", appendText("logs:\n  - {name: m, format: jsonl, path: x.log, multiline: {max_lines: 5}}\n"), []string{"multiline.start: required"}},
		{"multiline on loki", appendText("logs:\n  - {name: l, format: loki, loki: {url: \"http://127.0.0.1:3100\", query: '{a=\"b\"}'}, multiline: {start: x}}\n"), []string{`unknown key "multiline"`}},
		{"unknown labeler", appendText("labelers:\n  - {kind: oracle}\n"), []string{`labelers[0].kind: "oracle" is not a known labeler`}},
		{"rule without rules", appendText("labelers:\n  - {kind: rule}\n"), []string{"labelers[0] (rule).rules: required"}},
		{"unknown labeler key", appendText("labelers:\n  - {kind: ticket, horizon: 30m, rules: [x]}\n"), []string{"spec.yaml:12:", `unknown key "rules"`}},
		{"alertmanager url", appendText("labelers:\n  - {kind: alertmanager, url: 'am:9093'}\n"), []string{"labelers[0] (alertmanager).url"}},
		{"manual format", appendText("labelers:\n  - {kind: manual, path: m.yaml, format: xls}\n"), []string{"labelers[0] (manual).format"}},
		{"ticket without path", appendText("tickets:\n  - {name: t, format: json}\n"), []string{"tickets[0] (t).path: required"}},
		{"github repo", appendText("tickets:\n  - {name: g, format: github, repo: nope}\n"), []string{"tickets[0] (g).repo"}},
		{"jira needs url and jql", appendText("tickets:\n  - {name: j, format: jira}\n"), []string{"tickets[0] (j).url: required", "tickets[0] (j).jql: required"}},
		{"mapping on a file source", appendText("tickets:\n  - {name: t, path: t.json, mapping: {type_prefix: 'x:'}}\n"), []string{`unknown key "mapping"`}},
		{"entities_from on github", appendText("tickets:\n  - {name: g, format: github, repo: a/b, mapping: {entities_from: labels}}\n"), []string{"jira only"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.edit(checkBase)
			if in == checkBase && tc.name != "base" {
				t.Fatal("edit did not change the spec")
			}
			err := resolve(in)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid spec refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want errors %q", tc.want)
			}
			if !errors.Is(err, spec.ErrInvalid) {
				t.Errorf("error does not wrap spec.ErrInvalid: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// `opsdata check` opens what the spec references and reports every missing
// or unreadable input at once, each naming its key.
func TestCheckOpensInputs(t *testing.T) {
	dir := t.TempDir()
	specPath := dir + "/spec.yaml"
	text := strings.Replace(checkBase, "./tsdb", dir+"/no-tsdb", 1) +
		"logs:\n  - {name: app, path: " + dir + "/logs/*.jsonl}\n" +
		"tickets:\n  - {name: t, format: json, path: " + dir + "/tickets.json}\n" +
		"labelers:\n  - {kind: rule, rules: [" + dir + "/rules.yml]}\n  - {kind: manual, path: " + dir + "/labels.yaml}\n"
	text = strings.Replace(text, "key: {env: OPSDATA_KEY}", "key: {file: "+dir+"/no.key}", 1)
	if err := os.WriteFile(specPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/labels.yaml", []byte("incidents:\n  - {id: x, start: yesterday}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	app := newApp()
	app.Writer = &out
	err := app.RunContext(context.Background(), []string{"opsdata", "check", "--spec", specPath})
	if err == nil {
		t.Fatalf("check passed a spec whose inputs are missing:\n%s", out.String())
	}
	for _, want := range []string{"anonymize.key", "metrics.tsdb", "logs[0] (app)", "tickets[0] (t)", "labelers[0] (rule)", "labelers[1] (manual)", "labels.yaml:2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("check error lacks %q:\n%v", want, err)
		}
	}
}
