package logfile

import (
	"regexp"
	"slices"
	"testing"
)

// restPatterns are line patterns of many shapes; restMatcher must answer
// what the regexp answers for each, whether or not it has a head to run.
var restPatterns = []struct {
	pattern string
	split   bool // restMatcher runs only the head
}{
	{`^(?P<time>\S+) (?P<level>\w+) (?P<entity>\S+) (?P<message>.*)$`, true},
	{`^(?P<time>\S+) (?P<level>\w+) (?P<message>.*)`, true},
	{`(?P<time>\d+) (?P<message>.*)$`, true},                         // unanchored head
	{`^(?P<time>\S+) (?P<message>.+)$`, true},                        // .+: an empty rest falls back
	{`^(?P<time>\S+)\s*(?P<message>.*?)$`, true},                     // lazy, but $ ends it
	{`^(?P<time>\S+) (?:(?P<level>[A-Z]+) )?(?P<message>.*)$`, true}, // optional group before
	{`(?i)^(?P<time>\S+) (?P<level>info|warn) (?P<message>.*)$`, true},
	{`(?s)^(?P<time>\S+) (?P<message>.*)$`, true},
	{`(?m)^(?P<time>\S+) (?P<message>.*)$`, true},
	{`^(?P<time>\S+)(?P<message>.*)`, true},
	{`^(?P<time>\S+) (?P<message>.*?)`, false}, // lazy without $: matches nothing
	{`^(?P<time>\S+) (?P<message>.*) end$`, false},
	{`^(?P<time>\S+) (?P<message>[^|]*)$`, false},
	{`^(?P<time>\S+) (?P<message>.*)(x)?$`, false},
	{`^(?P<message>.*)$`, true},
	{`(?P<time>\S+) (a|ab)(?P<message>.+)$`, true}, // the head's first way leaves nothing for .+ on "t ab"
}

var restLines = []string{
	"", " ", "2026-01-05T00:00:00Z INFO api GET /cart 200", "2026-01-05T00:00:00Z info", "t ab", "t abc",
	"t a", "2026 WARN", "12 x", "x 12 y", "2026-01-05 INFO ", "t \n rest", "t rest\nmore", "INFO\t\tx", "é ü ß",
	"2026-01-05T00:00:00Z  WARN api  two spaces", "t end", "t x end", "|",
}

func checkRestMatcher(t *testing.T, re *regexp.Regexp, m restMatcher, line string) {
	t.Helper()
	if got, want := m.match(line), re.FindStringSubmatchIndex(line); !slices.Equal(got, want) {
		t.Errorf("%s on %q: got %v, want %v", re, line, got, want)
	}
}

func TestRestMatcherAnswersAsTheRegexp(t *testing.T) {
	for _, p := range restPatterns {
		re := regexp.MustCompile(p.pattern)
		m := newRestMatcher(re)
		if split := m.head != nil; split != p.split {
			t.Errorf("%s: split %v, want %v", p.pattern, split, p.split)
		}
		for _, line := range restLines {
			checkRestMatcher(t, re, m, line)
		}
	}
}

func FuzzRestMatcher(f *testing.F) {
	for i := range restPatterns {
		for _, line := range restLines {
			f.Add(uint8(i), line)
		}
	}
	res := make([]*regexp.Regexp, len(restPatterns))
	ms := make([]restMatcher, len(restPatterns))
	for i, p := range restPatterns {
		res[i] = regexp.MustCompile(p.pattern)
		ms[i] = newRestMatcher(res[i])
	}
	f.Fuzz(func(t *testing.T, i uint8, line string) {
		k := int(i) % len(res)
		checkRestMatcher(t, res[k], ms[k], line)
	})
}
