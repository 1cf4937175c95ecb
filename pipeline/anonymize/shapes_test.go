package anonymize

import (
	"strings"
	"testing"
)

// The secret shapes of issue 12 that the detectors missed, in the fields
// and forms they were planted in. Each must be redacted by opsdata's own
// detectors alone and with gitleaks' rules.
func TestSecretShapes(t *testing.T) {
	own, err := newAnonymizer(testKey, textPolicy, "service", options{noGitleaks: true})
	if err != nil {
		t.Fatal(err)
	}
	all := newTest(t, textPolicy)
	for _, tc := range []struct{ name, line, secret string }{
		{"google key ending in -", "maps call failed key AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tUv- quota", "AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tUv-"},
		{"google key in JSON", `{"apiKey":"AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"}`, "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"},
		{"openai project key", "using OPENAI_API_KEY sk-proj-4f9Qm2L8xZ1vB7nR3tY6uW0pA5sD9gH2jK4lE8cV1bN for summarizer", "sk-proj-4f9Qm2L8xZ1vB7nR3tY6uW0pA5sD9gH2jK4lE8cV1bN"},
		{"anthropic key", "llm client init with sk-ant-api03-Xy7_Kp2mQ9rT4vW8zB1nC5dF0gH3jL6sA-Eu2iO7pR4tY9wQ1zM5xN8cV3bB2kL done", "sk-ant-api03-Xy7_Kp2mQ9rT4vW8zB1nC5dF0gH3jL6sA-Eu2iO7pR4tY9wQ1zM5xN8cV3bB2kL"},
		{"hugging face token", "download model with token=hf_aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgH,", "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgH"},
		{"hugging face bare", "HF hub login 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 ok", "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"},
		{"curl basic auth", `ran: curl -u elastic:P@ssw0rd!2024 https://es.local:9200/_cat/indices`, "P@ssw0rd!2024"},
		{"curl --user=", `curl -s --user=admin:Sup3r$ecret http://x/`, "Sup3r$ecret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, a := range map[string]*Anonymizer{"own": own, "with gitleaks": all} {
				if out := a.Text(tc.line); strings.Contains(out, tc.secret) || !strings.Contains(out, RedactedSecret) {
					t.Errorf("%s: Text(%q) = %q", name, tc.line, out)
				}
			}
		})
	}
}

// BenchmarkTextOwnDetectors is BenchmarkText with opsdata's own secret
// detectors only (no gitleaks rules): the baseline of BENCHMARKS.md.
func BenchmarkTextOwnDetectors(b *testing.B) {
	a, err := newAnonymizer(testKey, textPolicy, "service", options{noGitleaks: true})
	if err != nil {
		b.Fatal(err)
	}
	benchTextWith(b, a)
}

// A line can teach a value that is part of a key ("user=api_token"); the
// detectors still see every later key, because they run before learned
// values are replaced (an attacker's line must not blind them).
func TestLearnedSecretCannotHideKeys(t *testing.T) {
	a := newTest(t, textPolicy)
	a.Text("login by user=api_token")
	a.Text("login by user=db_password")
	for _, tc := range []struct{ line, secret string }{
		{`datadog_api_token = "0123456789abcdef0123456789abcdef01234567"`, "0123456789abcdef0123456789abcdef01234567"},
		{"db_password=password123x9 user=svc", "password123x9"},
	} {
		if out := a.Text(tc.line); strings.Contains(out, tc.secret) {
			t.Errorf("Text(%q) = %q", tc.line, out)
		}
	}
}
