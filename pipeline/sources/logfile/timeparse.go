package logfile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// Problem reasons for timestamps.
const (
	reasonNaive     = "naive_timestamp"
	reasonBadTime   = "bad_timestamp"
	reasonMissingTS = "missing_timestamp"
	naiveDetail     = "timestamp has no zone; set timezone: in the log source"
)

// zonedLayouts are tried first when no layout is configured: RFC 3339 and
// its variant with a space (RFC 3339 §5.6 allows it); ISO 8601's basic
// offset (+0100), as Java's SimpleDateFormat, logback and Python's %z write
// it; an offset after a space, as Go's time.Time.String and Ruby write it,
// with a zone abbreviation after it or not (the offset decides); and UTC
// or GMT spelled out, as PostgreSQL's log_line_prefix %m writes it. A
// zone abbreviation alone (CST, IST) names several zones: not guessed.
var zonedLayouts = []string{
	time.RFC3339Nano, "2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 -0700 MST",
	"2006-01-02 15:04:05 UTC", "2006-01-02 15:04:05 GMT",
}

// naiveLayouts are tried when no layout is configured and RFC 3339 fails,
// so a zone-less timestamp is told apart from garbage. Go accepts a
// fractional second after the seconds field even if the layout has none.
var naiveLayouts = []string{
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006/01/02 15:04:05", // Go's log package (log.LstdFlags)
}

// timeParser turns timestamp text into UTC according to a log source's
// time_layout and timezone.
type timeParser struct {
	layout  string         // empty: RFC 3339
	hasZone bool           // layout carries a zone or offset
	loc     *time.Location // nil: naive timestamps are problems
	epoch   time.Duration  // >0: layout is a Unix epoch in this unit
	iso     bool           // the layout (or the default) writes the second at s[17:19], ISO 8601's way
	memo    timeMemo       // this reader's last timestamp (clone gives each reader its own)
}

// clone is the parser for one more reader: the same settings, its own memo.
func (p *timeParser) clone() *timeParser {
	if p == nil {
		return nil
	}
	c := *p
	c.memo = timeMemo{}
	return &c
}

// timeMemo remembers the last timestamp parsed. Log lines come many to a
// second: a text equal to the last is answered as it was, in any layout,
// and an ISO 8601 text that differs from the last of its second only in
// its fractional digits is that second plus the fraction. Neither calls
// time.Parse (which was about a tenth of a JSON line's parse).
type timeMemo struct {
	// last and lastT: the last text parsed and its time. It holds at most
	// one line per reader.
	last  string
	lastT time.Time
	// The second of the last ISO 8601 text with a fraction.
	head, tail string    // the text up to and with the fraction's separator, and after its digits
	digits     int       // how many fractional digits
	base       time.Time // the instant of head and tail with a zero fraction
}

// isoFraction finds the fractional digits of an ISO 8601 timestamp
// ("2006-01-02?15:04:05" then '.' or ',' and 1 to 9 digits): s[20:end].
func isoFraction(s string) (end int, ok bool) {
	if len(s) < 21 || s[13] != ':' || s[16] != ':' || s[19] != '.' && s[19] != ',' {
		return 0, false
	}
	end = 20
	for end < len(s) && end < 29 && '0' <= s[end] && s[end] <= '9' {
		end++
	}
	if end == 20 || end < len(s) && '0' <= s[end] && s[end] <= '9' {
		return 0, false // no digit, or more than nine
	}
	return end, true
}

// fractionNanos is the fraction written by digits (at most nine) in ns.
func fractionNanos(digits string) time.Duration {
	var n int64
	for i := 0; i < len(digits); i++ {
		n = n*10 + int64(digits[i]-'0')
	}
	for i := len(digits); i < 9; i++ {
		n *= 10
	}
	return time.Duration(n)
}

func (m *timeMemo) lookup(s string, iso bool) (time.Time, bool) {
	if s == m.last && s != "" {
		return m.lastT, true
	}
	if !iso || m.head == "" {
		return time.Time{}, false
	}
	end, ok := isoFraction(s)
	if !ok || end-20 != m.digits || s[:20] != m.head || s[end:] != m.tail {
		return time.Time{}, false
	}
	return m.base.Add(fractionNanos(s[20:end])), true
}

// store remembers s, parsed as t, and its second if iso and s has an ISO
// 8601 fraction.
func (m *timeMemo) store(s string, t time.Time, iso bool) {
	m.last, m.lastT = s, t
	end, ok := isoFraction(s)
	if !iso || !ok || s[:20] == m.head && s[end:] == m.tail && end-20 == m.digits {
		return
	}
	// Copies: the memo outlives the line.
	m.head, m.tail, m.digits = strings.Clone(s[:20]), strings.Clone(s[end:]), end-20
	m.base = t.Add(-fractionNanos(s[20:end]))
}

// Epoch layouts: Unix time as a number of seconds (a fraction allowed),
// milliseconds, microseconds or nanoseconds. An epoch needs no zone.
var epochLayouts = map[string]time.Duration{
	"unix": time.Second, "unix_s": time.Second, "unix_ms": time.Millisecond,
	"unix_us": time.Microsecond, "unix_ns": time.Nanosecond,
}

func newTimeParser(layout string, loc *time.Location) *timeParser {
	return &timeParser{layout: layout, hasZone: layoutHasZone(layout), loc: loc, epoch: epochLayouts[layout], iso: isoLayout(layout)}
}

// isoLayout says whether layout writes date and time as ISO 8601 does up
// to the second (the default layouts all do): then the digits after a '.'
// or ',' at s[19] are the second's fraction and nothing else.
func isoLayout(layout string) bool {
	if layout == "" {
		return true
	}
	if len(layout) < 19 || epochLayouts[layout] > 0 {
		return false
	}
	switch layout[:19] {
	case "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006/01/02 15:04:05":
		return len(layout) == 19 || layout[19] == '.' || layout[19] == ',' || layout[19] == 'Z' || layout[19] == ' ' || layout[19] == '-' || layout[19] == '+'
	}
	return false
}

// parseEpochUnit parses s as a Unix time in unit (seconds may carry a
// fraction).
func parseEpochUnit(s string, unit time.Duration) (time.Time, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if unit == time.Second {
			return time.Unix(i, 0).UTC(), true
		}
		if i > math.MaxInt64/int64(unit) || i < math.MinInt64/int64(unit) {
			return time.Time{}, false
		}
		return time.Unix(0, i*int64(unit)).UTC(), true
	}
	if unit != time.Second || strings.ContainsAny(s, "eEnN") {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.Abs(f) > 9e9 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), true
}

// layoutHasZone reports whether a Go layout contains a zone element
// (MST, Z07:00, Z0700, Z07, -07:00, -0700, -07).
func layoutHasZone(layout string) bool {
	return strings.Contains(layout, "MST") || strings.Contains(layout, "Z07") || strings.Contains(layout, "-07")
}

// parse returns the time in UTC, or a problem reason and a short detail
// that describes s by its shape, never quoting it. The last text parsed,
// or (ISO 8601) a text of its second but for the fraction, is answered
// from the memo.
func (p *timeParser) parse(s string) (time.Time, string, string) {
	if t, ok := p.memo.lookup(s, p.iso); ok {
		return t, "", ""
	}
	t, reason, detail := p.parseText(s)
	if reason == "" {
		p.memo.store(s, t, p.iso)
	}
	return t, reason, detail
}

// parseText is parse without the memo.
func (p *timeParser) parseText(s string) (time.Time, string, string) {
	if p.epoch > 0 {
		t, ok := parseEpochUnit(s, p.epoch)
		if !ok {
			return time.Time{}, reasonBadTime, fmt.Sprintf("not a Unix time (time_layout %q): %s", p.layout, pipeline.DescribeShape(s))
		}
		return t, "", ""
	}
	if p.layout == "" {
		return p.parseDefault(s)
	}
	if p.hasZone {
		t, err := time.Parse(p.layout, s)
		if err != nil {
			return time.Time{}, reasonBadTime, fmt.Sprintf("does not match time_layout %q: %s", p.layout, pipeline.DescribeShape(s))
		}
		return t.UTC(), "", ""
	}
	loc := p.loc
	if loc == nil {
		loc = time.UTC // only to tell garbage from a naive timestamp
	}
	t, err := time.ParseInLocation(p.layout, s, loc)
	if err != nil {
		return time.Time{}, reasonBadTime, fmt.Sprintf("does not match time_layout %q: %s", p.layout, pipeline.DescribeShape(s))
	}
	if p.loc == nil {
		return time.Time{}, reasonNaive, naiveDetail
	}
	return t.UTC(), "", ""
}

// parseEpoch interprets a JSON number as Unix time. The unit is guessed from
// the magnitude: seconds up to 1e11 (year 5138), then millis, micros, nanos.
func parseEpoch(num string) (time.Time, string, string) {
	bad := func() (time.Time, string, string) {
		return time.Time{}, reasonBadTime, "bad epoch number " + pipeline.DescribeShape(num)
	}
	if i, err := strconv.ParseInt(num, 10, 64); err == nil {
		a := i
		if a < 0 {
			a = -a
		}
		switch {
		case a < 1e11:
			return time.Unix(i, 0).UTC(), "", ""
		case a < 1e14:
			return time.UnixMilli(i).UTC(), "", ""
		case a < 1e17:
			return time.UnixMicro(i).UTC(), "", ""
		default:
			return time.Unix(0, i).UTC(), "", ""
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return bad()
	}
	a := math.Abs(f)
	var ns float64
	switch {
	case a < 1e11:
		ns = f * 1e9
	case a < 1e14:
		ns = f * 1e6
	case a < 1e17:
		ns = f * 1e3
	default:
		ns = f
	}
	if math.Abs(ns) >= math.MaxInt64 {
		return bad()
	}
	// Round to the microsecond: float seconds carry no more precision.
	return time.Unix(0, int64(ns)).UTC().Round(time.Microsecond), "", ""
}

// parseDefault reads a timestamp without a configured layout: one of
// zonedLayouts, or a zone-less one (naiveLayouts) in the source's
// timezone, in that order. Every layout here has fixed-width date fields,
// so byte 10 says whether a layout with a 'T' or one with a space can
// match, and only a text whose end mayHaveZone accepts can match a layout
// with a zone: the layouts that cannot match are not tried. A failed time.Parse allocates its
// error, and zone-less timestamps, common in application logs, failed
// three layouts a line (TestParseDefaultAsEveryLayout).
func (p *timeParser) parseDefault(s string) (time.Time, string, string) {
	sep := byte(0)
	if len(s) > 10 {
		sep = s[10]
	}
	if mayHaveZone(s) {
		for _, l := range zonedLayouts {
			if l[10] != sep {
				continue
			}
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), "", ""
			}
		}
	}
	for _, l := range naiveLayouts {
		if l[10] != sep {
			continue
		}
		loc := p.loc
		if loc == nil {
			loc = time.UTC // only to tell a naive timestamp from garbage
		}
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			if p.loc == nil {
				return time.Time{}, reasonNaive, naiveDetail
			}
			return t.UTC(), "", ""
		}
	}
	return time.Time{}, reasonBadTime, "not RFC 3339: " + pipeline.DescribeShape(s)
}

// mayHaveZone says whether s ends as a zone-carrying layout must: in Z,
// ±hh:mm, ±hhmm, " UTC" or " GMT", or in an offset and a zone abbreviation.
func mayHaveZone(s string) bool {
	n := len(s)
	switch {
	case n > 0 && (s[n-1] == 'Z' || s[n-1] == 'z'):
		return true
	case n >= 6 && (s[n-6] == '+' || s[n-6] == '-') && s[n-3] == ':':
		return true
	case n >= 5 && (s[n-5] == '+' || s[n-5] == '-') && isAllDigits(s[n-4:]):
		return true
	case strings.HasSuffix(s, " UTC") || strings.HasSuffix(s, " GMT"):
		return true
	}
	if i := strings.LastIndexByte(s, ' '); i > 0 && i < n-1 && isLetters(s[i+1:]) {
		return mayHaveZone(strings.TrimRight(s[:i], " ")) // " -0700 MST"
	}
	return false
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
