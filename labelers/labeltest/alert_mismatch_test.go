package labeltest

import (
	"strings"
	"testing"
)

// Wrong expectations over alert lines and manual blocks must fail, or the
// alertmanager.test and manual.test scenarios prove nothing.
func TestScenarioAlertManualReportsMismatch(t *testing.T) {
	const alertHead = `grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m
alert ab12 {alertname="CartSlow",service="cart",severity="major"} startsAt=+10m endsAt=+20m
alert cd34 {alertname="Flap",service="cart",severity="warning"} startsAt=+30m silenced="noisy"
eval alertmanager
`
	const manualHead = `grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m
manual
  timezone: Europe/Berlin
  incidents:
    - id: PM-1
      entity: cart
      start: "2026-01-05 01:10"
      end: "2026-01-05 01:20"
eval manual
`
	tests := []struct {
		name, src string
		want      []string // substrings of one mismatch
	}{
		{"alert end off by one", alertHead + "expect incident alert:ab12 entity=cart end=+21m\nexpect incident alert:cd34 entity=cart\n",
			[]string{"bad.test:5:", "end: expected 2026-01-05T00:21:00Z, got 2026-01-05T00:20:00Z"}},
		{"silenced alert at full confidence", alertHead + "expect incident alert:ab12 entity=cart\nexpect incident alert:cd34 entity=cart confidence=0.7\n",
			[]string{"bad.test:6:", "confidence: expected 0.7, got 0.3"}},
		{"still-firing alert closed", alertHead + "expect windows cart +30m..+60m active=false\n",
			[]string{"bad.test:5:", "window cart 2026-01-05T00:30:00Z: active: expected false, got true", "and 29 more"}},
		{"manual time read as UTC", manualHead + "expect incident PM-1 entity=cart start=2026-01-05T01:10:00Z\n",
			[]string{"bad.test:10:", "start: expected 2026-01-05T01:10:00Z, got 2026-01-05T00:10:00Z"}},
		{"manual window wrong", manualHead + "expect windows cart +0m..+20m active=false\n",
			[]string{"bad.test:10:", "window cart 2026-01-05T00:10:00Z: active: expected false, got true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mm, err := Run(t, "bad.test", tt.src, allKinds())
			if err != nil {
				mm = []string{err.Error()} // a malformed expectation is also a failure
			}
			if len(mm) == 0 {
				t.Fatal("wrong expectation passed: the evaluator checks nothing")
			}
			for _, m := range mm {
				ok := true
				for _, w := range tt.want {
					ok = ok && strings.Contains(m, w)
				}
				if ok {
					return
				}
			}
			t.Errorf("no mismatch contains all of %q; got:\n%s", tt.want, strings.Join(mm, "\n"))
		})
	}
}

func TestScenarioAlertManualMalformed(t *testing.T) {
	const grid = "grid 2026-01-05T00:00:00Z 2026-01-05T01:00:00Z 1m\n"
	tests := []struct{ name, src, want string }{
		{"alert without labels", grid + "alert ab startsAt=+1m\n", "bad.test:2: want: alert FP {"},
		{"alert bad labels", grid + "alert ab {service=cart} startsAt=+1m\n", "bad.test:2: alert ab labels:"},
		{"alert without start", grid + "alert ab {service=\"cart\"}\n", "bad.test:2: alert ab: startsAt= is required"},
		{"alert unknown key", grid + "alert ab {service=\"cart\"} startsAt=+1m endAt=+2m\n", "bad.test:2: unknown key \"endAt\""},
		{"alert before grid", "alert ab {service=\"cart\"} startsAt=2026-01-05T00:00:00Z\n", "bad.test:1: alert before grid"},
		{"manual missing file", grid + "manual file=nope.yaml\n", "bad.test:2: manual file=nope.yaml:"},
		{"manual empty block", grid + "manual\neval manual\n", "bad.test:2: want: manual [format="},
		{"manual bad format", grid + "manual format=xml\n  <a/>\n", "bad.test:2: manual format=\"xml\""},
		{"eval manual without files", grid + "eval manual\n", "bad.test:2: eval manual: no manual block"},
		{"manual bad entry", grid + "manual\n  incidents:\n    - id: A\n      start: 2026-01-05T00:00:00Z\neval manual\n", "bad.test:6: manual block at bad.test:2: manual labeler:"},
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
