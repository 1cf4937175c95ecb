package logfile

import (
	"encoding/binary"
	"regexp"
	"slices"
	"strings"
	"unsafe"

	"github.com/parquet-go/jsonlite"

	"github.com/opsdata/opsdata/pipeline"
)

// Problem reasons for lines.
const (
	reasonInvalidJSON   = "invalid_json"
	reasonMissingEntity = "missing_entity"
	reasonNoMatch       = "no_match"
	reasonTooLong       = "line_too_long"
	reasonInvalidUTF8   = "invalid_utf8"
	reasonUTF16         = "utf16_file"
	reasonOutOfOrder    = "out_of_order"
)

// problem is why a line was not turned into a record.
type problem struct {
	reason, detail string
}

// lineParser turns one line (valid UTF-8, no newline) into a record with
// Time, Entity, Level, Message and Fields set. ok=false means the line is
// malformed and p says why.
type lineParser interface {
	parse(line string, rec *pipeline.LogRecord) (p problem, ok bool)
}

// jsonParser parses JSON lines with jsonlite, which indexes a line in one
// pass without building a map[string]any and points strings into the line.
type jsonParser struct {
	times     []string // candidate time keys, first present wins
	levels    []string
	messages  []string
	entities  []string // empty: fixed entity only
	entity    string   // fixed entity (fallback when the entity field is absent)
	timeParse *timeParser
	timeGiven bool        // the caller sets the time (CRI content): no time key is read
	fieldBuf  []jsonField // a line's fields, reused line to line
	fields    *fieldSelection
	slab      pipeline.FieldSlab // records' Fields; one parser per reader
}

func newJSONParser(f fieldsConfig, fixedEntity string, tp *timeParser, fields *fieldSelection) *jsonParser {
	return &jsonParser{
		fields:    fields,
		times:     f.time,
		levels:    f.level,
		messages:  f.message,
		entities:  f.entity,
		entity:    fixedEntity,
		timeParse: tp,
	}
}

// fieldsConfig holds the key candidates for each role, after defaults.
type fieldsConfig struct {
	time, level, message, entity []string
}

// jsonField is one top-level field of a JSON line: its key, the kind of
// its value and the value's JSON text.
type jsonField struct {
	key, json string
	kind      jsonlite.Kind
	plain     bool // a string the flat scan found without escapes: its text is json's inside
	// tree is an object's parse, once a dotted key read into it: the
	// entity and a learned field often lie in one object (kubernetes.*).
	tree *jsonlite.Value
}

// lookupFirst returns the first candidate key present with a non-null
// value (a key's first occurrence counts, as jsonlite's Lookup). A key
// with dots that no top-level field has is a path into nested objects:
// "kubernetes.labels.app" of a record Fluent Bit, Vector or Filebeat
// wrote ("log.level" of ECS is a top-level key, found first).
func lookupFirst(fields []jsonField, keys []string) (string, *jsonField) {
	for _, k := range keys {
		found := false
		for i := range fields {
			if fields[i].key == k {
				if fields[i].kind != jsonlite.Null {
					return k, &fields[i]
				}
				found = true
				break
			}
		}
		if !found && strings.IndexByte(k, '.') > 0 {
			if f, ok := nestedField(fields, k); ok {
				return k, &f
			}
		}
	}
	return "", nil
}

func topLevel(fields []jsonField, key string) bool {
	for i := range fields {
		if fields[i].key == key {
			return true
		}
	}
	return false
}

// nestedField resolves path, a dotted key, into the line's top-level
// objects: the first top-level object whose key, then a dot, begins path,
// then the rest key by key. A null or absent value is not found.
func nestedField(fields []jsonField, path string) (jsonField, bool) {
	for i := range fields {
		f := &fields[i]
		if f.kind != jsonlite.Object || len(f.key) >= len(path) || path[len(f.key)] != '.' || path[:len(f.key)] != f.key {
			continue
		}
		if f.tree == nil {
			v, err := jsonlite.Parse(f.json)
			if err != nil {
				return jsonField{}, false
			}
			f.tree = v
		}
		v := f.tree
		if v = v.LookupPath(strings.Split(path[len(f.key)+1:], ".")...); v == nil || v.Kind() == jsonlite.Null {
			return jsonField{}, false
		}
		return jsonField{key: path, json: v.JSON(), kind: v.Kind()}, true
	}
	return jsonField{}, false
}

// text renders a scalar as text: strings unquoted, numbers and booleans as
// their JSON text. Nested values report ok=false.
func text(f *jsonField) (string, bool) {
	switch f.kind {
	case jsonlite.String:
		if f.plain {
			return f.json[1 : len(f.json)-1], true
		}
		s, _ := jsonlite.Unquote(f.json)
		return s, true
	case jsonlite.Number, jsonlite.True, jsonlite.False:
		return f.json, true
	}
	return "", false
}

func (p *jsonParser) parse(line string, rec *pipeline.LogRecord) (problem, bool) {
	// The fields go to the parser's own slice: an array on the stack was
	// cleared for every line (1.3 KB, 7% of a line's parse).
	fields, ok := p.scanFlat(line, p.fieldBuf[:0])
	if !ok {
		var prob problem
		if fields, prob, ok = treeFields(line, p.fieldBuf[:0]); !ok {
			return prob, false
		}
	}
	prob, ok := p.fill(fields, rec)
	clear(fields) // keep no line alive
	p.fieldBuf = fields[:0]
	return prob, ok
}

// treeFields reads a line's top-level fields from jsonlite's value tree.
func treeFields(line string, dst []jsonField) ([]jsonField, problem, bool) {
	// Depth 1: nested objects stay unparsed; we only read top-level fields.
	v, err := jsonlite.ParseMaxDepth(line, 1)
	if err != nil {
		// jsonlite errors quote the offending token; keep only the
		// generic part so no line content leaks into the report.
		return nil, problem{reasonInvalidJSON, "not valid JSON"}, false
	}
	if v.Kind() != jsonlite.Object {
		return nil, problem{reasonInvalidJSON, "not a JSON object"}, false
	}
	for k, f := range v.Object {
		dst = append(dst, jsonField{key: k, json: f.JSON(), kind: f.Kind()})
	}
	return dst, problem{}, true
}

// scanFlat reads a line's top-level fields in one pass over its bytes,
// without building its value tree (the cost of which was most of a JSON
// line's parse): every line whose values are scalars, or objects outside
// the message keys. It accepts only what ParseMaxDepth(line, 1) accepts
// and reads the same fields; anything else (arrays, a nested message, an
// escaped key, anything malformed or unusual) reports ok=false and the
// tree parse decides. FuzzFlatScan and TestFlatScanEqualsTree hold the two
// to the same records. A scanner of its own, not jsonlite's tokenizer and
// validators: those read each value twice (tokenize, then Valid), and
// this runs on every line of both passes (decision 0040).
func (p *jsonParser) scanFlat(line string, dst []jsonField) ([]jsonField, bool) {
	i := skipWS(line, 0)
	if i == len(line) || line[i] != '{' {
		return nil, false
	}
	i = skipWS(line, i+1)
	if i < len(line) && line[i] == '}' {
		return dst, skipWS(line, i+1) == len(line)
	}
	for {
		// A key: a string without escapes (an escaped key is the tree's).
		if i == len(line) || line[i] != '"' {
			return nil, false
		}
		end, escaped, ok := scanString(line, i)
		if !ok || escaped {
			return nil, false
		}
		key := line[i+1 : end-1]
		i = skipWS(line, end)
		if i == len(line) || line[i] != ':' {
			return nil, false
		}
		i = skipWS(line, i+1)
		if i == len(line) {
			return nil, false
		}
		f := jsonField{key: key}
		start := i
		switch c := line[i]; {
		case c == '"':
			var escaped bool
			if i, escaped, ok = scanString(line, i); !ok {
				return nil, false
			}
			f.kind, f.plain = jsonlite.String, !escaped
		case c == '{':
			// An object past the first level is matched by its braces only,
			// as ParseMaxDepth(line, 1) does; a message needs its text,
			// which the tree gives.
			if slices.Contains(p.messages, key) {
				return nil, false
			}
			if i, ok = skipObject(line, i); !ok {
				return nil, false
			}
			f.kind = jsonlite.Object
		case c == '-' || '0' <= c && c <= '9':
			if i, ok = scanNumber(line, i); !ok {
				return nil, false
			}
			f.kind = jsonlite.Number
		case strings.HasPrefix(line[i:], "true"):
			i, f.kind = i+4, jsonlite.True
		case strings.HasPrefix(line[i:], "false"):
			i, f.kind = i+5, jsonlite.False
		case strings.HasPrefix(line[i:], "null"):
			i, f.kind = i+4, jsonlite.Null
		default:
			return nil, false // arrays and anything else: the tree's
		}
		f.json = line[start:i] // an object's text too, as the tree keeps it: a dotted key may read into it
		dst = append(dst, f)
		i = skipWS(line, i)
		if i == len(line) {
			return nil, false
		}
		switch line[i] {
		case ',':
			i = skipWS(line, i+1)
		case '}':
			return dst, skipWS(line, i+1) == len(line)
		default:
			return nil, false
		}
	}
}

// skipWS returns the index of the first byte at or after i that is not
// JSON white space.
func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// scanString reads the JSON string opening at s[i] ('"'): the index past
// its closing quote, and whether it holds an escape. ok=false: not a valid
// string (a control character, a bad escape, no closing quote). Bytes
// from 0x80 are taken as they are: lines are valid UTF-8 by now.
func scanString(s string, i int) (end int, escaped, ok bool) {
	for j := i + 1; j < len(s); j++ {
		j = skipPlain(s, j)
		if j == len(s) {
			break
		}
		switch c := s[j]; {
		case c == '"':
			return j + 1, escaped, true
		case c == '\\':
			escaped = true
			j++
			if j == len(s) {
				return 0, false, false
			}
			switch s[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s) || !isHex4(s[j+1:j+5]) {
					return 0, false, false
				}
				j += 4
			default:
				return 0, false, false
			}
		case c < 0x20:
			return 0, false, false
		}
	}
	return 0, false, false
}

// skipPlain returns the index of the first byte at or after j that a
// string scan must look at (strSpecial), or len(s): eight bytes a step
// while none is special, then one table load a byte. A message is most of
// a line's bytes, and the byte loop was most of its scan.
func skipPlain(s string, j int) int {
	for j+8 <= len(s) && !anySpecial(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[j:]), 8))) {
		j += 8
	}
	for j < len(s) && !strSpecial[s[j]] {
		j++
	}
	return j
}

// anySpecial says whether one of the eight bytes of v is '"', '\\' or a
// control character (below 0x20), with the usual word-at-a-time tests: a
// byte x is zero in v^x, and (v-0x20)&^v sets the top bit of a byte below
// 0x20. Bytes from 0x80 are never special (their top bit masks them).
func anySpecial(v uint64) bool {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	q := v ^ (ones * '"')
	b := v ^ (ones * '\\')
	return ((q-ones)&^q|(b-ones)&^b|(v-ones*0x20)&^v)&tops != 0
}

// strSpecial marks the bytes a JSON string scan must look at: its quote,
// the escape, and the control characters it may not hold.
var strSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// scanNumber reads the JSON number at s[i]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(s string, i int) (int, bool) {
	if s[i] == '-' {
		i++
	}
	switch {
	case i == len(s):
		return 0, false
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return 0, false
	}
	digits := func() bool {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return 0, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false
		}
	}
	return i, true
}

// skipObject returns the index past the object opening at s[i], matched
// by its braces outside strings (its content is not checked further, as
// ParseMaxDepth(line, 1) does not).
func skipObject(s string, i int) (int, bool) {
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"':
			end, _, ok := scanString(s, i)
			if !ok {
				return 0, false
			}
			i = end
			continue
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
		i++
	}
	return 0, false
}

// fill sets the record from a line's top-level fields.
func (p *jsonParser) fill(fields []jsonField, rec *pipeline.LogRecord) (problem, bool) {
	tk := ""
	if !p.timeGiven { // CRI content: the runtime's time is the record's
		var tv *jsonField
		if tk, tv = lookupFirst(fields, p.times); tv == nil {
			return problem{reasonMissingTS, "no time field"}, false
		}
		var reason, detail string
		switch tv.kind {
		case jsonlite.String:
			s, _ := text(tv)
			rec.Time, reason, detail = p.timeParse.parse(s)
		case jsonlite.Number:
			if p.timeParse.epoch > 0 { // the unit named, not guessed
				rec.Time, reason, detail = p.timeParse.parse(tv.json)
			} else {
				rec.Time, reason, detail = parseEpoch(tv.json)
			}
		default:
			reason, detail = reasonBadTime, "time field "+tk+" is not a string or number"
		}
		if reason != "" {
			return problem{reason, detail}, false
		}
	}

	ek, ev := lookupFirst(fields, p.entities)
	rec.Entity = ""
	if ev != nil {
		rec.Entity, _ = text(ev)
	}
	if rec.Entity == "" {
		rec.Entity = p.entity
	}
	if rec.Entity == "" {
		return problem{reasonMissingEntity, "no entity field and no fixed entity"}, false
	}

	lk, lv := lookupFirst(fields, p.levels)
	rec.Level = pipeline.LevelOther
	if lv != nil {
		s, _ := text(lv)
		rec.Level = pipeline.NormalizeLevel(s)
	}
	mk, mv := lookupFirst(fields, p.messages)
	rec.Message = ""
	if mv != nil {
		if s, ok := text(mv); ok {
			// Docker's json-file driver keeps the line's own newline.
			rec.Message = strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
		} else {
			rec.Message = mv.json
		}
	}

	for i := range fields {
		f := &fields[i]
		if k := f.key; k == tk || k == ek || k == lk || k == mk || !p.fields.keep(k) {
			continue
		}
		s, ok := text(f)
		if !ok {
			continue // null and nested values are not identifiers
		}
		p.slab.Add(f.key, s)
	}
	if p.fields != nil {
		// Selected paths into nested objects (a top-level key of the name
		// was read above).
		for _, k := range p.fields.dotted {
			if k == tk || k == ek || k == lk || k == mk || topLevel(fields, k) {
				continue
			}
			if f, ok := nestedField(fields, k); ok {
				if s, ok := text(&f); ok {
					p.slab.Add(k, s)
				}
			}
		}
	}
	rec.Fields = p.slab.Take()
	return problem{}, true
}

// textParser parses lines with a regexp with named groups.
type textParser struct {
	re                        restMatcher
	iTime, iLevel, iEnt, iMsg int // submatch indexes, -1 if absent
	entity                    string
	timeParse                 *timeParser
}

func newTextParser(re *regexp.Regexp, fixedEntity string, tp *timeParser) *textParser {
	return &textParser{
		re:        newRestMatcher(re),
		iTime:     re.SubexpIndex("time"),
		iLevel:    re.SubexpIndex("level"),
		iEnt:      re.SubexpIndex("entity"),
		iMsg:      re.SubexpIndex("message"),
		entity:    fixedEntity,
		timeParse: tp,
	}
}

// clone is the parser for one more reader (its own time memo).
func (p *textParser) clone() *textParser {
	c := *p
	c.timeParse = p.timeParse.clone()
	return &c
}

func (p *textParser) parse(line string, rec *pipeline.LogRecord) (problem, bool) {
	m := p.re.match(line)
	if m == nil {
		return problem{reasonNoMatch, "line does not match pattern"}, false
	}
	var reason, detail string
	rec.Time, reason, detail = p.timeParse.parse(group(line, m, p.iTime))
	if reason != "" {
		return problem{reason, detail}, false
	}
	return fillMatched(rec, group(line, m, p.iEnt), p.entity, group(line, m, p.iLevel), group(line, m, p.iMsg),
		"no entity group matched and no fixed entity")
}

// group returns submatch i of line (m is FindStringSubmatchIndex's answer),
// or "" when i < 0 or the group took no part in the match.
func group(line string, m []int, i int) string {
	if i < 0 || m[2*i] < 0 {
		return ""
	}
	return line[m[2*i]:m[2*i+1]]
}

// fillMatched sets the rest of a regexp-parsed record: the matched entity,
// else the fixed one (none: a problem saying noEntity), the normalized level
// ("" gives LevelOther), the message, and no fields.
func fillMatched(rec *pipeline.LogRecord, entity, fixedEntity, level, msg, noEntity string) (problem, bool) {
	rec.Entity = entity
	if rec.Entity == "" {
		rec.Entity = fixedEntity
	}
	if rec.Entity == "" {
		return problem{reasonMissingEntity, noEntity}, false
	}
	rec.Level = pipeline.NormalizeLevel(level)
	rec.Message = msg
	rec.Fields = nil
	return problem{}, true
}
