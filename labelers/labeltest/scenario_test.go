package labeltest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/labelers/alertmanager"
	"github.com/opsdata/opsdata/labelers/alertseries"
	"github.com/opsdata/opsdata/labelers/manual"
	"github.com/opsdata/opsdata/labelers/rule"
	"github.com/opsdata/opsdata/labelers/ticket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestScenarios runs every testdata/*.test scenario (see testdata/README.md).
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 6 {
		t.Fatalf("found %d scenario files in testdata/, want at least 6", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".test"), func(t *testing.T) {
			mismatches, err := RunFile(t, f, allKinds())
			if err != nil {
				t.Fatalf("malformed scenario: %v", err)
			}
			for _, m := range mismatches {
				t.Error(m)
			}
		})
	}
}

// The evaluator must catch wrong expectations, or the scenarios prove nothing.
func TestScenarioReportsMismatches(t *testing.T) {
	const head = `grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m
config horizon=10m recovery=5m
ticket OPS-1 entities=checkout impact_start=+20m resolved=+30m severity=major
eval ticket
`
	tests := []struct {
		name string
		body string
		want []string // substrings of the single expected mismatch
	}{
		{
			name: "wrong phase",
			body: "expect window checkout +25m phase=normal\n",
			want: []string{"bad.test:5:", "window checkout 2026-01-05T00:25:00Z", "phase: expected normal, got incident"},
		},
		{
			name: "wrong range reports first window and count",
			body: "expect windows checkout +20m..+35m phase=incident\n",
			want: []string{"bad.test:5:", "00:30:00Z: phase: expected incident, got recovery", "and 4 more of the 15 windows"},
		},
		{
			name: "wrong minutes",
			body: "expect window checkout +15m minutes=4\n",
			want: []string{"bad.test:5:", "minutes: expected 4, got 5"},
		},
		{
			name: "wrong incident field",
			body: "expect incident OPS-1 entity=checkout severity=minor start=+20m end=+30m confidence=1\n",
			want: []string{"bad.test:5:", "severity: expected minor, got major"},
		},
		{
			name: "missing incident",
			body: "expect incident OPS-1 entity=checkout\nexpect incident OPS-2 entity=checkout\n",
			want: []string{"bad.test:6:", "incident OPS-2 entity=checkout: expected, got none"},
		},
		{
			name: "unexpected incident",
			body: "expect incident OPS-9 entity=checkout\n",
			want: []string{"bad.test:4:", "unexpected incident OPS-1 entity=checkout"},
		},
		{
			name: "uncovered window labelled",
			body: "expect windows checkout +0m..+10m phase=normal\n",
			want: []string{"bad.test:4:", "window checkout 2026-01-05T00:10:00Z is covered by no expect", "got active=false phase=pre_incident"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mismatches, err := Run(t, "bad.test", head+tt.body, allKinds())
			if err != nil {
				t.Fatalf("scenario should parse: %v", err)
			}
			if len(mismatches) == 0 {
				t.Fatal("wrong expectation passed: the evaluator checks nothing")
			}
			found := false
			for _, m := range mismatches {
				ok := true
				for _, w := range tt.want {
					ok = ok && strings.Contains(m, w)
				}
				found = found || ok
			}
			if !found {
				t.Errorf("no mismatch contains all of %q; got:\n%s", tt.want, strings.Join(mismatches, "\n"))
			}
		})
	}
}

func TestScenarioMalformed(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown directive", "grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m\nlaod x\n", "bad.test:2: unknown directive \"laod\""},
		{"bad time", "grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m\nticket A entities=x created=yesterday\n", "bad.test:2: created=yesterday: want RFC 3339"},
		{"unknown key", "grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m\nticket A entities=x sevrity=major\n", "bad.test:2: unknown key \"sevrity\""},
		{"expect before eval", "grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m\nexpect window x +0m phase=normal\n", "bad.test:2: expect before any eval"},
		{"window not on grid", "grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m\nincident m entity=x start=+1m\neval\nexpect window x +30s phase=incident\n", "bad.test:4: 2026-01-05T00:00:30Z is not the start of a window"},
		{"unknown entity", "grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m\nincident m entity=x start=+1m\neval\nexpect window y +1m phase=incident\n", "bad.test:4: entity \"y\" has no windows"},
		{"bad phase", "grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m\nincident m entity=x start=+1m\neval\nexpect window x +1m phase=broken\n", "bad.test:4: phase=\"broken\""},
		{"range outside grid", "grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m\nincident m entity=x start=+1m\neval\nexpect windows x -5m..+1m phase=normal\n", "bad.test:4: range \"-5m..+1m\" reaches outside the grid"},
		{"relative time without grid", "ticket A entities=x created=+1m\n", "bad.test:1: created=+1m: a relative time needs a grid line first"},
		{"unterminated quote", "ticket A entities=x title=\"oops\n", "bad.test:1: unterminated quoted string"},
		{"eval before grid", "eval\n", "bad.test:1: eval before grid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(t, "bad.test", tt.src, allKinds())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// A wrong expectation over loaded series and rules must fail.
func TestScenarioLoadReportsMismatch(t *testing.T) {
	const src = "grid 2026-01-05T00:00:00Z 2026-01-05T00:40:00Z 1m\nload 1m\n  errors_ratio{service=\"checkout\"} 0x10 0.9x9 0x20\nrules\n  groups:\n    - name: s\n      rules:\n        - alert: A\n          expr: errors_ratio > 0.5\n          for: 3m\neval rule\nexpect windows checkout * active=false\n"
	mm, err := Run(t, "bad.test", src, allKinds())
	if err != nil {
		t.Fatal(err)
	}
	if len(mm) != 1 || !strings.Contains(mm[0], "bad.test:12: window checkout 2026-01-05T00:11:00Z: active: expected false, got true") {
		t.Fatalf("mismatches = %q", mm)
	}
}

// allKinds registers every labeler kind, as cmd/opsdata/components.go does.
func allKinds() Kinds {
	return Kinds{
		"ticket":        ticket.Factory(),
		"rule":          rule.Factory(),
		"alerts_series": alertseries.Factory(),
		"alertmanager":  alertmanager.Factory(),
		"manual":        manual.Factory(),
	}
}
