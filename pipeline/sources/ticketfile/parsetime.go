package ticketfile

import "time"

// ParseTime parses a ticket timestamp as the file sources do: RFC 3339 (a
// space allowed for the T), or a naive timestamp in loc (nil loc: naive is
// an error). reason is "" on success, else one of the Reason constants, with
// detail saying what is wrong. Remote ticket sources (github, jira) share it.
func ParseTime(s string, loc *time.Location) (t time.Time, reason, detail string) {
	return parseTime(s, loc)
}
