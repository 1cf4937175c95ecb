package pipeline

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DescribeShape says what a raw value looks like without quoting any of it:
// its length and the classes of characters it holds, e.g.
// "value of 24 chars [A-Z0-9]". Problem examples (Problems.Add's detail)
// use it for malformed input: a bad timestamp may be a pasted secret, and
// the manifest that reports it is published.
func DescribeShape(s string) string {
	if s == "" {
		return "empty value"
	}
	n := utf8.RuneCountInString(s)
	var upper, lower, digit, space, punct, other, invalid bool
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		i += w
		switch {
		case r == utf8.RuneError && w == 1:
			invalid = true
		case 'A' <= r && r <= 'Z':
			upper = true
		case 'a' <= r && r <= 'z':
			lower = true
		case '0' <= r && r <= '9':
			digit = true
		case unicode.IsSpace(r):
			space = true
		case r < utf8.RuneSelf && unicode.IsPrint(r):
			punct = true
		default:
			other = true
		}
	}
	var b strings.Builder
	b.WriteByte('[')
	for _, c := range []struct {
		on   bool
		name string
	}{{upper, "A-Z"}, {lower, "a-z"}, {digit, "0-9"}} {
		if c.on {
			b.WriteString(c.name)
		}
	}
	var extra []string
	if punct {
		extra = append(extra, "punct")
	}
	if space {
		extra = append(extra, "space")
	}
	if other {
		extra = append(extra, "non-ASCII")
	}
	if invalid {
		extra = append(extra, "invalid UTF-8")
	}
	if len(extra) > 0 {
		if b.Len() > 1 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.Join(extra, " "))
	}
	b.WriteByte(']')
	unit := "chars"
	if n == 1 {
		unit = "char"
	}
	return fmt.Sprintf("value of %d %s %s", n, unit, b.String())
}
