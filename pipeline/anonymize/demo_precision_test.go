package anonymize

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoPrecision: on the demo's log lines (OPSDATA_DEMO_DIR, written by
// `opsdata demo --dir`), a line holding none of the planted tokens must not
// lose anything to a secret redaction, and every planted token must go.
// Skipped when the variable is unset.
func TestDemoPrecision(t *testing.T) {
	dir := os.Getenv("OPSDATA_DEMO_DIR")
	if dir == "" {
		t.Skip("OPSDATA_DEMO_DIR not set")
	}
	b, err := os.ReadFile(filepath.Join(dir, "ground_truth", "identifiers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gt struct {
		Tokens []string `json:"tokens"`
	}
	if err := json.Unmarshal(b, &gt); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "logs", "*"))
	for _, variant := range []struct {
		name string
		opt  options
	}{{"own", options{noGitleaks: true}}, {"with gitleaks", options{}}} {
		a, err := newAnonymizer(testKey, textPolicy, "service", variant.opt)
		if err != nil {
			t.Fatal(err)
		}
		var clean, flagged, secretLines, caught int
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				if strings.HasSuffix(f, ".jsonl") {
					var rec map[string]any
					if json.Unmarshal([]byte(line), &rec) == nil {
						if m, ok := rec["msg"].(string); ok {
							line = m
						}
					}
				}
				holds := false
				for _, tok := range gt.Tokens {
					holds = holds || strings.Contains(line, tok)
				}
				out := a.Text(line)
				redacted := strings.Count(out, RedactedSecret) > strings.Count(line, RedactedSecret)
				if holds {
					secretLines++
					if !survives(out, gt.Tokens) {
						caught++
					}
				} else {
					clean++
					if redacted {
						flagged++
						if flagged <= 3 {
							t.Logf("%s: false redaction: %q -> %q", variant.name, line, out)
						}
					}
				}
			}
			fh.Close()
		}
		t.Logf("%s: %d clean lines, %d falsely redacted; %d lines with planted tokens, %d fully redacted", variant.name, clean, flagged, secretLines, caught)
		if caught != secretLines {
			t.Errorf("%s: %d of %d token lines kept a token", variant.name, secretLines-caught, secretLines)
		}
	}
}
