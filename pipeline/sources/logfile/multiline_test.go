package logfile

import (
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/pipeline"
)

// TestMultiline joins Java and Python stack traces into their entries, for
// the text and logpai formats, and counts cut entries and orphan lines.
func TestMultiline(t *testing.T) {
	const javaTrace = "request failed\njava.lang.IllegalStateException: cart 42 is locked\n" +
		"\tat com.shop.cart.CartService.lock(CartService.java:118)\n" +
		"\tat com.shop.checkout.Checkout.run(Checkout.java:57)\n\n" +
		"\tat java.base/java.lang.Thread.run(Thread.java:833)\n" +
		"Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available\n" +
		"\t... 3 more"
	const pyTrace = "job 17 crashed\nTraceback (most recent call last):\n" +
		"  File \"/srv/app/worker.py\", line 88, in run\n    result = charge(card)\n" +
		"  File \"/srv/app/gateway.py\", line 12, in charge\n" +
		"    raise TimeoutError(\"gateway timed out after 30s\")\n" +
		"TimeoutError: gateway timed out after 30s"
	javaStart := `^\d{4}-\d{2}-\d{2} `
	pyLogpai := Config{Format: "logpai", LogFormat: "<Date> <Time> <Level> <Component>: <Content>",
		TimeLayout: "2006-01-02 15:04:05,000", Timezone: "UTC", Fields: LogFields{Entity: "Component"}}
	tests := []struct {
		name    string
		cfg     Config
		file    string
		want    []string
		reasons map[string]int64
	}{
		{
			name: "text java",
			cfg:  Config{Format: "text", Pattern: demoPattern, TimeLayout: "2006-01-02 15:04:05.000", Timezone: "UTC", Multiline: Multiline{Start: javaStart}},
			file: "java.log",
			want: []string{
				`2026-01-05T10:00:00Z checkout info java.log:2 "order placed"`,
				"2026-01-05T10:00:01Z checkout error java.log:3 " + quote(javaTrace),
				`2026-01-05T10:00:02Z checkout warn java.log:12 "retrying"`,
			},
			// The orphan line before the first entry is parsed alone and fails.
			reasons: map[string]int64{"no_match": 1},
		},
		{
			name: "text java, cut at 3 lines",
			cfg:  Config{Format: "text", Pattern: demoPattern, TimeLayout: "2006-01-02 15:04:05.000", Timezone: "UTC", Multiline: Multiline{Start: javaStart, MaxLines: 3}},
			file: "java.log",
			want: []string{
				`2026-01-05T10:00:00Z checkout info java.log:2 "order placed"`,
				"2026-01-05T10:00:01Z checkout error java.log:3 " + quote(strings.Join(strings.Split(javaTrace, "\n")[:3], "\n")),
				`2026-01-05T10:00:02Z checkout warn java.log:12 "retrying"`,
			},
			reasons: map[string]int64{"no_match": 1, reasonMultilineCut: 1},
		},
		{
			name: "text java, cut at 70 bytes",
			cfg:  Config{Format: "text", Pattern: demoPattern, TimeLayout: "2006-01-02 15:04:05.000", Timezone: "UTC", Multiline: Multiline{Start: javaStart, MaxBytes: 70}},
			file: "java.log",
			want: []string{
				`2026-01-05T10:00:00Z checkout info java.log:2 "order placed"`,
				"2026-01-05T10:00:01Z checkout error java.log:3 " + quote(strings.Join(strings.Split(javaTrace, "\n")[:2], "\n")),
				`2026-01-05T10:00:02Z checkout warn java.log:12 "retrying"`,
			},
			reasons: map[string]int64{"no_match": 1, reasonMultilineCut: 1},
		},
		{
			name: "logpai python",
			cfg:  withMultiline(pyLogpai, `^\d{4}-\d{2}-\d{2} \d{2}:`),
			file: "python.log",
			want: []string{
				`2026-01-05T10:00:00Z payments.worker info python.log:1 "job started"`,
				"2026-01-05T10:00:01.5Z payments.worker error python.log:2 " + quote(pyTrace),
				`2026-01-05T10:00:02Z payments.worker info python.log:9 "job finished"`,
			},
			reasons: map[string]int64{},
		},
		{
			name: "logpai python without multiline: trace lines are malformed",
			cfg:  pyLogpai,
			file: "python.log",
			want: []string{
				`2026-01-05T10:00:00Z payments.worker info python.log:1 "job started"`,
				`2026-01-05T10:00:01.5Z payments.worker error python.log:2 "job 17 crashed"`,
				`2026-01-05T10:00:02Z payments.worker info python.log:9 "job finished"`,
			},
			reasons: map[string]int64{"no_match": 6},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Name = "ml"
			tc.cfg.Path = filepath.Join("testdata", "multiline", tc.file)
			problems := &pipeline.Problems{}
			var got []string
			for _, r := range readAll(t, tc.cfg, problems) {
				got = append(got, rec(r))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			gotReasons := map[string]int64{}
			for _, ip := range problems.Report() {
				for reason, n := range ip.Reasons {
					gotReasons[reason] += n
				}
			}
			if !reflect.DeepEqual(gotReasons, tc.reasons) {
				t.Errorf("reasons %v, want %v", gotReasons, tc.reasons)
			}
		})
	}
}

func withMultiline(c Config, start string) Config {
	c.Multiline = Multiline{Start: start}
	return c
}

func quote(s string) string { return strconv.Quote(s) }
