package logfile

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// More formats this package reads (see docs/decisions/0006-log-formats-and-templates.md).
const (
	FormatLogfmt = "logfmt"
	FormatSyslog = "syslog" // RFC 5424 and RFC 3164, told apart per line
	FormatKlog   = "klog"   // klog/glog: Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg
	FormatLogPAI = "logpai" // free text by a loghub format string, e.g. "<Date> <Time> <Level> <Component>: <Content>"
)

// fileAware parsers learn which file they read (syslog and klog infer the
// missing year from the file's modification time).
type fileAware interface {
	setFile(path string, mod time.Time)
}

// ---- logfmt ----

type logfmtParser struct {
	fc        fieldsConfig
	entity    string
	timeParse *timeParser
	fields    *fieldSelection
	pairs     []logfmtPair       // scratch, reused line to line
	slab      pipeline.FieldSlab // records' Fields; one parser per reader
}

func (p *logfmtParser) parse(line string, rec *pipeline.LogRecord) (problem, bool) {
	if line == "" {
		return problem{reasonInvalidLogfmt, "empty logfmt record"}, false
	}
	pairs, ok := scanLogfmt(line, p.pairs[:0])
	p.pairs = pairs[:0]
	if !ok {
		return problem{reasonInvalidLogfmt, "not logfmt (key=value pairs)"}, false
	}
	kv := logfmtRecord(pairs)
	if len(kv) == 0 {
		return problem{reasonInvalidLogfmt, "no key=value pairs"}, false
	}
	pick := func(keys []string) (string, string) {
		for _, k := range keys {
			for i := range kv {
				if kv[i].key == k {
					if kv[i].value != "" {
						return k, kv[i].value
					}
					break
				}
			}
		}
		return "", ""
	}
	tk, tv := pick(p.fc.time)
	if tk == "" {
		return problem{reasonMissingTS, "no time key"}, false
	}
	var reason, detail string
	if isAllDigits(tv) && p.timeParse.epoch == 0 {
		rec.Time, reason, detail = parseEpoch(tv)
	} else {
		rec.Time, reason, detail = p.timeParse.parse(tv)
	}
	if reason != "" {
		return problem{reason, detail}, false
	}
	ek, ev := pick(p.fc.entity)
	rec.Entity = ev
	if rec.Entity == "" {
		rec.Entity = p.entity
	}
	if rec.Entity == "" {
		return problem{reasonMissingEntity, "no entity key and no fixed entity"}, false
	}
	lk, lv := pick(p.fc.level)
	rec.Level = pipeline.NormalizeLevel(lv)
	mk, mv := pick(p.fc.message)
	rec.Message = mv
	for _, f := range kv {
		if k := f.key; k == tk || k == ek || k == lk || k == mk || !p.fields.keep(k) {
			continue
		}
		p.slab.Add(f.key, f.value)
	}
	rec.Fields = p.slab.Take()
	// Without a message key, the remaining pairs are the message.
	if mk == "" {
		rec.Message = line
	}
	return problem{}, true
}

func isAllDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			if s[i] == '.' && i > 0 {
				continue
			}
			return false
		}
	}
	return true
}

// ---- year inference (RFC 3164, klog) ----

// yearGuess infers the year of timestamps that carry none. The first record
// takes the year of the file's modification time, or the year before when
// that would put the record more than a day after the modification (a file
// written in January holding December's lines). Later records keep the
// year, and move to the next one when the month goes back by more than six
// months (the December to January roll-over inside one file).
type yearGuess struct {
	mod       time.Time
	year      int
	lastMonth time.Month
}

func (y *yearGuess) setFile(_ string, mod time.Time) { *y = yearGuess{mod: mod} }

func (y *yearGuess) resolve(month time.Month, day, hh, mm, ss, ns int, loc *time.Location) time.Time {
	if y.year == 0 {
		y.year = y.mod.Year()
		if y.mod.IsZero() {
			y.year = 1970
		}
		if t := time.Date(y.year, month, day, hh, mm, ss, ns, loc); !y.mod.IsZero() && t.After(y.mod.Add(24*time.Hour)) {
			y.year--
		}
	} else if month < y.lastMonth && y.lastMonth-month > 6 {
		y.year++
	}
	y.lastMonth = month
	return time.Date(y.year, month, day, hh, mm, ss, ns, loc)
}

// ---- syslog ----

type syslogParser struct {
	yearGuess
	entity string // fixed entity
	byHost bool   // fields.entity: host
	loc    *time.Location
	fields *fieldSelection
}

var months = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

// severityLevel maps a syslog severity (PRI & 7) onto opsdata's levels.
func severityLevel(sev int) string {
	switch {
	case sev <= 3:
		return pipeline.LevelError
	case sev == 4:
		return pipeline.LevelWarn
	case sev <= 6:
		return pipeline.LevelInfo
	}
	return pipeline.LevelDebug
}

// nextField splits s at the first space.
func nextField(s string) (string, string) {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func (p *syslogParser) parse(line string, rec *pipeline.LogRecord) (problem, bool) {
	s := line
	rec.Level = pipeline.LevelOther
	if strings.HasPrefix(s, "<") {
		end := strings.IndexByte(s, '>')
		if end < 2 || end > 4 {
			return problem{reasonNoMatch, "bad syslog PRI"}, false
		}
		pri, err := strconv.Atoi(s[1:end])
		if err != nil || pri > 191 {
			return problem{reasonNoMatch, "bad syslog PRI"}, false
		}
		rec.Level = severityLevel(pri & 7)
		s = s[end+1:]
		if strings.HasPrefix(s, "1 ") {
			return p.parse5424(s[2:], rec)
		}
	}
	return p.parse3164(s, rec)
}

func (p *syslogParser) finish(rec *pipeline.LogRecord, host, app, msg string) (problem, bool) {
	rec.Fields = nil
	if host != "" && host != "-" && p.fields.keep("host") {
		rec.Fields = []pipeline.LogField{{Key: "host", Value: host}}
	}
	rec.Entity = p.entity
	if rec.Entity == "" {
		if p.byHost {
			rec.Entity = host
		} else {
			rec.Entity = app
		}
	}
	if rec.Entity == "" || rec.Entity == "-" {
		return problem{reasonMissingEntity, "no app name (or host) and no fixed entity"}, false
	}
	rec.Message = msg
	return problem{}, true
}

// parse5424: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
func (p *syslogParser) parse5424(s string, rec *pipeline.LogRecord) (problem, bool) {
	ts, s := nextField(s)
	host, s := nextField(s)
	app, s := nextField(s)
	_, s = nextField(s) // procid
	_, s = nextField(s) // msgid
	if ts == "-" {
		return problem{reasonMissingTS, "RFC 5424 NILVALUE timestamp"}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return problem{reasonBadTime, "RFC 5424 timestamp not RFC 3339: " + pipeline.DescribeShape(ts)}, false
	}
	rec.Time = t.UTC()
	// Structured data: "-" or one or more [id k="v" ...] elements.
	if strings.HasPrefix(s, "-") {
		s = strings.TrimPrefix(s[1:], " ")
	} else if strings.HasPrefix(s, "[") {
		i, inQuote := 0, false
		for depth := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case inQuote && c == '\\':
				i++
			case c == '"':
				inQuote = !inQuote
			case !inQuote && c == '[':
				depth++
			case !inQuote && c == ']':
				depth--
			}
			if depth == 0 && !inQuote && c == ']' && (i+1 == len(s) || s[i+1] != '[') {
				i++
				break
			}
		}
		s = strings.TrimPrefix(s[min(i, len(s)):], " ")
	} else if s != "" {
		return problem{reasonNoMatch, "RFC 5424 structured data is neither - nor [...]"}, false
	}
	s = strings.TrimPrefix(s, "\uFEFF") // BOM before a UTF-8 MSG
	return p.finish(rec, host, app, s)
}

// parse3164: Mmm dd hh:mm:ss HOST TAG[PID]: MSG (the BSD format; no year,
// no zone).
func (p *syslogParser) parse3164(s string, rec *pipeline.LogRecord) (problem, bool) {
	if len(s) < 16 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':' {
		return problem{reasonNoMatch, "not RFC 3164 (Mmm dd hh:mm:ss host tag: msg) nor RFC 5424"}, false
	}
	mon, ok := months[s[:3]]
	day, err1 := strconv.Atoi(strings.TrimSpace(s[4:6]))
	hh, err2 := strconv.Atoi(s[7:9])
	mm, err3 := strconv.Atoi(s[10:12])
	ss, err4 := strconv.Atoi(s[13:15])
	if !ok || err1 != nil || err2 != nil || err3 != nil || err4 != nil || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return problem{reasonBadTime, "bad RFC 3164 timestamp " + pipeline.DescribeShape(s[:15])}, false
	}
	if p.loc == nil {
		return problem{reasonNaive, naiveDetail}, false
	}
	rec.Time = p.resolve(mon, day, hh, mm, ss, 0, p.loc).UTC()
	rest := s[15:]
	if !strings.HasPrefix(rest, " ") {
		return problem{reasonNoMatch, "no host after the RFC 3164 timestamp"}, false
	}
	host, rest := nextField(rest[1:])
	tag, msg := rest, ""
	if i := strings.Index(rest, ": "); i >= 0 {
		tag, msg = rest[:i], rest[i+2:]
	} else if strings.HasSuffix(rest, ":") {
		tag = rest[:len(rest)-1]
	} else {
		tag, msg = "", rest // no tag: the rest is the message
	}
	if strings.ContainsRune(tag, ' ') {
		tag, msg = "", rest
	}
	if i := strings.IndexByte(tag, '['); i > 0 {
		tag = tag[:i]
	}
	return p.finish(rec, host, tag, msg)
}

// ---- klog / glog ----

type klogParser struct {
	yearGuess
	entity string
	loc    *time.Location
}

// Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg
func (p *klogParser) parse(line string, rec *pipeline.LogRecord) (problem, bool) {
	if len(line) < 22 || line[5] != ' ' || line[8] != ':' || line[11] != ':' || line[14] != '.' {
		return problem{reasonNoMatch, "not klog (Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg)"}, false
	}
	switch line[0] {
	case 'I':
		rec.Level = pipeline.LevelInfo
	case 'W':
		rec.Level = pipeline.LevelWarn
	case 'E', 'F':
		rec.Level = pipeline.LevelError
	default:
		return problem{reasonNoMatch, "klog level letter is not I, W, E or F"}, false
	}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			return -1
		}
		return n
	}
	mon, day, hh, mm, ss := num(line[1:3]), num(line[3:5]), num(line[6:8]), num(line[9:11]), num(line[12:14])
	j := 15
	for j < len(line) && line[j] >= '0' && line[j] <= '9' {
		j++
	}
	frac := line[15:j]
	if mon < 1 || mon > 12 || day < 1 || day > 31 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 || frac == "" || len(frac) > 9 {
		return problem{reasonBadTime, "bad klog timestamp " + pipeline.DescribeShape(line[1:min(j, len(line))])}, false
	}
	if p.loc == nil {
		return problem{reasonNaive, naiveDetail}, false
	}
	ns := num(frac)
	for k := len(frac); k < 9; k++ {
		ns *= 10
	}
	rec.Time = p.resolve(time.Month(mon), day, hh, mm, ss, ns, p.loc).UTC()
	rest := strings.TrimLeft(line[j:], " ")
	_, rest = nextField(rest) // thread id
	end := strings.Index(rest, "] ")
	src := ""
	if end >= 0 {
		src, rest = rest[:end], rest[end+2:]
	} else if strings.HasSuffix(rest, "]") {
		src, rest = rest[:len(rest)-1], ""
	} else {
		return problem{reasonNoMatch, "klog header has no file:line]"}, false
	}
	rec.Message = rest
	rec.Fields = nil
	rec.Entity = p.entity
	if rec.Entity == "" {
		// Without a fixed entity: the source file, without .go:line.
		if i := strings.IndexByte(src, '.'); i > 0 {
			src = src[:i]
		}
		rec.Entity = src
	}
	if rec.Entity == "" {
		return problem{reasonMissingEntity, "no file:line and no fixed entity"}, false
	}
	return problem{}, true
}

// ---- loghub format strings ----

var headerRe = regexp.MustCompile(`<([A-Za-z][A-Za-z0-9_]*)>`)

// timeHeaders are the format-string fields joined (with a space, in order)
// into the timestamp text that time_layout parses.
var timeHeaders = map[string]bool{"Date": true, "Time": true, "Day": true, "Month": true, "Year": true, "Timestamp": true, "DateTime": true}

// CompileLogFormat turns a loghub format string into a regexp with one
// named group per <Field>; white space matches any run of white space and
// <Content> (required) takes the rest of the line.
//
// A format holding a backslash is written the way Loghub/logparser's
// benchmark settings write them: the text between fields is a regexp, as
// logparser's generate_logformat_regex uses it (escapes such as \[ and \|,
// optional groups such as (\[<PID>\])?). Without a backslash the text is
// literal, so "[<Level>]" means brackets.
func CompileLogFormat(format string) (*regexp.Regexp, []string, error) {
	locs := headerRe.FindAllStringSubmatchIndex(format, -1)
	if len(locs) == 0 {
		return nil, nil, fmt.Errorf("log_format %q has no <Field>", format)
	}
	regexMode := strings.Contains(format, `\`)
	var b strings.Builder
	b.WriteString("^")
	var names []string
	// lit writes literal text: runs of white space match \s+.
	lit := func(s string) {
		if regexMode {
			for s != "" {
				i := strings.IndexAny(s, " \t")
				if i < 0 {
					b.WriteString(s)
					break
				}
				b.WriteString(s[:i])
				s = strings.TrimLeft(s[i:], " \t")
				b.WriteString(`\s+`)
			}
			return
		}
		for s != "" {
			if i := strings.IndexAny(s, " \t"); i != 0 {
				if i < 0 {
					i = len(s)
				}
				b.WriteString(regexp.QuoteMeta(s[:i]))
				s = s[i:]
				continue
			}
			s = strings.TrimLeft(s, " \t")
			b.WriteString(`\s+`)
		}
	}
	seen := map[string]bool{}
	prev := 0
	for i, l := range locs {
		name := format[l[2]:l[3]]
		if seen[name] {
			return nil, nil, fmt.Errorf("log_format %q names <%s> twice", format, name)
		}
		seen[name] = true
		lit(format[prev:l[0]])
		if name == "Content" && i == len(locs)-1 {
			b.WriteString(`(?P<Content>.*)`)
		} else {
			b.WriteString(`(?P<` + name + `>.*?)`)
		}
		names = append(names, name)
		prev = l[1]
	}
	if !seen["Content"] {
		return nil, nil, fmt.Errorf("log_format %q needs a <Content> field", format)
	}
	lit(format[prev:])
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, nil, fmt.Errorf("log_format %q: %w", format, err)
	}
	return re, names, nil
}

type logpaiParser struct {
	re        *regexp.Regexp
	rest      restMatcher    // re, quicker
	fast      *headerMatcher // nil: the format needs the regexp
	m         []int          // scratch for fast
	names     []string
	times     []int // group indexes forming the timestamp
	level     int
	entityIdx int
	content   int
	entity    string
	timeParse *timeParser
}

func newLogPAIParser(format, entityField, fixedEntity string, tp *timeParser) (*logpaiParser, error) {
	re, names, err := CompileLogFormat(format)
	if err != nil {
		return nil, err
	}
	p := &logpaiParser{re: re, rest: newRestMatcher(re), fast: newHeaderMatcher(format), names: names, level: re.SubexpIndex("Level"), content: re.SubexpIndex("Content"), entity: fixedEntity, timeParse: tp, entityIdx: -1}
	if p.level < 0 {
		p.level = re.SubexpIndex("Severity")
	}
	for _, n := range names {
		if timeHeaders[n] {
			p.times = append(p.times, re.SubexpIndex(n))
		}
	}
	if len(p.times) == 0 {
		return nil, fmt.Errorf("log_format %q has no time field (<Date>, <Time>, <Timestamp>, <Month>, <Day>, <Year>)", format)
	}
	// An epoch is one field: <Timestamp> if the format has it (BGL and
	// Thunderbird carry a date and a time beside it), else the first.
	if tp.epoch > 0 && len(p.times) > 1 {
		k := p.times[0]
		if i := re.SubexpIndex("Timestamp"); i >= 0 {
			k = i
		}
		p.times = []int{k}
	}
	if entityField != "" {
		if p.entityIdx = re.SubexpIndex(entityField); p.entityIdx < 0 {
			return nil, fmt.Errorf("fields.entity %q is not a field of log_format %q", entityField, format)
		}
	}
	return p, nil
}

// clone is a parser for one more file reader: the compiled format is
// shared, the scratch and the timestamp cache are its own.
func (p *logpaiParser) clone() *logpaiParser {
	c := *p
	c.m = nil
	c.timeParse = p.timeParse.clone() // its memo of the last timestamp
	return &c
}

func (p *logpaiParser) parse(line string, rec *pipeline.LogRecord) (problem, bool) {
	var m []int
	if p.fast != nil {
		if p.m == nil {
			p.m = make([]int, 2*(p.re.NumSubexp()+1))
		}
		if p.fast.match(line, p.m) {
			m = p.m
		}
	}
	if m == nil {
		m = p.rest.match(line)
	}
	if m == nil {
		return problem{reasonNoMatch, "line does not match log_format"}, false
	}
	ts := group(line, m, p.times[0])
	if len(p.times) > 1 {
		var b bytes.Buffer
		for k, i := range p.times {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(group(line, m, i))
		}
		ts = b.String()
	}
	var reason, detail string
	if rec.Time, reason, detail = p.timeParse.parse(ts); reason != "" {
		return problem{reason, detail}, false
	}
	return fillMatched(rec, group(line, m, p.entityIdx), p.entity, group(line, m, p.level), group(line, m, p.content),
		"no entity field and no fixed entity")
}

const reasonInvalidLogfmt = "invalid_logfmt"

// headerMatcher matches a format string whose text between fields is
// literal (escapes allowed, no groups or classes) without the regexp: each
// field ends at the first occurrence of the text after it, which is the
// match the regexp's lazy groups prefer whenever the whole line matches;
// when it does not, the caller falls back to the regexp, so results are
// the same, only one header scan faster.
type headerMatcher struct {
	seps []string // seps[i] precedes field i; seps[n] follows the last; " " = a run of white space
}

func newHeaderMatcher(format string) *headerMatcher {
	locs := headerRe.FindAllStringIndex(format, -1)
	regexMode := strings.Contains(format, `\`)
	h := &headerMatcher{}
	prev := 0
	lit := func(s string) (string, bool) {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == ' ' || c == '\t':
				b.WriteByte(' ')
				for i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\t') {
					i++
				}
			case regexMode && c == '\\' && i+1 < len(s) && strings.IndexByte(`[]|().{}*+?^$-:/\`, s[i+1]) >= 0:
				b.WriteByte(s[i+1])
				i++
			case regexMode && strings.IndexByte(`[]|().{}*+?^$\`, c) >= 0:
				return "", false
			default:
				b.WriteByte(c)
			}
		}
		return b.String(), true
	}
	for _, l := range locs {
		sep, ok := lit(format[prev:l[0]])
		if !ok {
			return nil
		}
		h.seps = append(h.seps, sep)
		prev = l[1]
	}
	sep, ok := lit(format[prev:])
	if !ok {
		return nil
	}
	h.seps = append(h.seps, sep)
	for _, sp := range h.seps[1 : len(h.seps)-1] {
		if sp == "" {
			return nil // two adjacent fields: only the regexp knows where one ends
		}
	}
	return h
}

// isRegexpSpace is the regexp's \s: [\t\n\f\r ].
func isRegexpSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// matchSep matches separator sep at s[i:]: literal bytes, a space
// standing for a run of white space. It returns the end or -1.
func matchSep(s string, i int, sep string) int {
	for k := 0; k < len(sep); k++ {
		if sep[k] == ' ' {
			j := i
			for j < len(s) && isRegexpSpace(s[j]) {
				j++
			}
			if j == i {
				return -1
			}
			i = j
			continue
		}
		if i >= len(s) || s[i] != sep[k] {
			return -1
		}
		i++
	}
	return i
}

// match fills m as FindStringSubmatchIndex would (group i+1 = field i).
func (h *headerMatcher) match(s string, m []int) bool {
	i := matchSep(s, 0, h.seps[0])
	if i < 0 {
		return false
	}
	m[0], m[1] = 0, len(s)
	n := len(h.seps) - 1
	for f := 0; f < n; f++ {
		start := i
		if f == n-1 {
			// The last field is greedy: it ends where the trailing text starts.
			tail := h.seps[n]
			end := len(s)
			if tail != "" {
				if strings.Contains(tail, " ") || !strings.HasSuffix(s, tail) || len(s)-len(tail) < start {
					return false
				}
				end = len(s) - len(tail)
			}
			m[2*f+2], m[2*f+3] = start, end
			return true
		}
		sep := h.seps[f+1]
		// The first position from start where sep matches.
		j := start
		for ; j <= len(s); j++ {
			if sep[0] == ' ' {
				if j < len(s) && isRegexpSpace(s[j]) {
					if e := matchSep(s, j, sep); e >= 0 {
						m[2*f+2], m[2*f+3] = start, j
						i = e
						break
					}
					return false // the regexp might backtrack: let it
				}
				continue
			}
			if j < len(s) && s[j] == sep[0] {
				if e := matchSep(s, j, sep); e >= 0 {
					m[2*f+2], m[2*f+3] = start, j
					i = e
					break
				}
				return false
			}
		}
		if j > len(s) {
			return false
		}
	}
	return true
}
