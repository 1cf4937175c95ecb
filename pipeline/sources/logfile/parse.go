package logfile

import (
	"regexp"

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
	fields    *fieldSelection
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

func lookupFirst(v *jsonlite.Value, keys []string) (string, *jsonlite.Value) {
	for _, k := range keys {
		if f := v.Lookup(k); f != nil && f.Kind() != jsonlite.Null {
			return k, f
		}
	}
	return "", nil
}

// text renders a scalar as text: strings unquoted, numbers and booleans as
// their JSON text. Nested values report ok=false.
func text(v *jsonlite.Value) (string, bool) {
	switch v.Kind() {
	case jsonlite.String:
		return v.String(), true
	case jsonlite.Number, jsonlite.True, jsonlite.False:
		return v.JSON(), true
	}
	return "", false
}

func (p *jsonParser) parse(line string, rec *pipeline.LogRecord) (problem, bool) {
	// Depth 1: nested objects stay unparsed; we only read top-level fields.
	v, err := jsonlite.ParseMaxDepth(line, 1)
	if err != nil {
		// jsonlite errors quote the offending token; keep only the
		// generic part so no line content leaks into the report.
		return problem{reasonInvalidJSON, "not valid JSON"}, false
	}
	if v.Kind() != jsonlite.Object {
		return problem{reasonInvalidJSON, "not a JSON object"}, false
	}

	tk, tv := lookupFirst(v, p.times)
	if tv == nil {
		return problem{reasonMissingTS, "no time field"}, false
	}
	var reason, detail string
	switch tv.Kind() {
	case jsonlite.String:
		rec.Time, reason, detail = p.timeParse.parse(tv.String())
	case jsonlite.Number:
		if p.timeParse.epoch > 0 { // the unit named, not guessed
			rec.Time, reason, detail = p.timeParse.parse(tv.JSON())
		} else {
			rec.Time, reason, detail = parseEpoch(tv.JSON())
		}
	default:
		reason, detail = reasonBadTime, "time field "+tk+" is not a string or number"
	}
	if reason != "" {
		return problem{reason, detail}, false
	}

	ek, ev := lookupFirst(v, p.entities)
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

	lk, lv := lookupFirst(v, p.levels)
	rec.Level = pipeline.LevelOther
	if lv != nil {
		s, _ := text(lv)
		rec.Level = pipeline.NormalizeLevel(s)
	}
	mk, mv := lookupFirst(v, p.messages)
	rec.Message = ""
	if mv != nil {
		if s, ok := text(mv); ok {
			rec.Message = s
		} else {
			rec.Message = mv.JSON()
		}
	}

	rec.Fields = nil
	for k, f := range v.Object {
		if k == tk || k == ek || k == lk || k == mk || !p.fields.keep(k) {
			continue
		}
		s, ok := text(f)
		if !ok {
			continue // null and nested values are not identifiers
		}
		if rec.Fields == nil {
			rec.Fields = make(map[string]string, 8)
		}
		rec.Fields[k] = s
	}
	return problem{}, true
}

// textParser parses lines with a regexp with named groups.
type textParser struct {
	re                        *regexp.Regexp
	iTime, iLevel, iEnt, iMsg int // submatch indexes, -1 if absent
	entity                    string
	timeParse                 *timeParser
}

func newTextParser(re *regexp.Regexp, fixedEntity string, tp *timeParser) *textParser {
	return &textParser{
		re:        re,
		iTime:     re.SubexpIndex("time"),
		iLevel:    re.SubexpIndex("level"),
		iEnt:      re.SubexpIndex("entity"),
		iMsg:      re.SubexpIndex("message"),
		entity:    fixedEntity,
		timeParse: tp,
	}
}

func (p *textParser) parse(line string, rec *pipeline.LogRecord) (problem, bool) {
	m := p.re.FindStringSubmatchIndex(line)
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
