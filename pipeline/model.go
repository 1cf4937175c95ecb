package pipeline

import (
	"strings"
	"time"
)

// Ticket is an incident ticket as a ticket source reads it, before
// anonymization. Times are UTC; a nil ImpactStart falls back to Created, a
// nil Resolved means the ticket is still open.
type Ticket struct {
	ID          string
	Source      string // name of the ticket source in the spec
	Title       string
	Body        string
	Status      string
	Severity    string
	Type        string // incident type, when the ticket system records one
	Created     time.Time
	ImpactStart *time.Time
	Resolved    *time.Time
	Entities    []string
	Where       string // file:line or URL, for error messages
}

// Incident sources, the provenance every label carries.
const (
	SourceTicket   = "ticket"
	SourceAlert    = "alert"
	SourceRule     = "rule"
	SourceManual   = "manual"
	SourceInjected = "injected"
)

// Confidence of a label by where it came from (Incident.Confidence): a
// ticket with its impact start, a ticket known only from its creation time
// (impact began earlier by an unknown amount), a firing alert or rule, an
// alert a human silenced (maintenance, a known false alarm), a curated file.
const (
	ConfidenceImpactStart   = 1.0
	ConfidenceCreated       = 0.8
	ConfidenceAlert         = 0.7
	ConfidenceRule          = 0.7
	ConfidenceSilencedAlert = 0.3
	ConfidenceManual        = 1.0
)

// Incident is one labelled interval for one entity. The cause interval is
// [Start, End); End == nil means the end is unknown (still open at export
// time). EffectEnd, when known, extends the effect until metrics recovered.
type Incident struct {
	ID         string
	Entity     string
	Start      time.Time
	End        *time.Time
	EffectEnd  *time.Time
	Severity   string
	Type       string
	Source     string
	SourceID   string
	Confidence float64
	Title      string
}

// Log levels counted per window. Anything else counts as LevelOther.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
	LevelOther = "other"
)

// LogLevels lists the counted levels in column order.
var LogLevels = []string{LevelDebug, LevelInfo, LevelWarn, LevelError, LevelOther}

// LogRecord is one parsed log entry before anonymization.
type LogRecord struct {
	Time    time.Time
	Entity  string
	Level   string // normalized: one of LogLevels
	Message string
	// Fields holds structured fields the format carried (for JSON lines),
	// in the line's order; the anonymizer uses them to learn raw
	// identifiers. A key may repeat: its last occurrence counts (Field).
	Fields []LogField
	Source string // source name from the spec
	File   string // file the line came from (base name)
	// Path is the file's path when the source reads files (never
	// published): files of one source may share a base name
	// (/var/log/pods/*/app/0.log).
	Path string
	Line int64
}

// LogField is one structured field of a log line.
type LogField struct{ Key, Value string }

// Field returns the value of key's last occurrence in Fields, as a JSON
// object decoded into a map would hold it.
func (r *LogRecord) Field(key string) (string, bool) {
	return FieldOf(r.Fields, key)
}

// FieldOf returns the value of key's last occurrence in fields.
func FieldOf(fields []LogField, key string) (string, bool) {
	for i := len(fields) - 1; i >= 0; i-- {
		if fields[i].Key == key {
			return fields[i].Value, true
		}
	}
	return "", false
}

// FieldSlab hands out the Fields of many records from shared blocks: a
// map (or a slice) per line was a fifth of the logs path's allocations.
// Each record's slice is capped, so appending to it never reaches the next
// record's fields. Not safe for concurrent use; the zero value is ready.
type FieldSlab struct {
	block []LogField
	start int
}

// fieldSlabBlock is the fields a block holds (~96 KiB).
const fieldSlabBlock = 3072

// Add appends a field to the record being built.
func (s *FieldSlab) Add(key, value string) {
	if len(s.block) == cap(s.block) {
		n := len(s.block) - s.start
		next := make([]LogField, n, max(fieldSlabBlock, 2*n))
		copy(next, s.block[s.start:])
		s.block, s.start = next, 0
	}
	s.block = append(s.block, LogField{key, value})
}

// Take returns the fields added since the last Take (nil if none).
func (s *FieldSlab) Take() []LogField {
	if s.start == len(s.block) {
		return nil
	}
	f := s.block[s.start:len(s.block):len(s.block)]
	s.start = len(s.block)
	return f
}

// NormalizeLevel maps the many spellings of log levels onto LogLevels.
func NormalizeLevel(s string) string {
	// Lower-cased on the stack: it runs for every log line, and a
	// converted string would be two allocations a line.
	var buf [16]byte
	if len(s) > len(buf) {
		return LevelOther // no level name is that long
	}
	b := buf[:len(s)]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	switch string(b) {
	// The numbers are pino's and bunyan's levels (trace 10 ... fatal 60);
	// fine, finer, finest, config and severe are java.util.logging's,
	// verbose Serilog's, dpanic zap's.
	case "debug", "dbg", "trace", "d", "t", "10", "20", "fine", "finer", "finest", "verbose":
		return LevelDebug
	case "info", "inf", "information", "informational", "notice", "i", "30", "config":
		return LevelInfo
	case "warn", "warning", "wrn", "w", "40":
		return LevelWarn
	case "error", "err", "fatal", "critical", "crit", "panic", "dpanic", "alert", "emerg", "emergency", "severe", "e", "f", "50", "60":
		return LevelError
	}
	return LevelOther
}

// IncidentLess orders by (Start, Entity, ID), then by the remaining fields
// so duplicate ids from different ticket sources still sort deterministically.
func IncidentLess(a, b *Incident) bool {
	if !a.Start.Equal(b.Start) {
		return a.Start.Before(b.Start)
	}
	if a.Entity != b.Entity {
		return a.Entity < b.Entity
	}
	if a.ID != b.ID {
		return a.ID < b.ID
	}
	ae, be := endKey(a.End), endKey(b.End)
	if ae != be {
		return ae < be
	}
	if a.Severity != b.Severity {
		return a.Severity < b.Severity
	}
	return a.Title < b.Title
}

func endKey(t *time.Time) int64 {
	if t == nil {
		return 1<<63 - 1
	}
	return t.UnixNano()
}

// Severities is the closed vocabulary of published severities, highest
// first. Sources' spellings map onto it (severityAliases); anything else is
// "unknown" in the published tables and counted as bad input.
var Severities = []string{"critical", "major", "minor", "warning", "info", "unknown"}

var severityAliases = map[string]string{
	"crit": "critical", "fatal": "critical", "emergency": "critical", "emerg": "critical", "blocker": "critical",
	"highest": "critical", "page": "critical", "sev1": "critical", "sev-1": "critical", "p1": "critical", "s1": "critical",
	"high": "major", "error": "major", "err": "major", "sev2": "major", "sev-2": "major", "p2": "major", "s2": "major",
	"medium": "minor", "moderate": "minor", "sev3": "minor", "sev-3": "minor", "p3": "minor", "s3": "minor",
	"warn": "warning", "low": "warning", "sev4": "warning", "sev-4": "warning", "p4": "warning", "s4": "warning",
	"information": "info", "informational": "info", "notice": "info", "lowest": "info", "trivial": "info",
	"sev5": "info", "sev-5": "info", "p5": "info", "s5": "info",
}

// NormalizeSeverity maps a source's severity onto Severities when it is a
// known spelling; empty is "unknown"; any other value comes back lower-cased
// (SeverityKnown tells, so the runner can report and replace it).
func NormalizeSeverity(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "unknown"
	}
	if v, ok := severityAliases[s]; ok {
		return v
	}
	return s
}

// SeverityKnown reports whether s is a term of Severities.
func SeverityKnown(s string) bool {
	for _, v := range Severities {
		if v == s {
			return true
		}
	}
	return false
}

// Ticket statuses as published (a closed vocabulary, like severities).
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
	StatusClosed   = "closed"
	StatusOther    = "other"
)

var statusAliases = map[string]string{
	"open": StatusOpen, "opened": StatusOpen, "new": StatusOpen, "to do": StatusOpen, "todo": StatusOpen,
	"in progress": StatusOpen, "investigating": StatusOpen, "identified": StatusOpen, "monitoring": StatusOpen,
	"acknowledged": StatusOpen, "triggered": StatusOpen, "firing": StatusOpen, "reopened": StatusOpen,
	"resolved": StatusResolved, "fixed": StatusResolved, "mitigated": StatusResolved, "done": StatusResolved,
	"closed": StatusClosed, "cancelled": StatusClosed, "canceled": StatusClosed, "won't fix": StatusClosed,
	"wontfix": StatusClosed, "duplicate": StatusClosed, "rejected": StatusClosed,
}

// NormalizeStatus maps a ticket system's status onto the published
// vocabulary; ok is false for a status it does not know (published as
// "other", never as written: a status is free text in some systems).
func NormalizeStatus(s string) (string, bool) {
	v, ok := statusAliases[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return StatusOther, false
	}
	return v, true
}

// CleanEntities trims, drops blanks and de-duplicates, keeping first-seen order.
func CleanEntities(in []string) []string {
	out := make([]string, 0, len(in))
	for _, e := range in {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		dup := false
		for _, o := range out {
			if o == e {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

// NormalizeType is the incident type a source states, "unknown" when it has none.
func NormalizeType(t string) string {
	if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
		return t
	}
	return "unknown"
}
