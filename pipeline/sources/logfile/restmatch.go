package logfile

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// restMatcher runs a line pattern whose last group takes the rest of the
// line, as (?P<message>.*)$ ends most text patterns and every log_format:
// the regexp runs on the part before that group, and the group is the rest
// of the line. Go's matchers step through a line rune by rune, and the
// message is most of a line (docs/decisions/0045-logfmt-scanner.md).
//
// The answers are FindStringSubmatchIndex's. Leftmost-first matching takes
// the first way the head matches for which the tail matches too, and a
// tail of .* matches any rest of a line; .+ does not match an empty rest,
// so then the whole regexp decides.
type restMatcher struct {
	re       *regexp.Regexp
	head     *regexp.Regexp // nil: the pattern ends otherwise
	nonEmpty bool           // the tail is .+
	anyNL    bool           // the tail's dot matches \n too
}

// newRestMatcher takes a regexp compiled by regexp.Compile: the argument
// above is about leftmost-first matching, not CompilePOSIX's longest.
func newRestMatcher(re *regexp.Regexp) restMatcher {
	m := restMatcher{re: re}
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil || tree.Op != syntax.OpConcat {
		return m
	}
	subs := tree.Sub
	anchored := false
	for len(subs) > 0 && (subs[len(subs)-1].Op == syntax.OpEndText || subs[len(subs)-1].Op == syntax.OpEndLine) {
		subs, anchored = subs[:len(subs)-1], true
	}
	if len(subs) == 0 {
		return m
	}
	last := subs[len(subs)-1]
	if last.Op != syntax.OpCapture || last.Cap != re.NumSubexp() {
		return m
	}
	rep := last.Sub[0]
	if rep.Op != syntax.OpStar && rep.Op != syntax.OpPlus ||
		rep.Sub[0].Op != syntax.OpAnyCharNotNL && rep.Sub[0].Op != syntax.OpAnyChar ||
		rep.Flags&syntax.NonGreedy != 0 && !anchored {
		return m // a lazy tail without $ stops early
	}
	headTree := &syntax.Regexp{Op: syntax.OpConcat, Sub: slices.Clone(subs[:len(subs)-1]), Flags: tree.Flags}
	head, err := regexp.Compile(headTree.String())
	if err != nil || head.NumSubexp() != re.NumSubexp()-1 || !slices.Equal(head.SubexpNames(), re.SubexpNames()[:re.NumSubexp()]) {
		return m
	}
	m.head, m.nonEmpty, m.anyNL = head, rep.Op == syntax.OpPlus, rep.Sub[0].Op == syntax.OpAnyChar
	return m
}

// match is re.FindStringSubmatchIndex(line).
func (m restMatcher) match(line string) []int {
	if m.head == nil {
		return m.re.FindStringSubmatchIndex(line)
	}
	loc := m.head.FindStringSubmatchIndex(line)
	if loc == nil {
		return nil // no head, no match
	}
	end := loc[1]
	if m.nonEmpty && end == len(line) || !m.anyNL && strings.IndexByte(line[end:], '\n') >= 0 {
		return m.re.FindStringSubmatchIndex(line)
	}
	loc[1] = len(line)
	return append(loc, end, len(line))
}
