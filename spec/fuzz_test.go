package spec

import (
	"os"
	"testing"
)

// FuzzParse: no document, however broken, panics the parser, and a spec
// that parses validates again unchanged.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("../datasets/demo.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"", "dataset: d\n", "dataset: d\nlicence: CC-BY-4.0\nanonymize: {key: {env: K}}\n",
		"metrics:\n  features:\n    - {name: a, expr: up}\n", "logs: [{name: a, format: jsonl, path: x}]\n",
		"window: 0s\n", "a: &x [*x]\n", "labelers: {kind: ticket}\n", "- 1\n- 2\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse("fuzz.yaml", b)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Errorf("a parsed spec fails Validate again: %v", err)
		}
	})
}
