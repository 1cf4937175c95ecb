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
	// Fields holds structured fields the format carried (for JSON lines);
	// the anonymizer uses them to learn raw identifiers.
	Fields map[string]string
	Source string // source name from the spec
	File   string // file the line came from (base name)
	Line   int64
}

// NormalizeLevel maps the many spellings of log levels onto LogLevels.
func NormalizeLevel(s string) string {
	switch toLower(s) {
	case "debug", "dbg", "trace", "d", "t":
		return LevelDebug
	case "info", "inf", "information", "notice", "i":
		return LevelInfo
	case "warn", "warning", "wrn", "w":
		return LevelWarn
	case "error", "err", "fatal", "critical", "crit", "panic", "alert", "emerg", "e", "f":
		return LevelError
	}
	return LevelOther
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
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

// NormalizeSeverity lower-cases a severity; empty is "unknown".
func NormalizeSeverity(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "unknown"
	}
	return s
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
