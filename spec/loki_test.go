package spec

import (
	"strings"
	"testing"
)

// TestLokiAndMultilineSpec checks the loki and multiline keys of logs[].
func TestLokiAndMultilineSpec(t *testing.T) {
	cases := []struct {
		name string
		logs string
		want []string // nil: valid
	}{
		{"valid loki", `  - {name: l, format: loki, loki: {url: "http://127.0.0.1:3100", query: '{job="app"}', limit: 1000, chunk: 30m, tenant_id: t1}}`, nil},
		{"loki without url and query", `  - {name: l, format: loki}`, []string{"loki.url: required", "loki.query: required"}},
		{"loki metric query", `  - {name: l, format: loki, loki: {url: "http://127.0.0.1:3100", query: 'rate({a="b"}[1m])'}}`, []string{"must start with a stream selector"}},
		{"loki with path", `  - {name: l, format: loki, path: x.log, loki: {url: "http://127.0.0.1:3100", query: '{a="b"}'}}`, []string{"path: not used by format loki"}},
		{"loki keys on a file source", `  - {name: l, format: jsonl, path: x.log, loki: {url: "http://x"}}`, []string{"loki: only for format loki"}},
		{"unknown loki key", `  - {name: l, format: loki, loki: {url: "http://127.0.0.1:3100", query: '{a="b"}', tenant: x}}`, []string{`unknown key "tenant"`}},
		{"valid multiline", `  - {name: m, format: jsonl, path: x.log, multiline: {start: '^\d{4}-', max_lines: 200}}`, nil},
		{"bad multiline regexp", `  - {name: m, format: jsonl, path: x.log, multiline: {start: '^(('}}`, []string{"multiline.start"}},
		{"multiline bounds without start", `  - {name: m, format: jsonl, path: x.log, multiline: {max_lines: 5}}`, []string{"multiline.start: required"}},
		{"multiline on loki", `  - {name: l, format: loki, loki: {url: "http://127.0.0.1:3100", query: '{a="b"}'}, multiline: {start: x}}`, []string{"only for file sources"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("spec.yaml", []byte(minimal+"logs:\n"+tc.logs+"\n"))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("valid spec rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want errors %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
