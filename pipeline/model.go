package pipeline

import (
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
