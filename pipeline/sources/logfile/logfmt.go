package logfile

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// logfmtPair is one key=value of a logfmt line; a bare key has an empty
// value.
type logfmtPair struct{ key, value string }

// scanLogfmt appends the pairs of one logfmt line (no newline) to dst, in
// the line's order, with go-logfmt's syntax exactly (FuzzLogfmtScan holds
// the two to the same pairs and the same verdict). Keys and values point
// into line; only a quoted value with escapes is copied.
//
// go-logfmt reads through a bufio.Scanner made per Decoder: 4 KiB and a
// dozen allocations a line, and nothing at all from a line over 64 KiB
// (docs/decisions/0045-logfmt-scanner.md).
func scanLogfmt(line string, dst []logfmtPair) ([]logfmtPair, bool) {
	pos := 0
	for {
		// Between pairs, any byte up to the space is skipped.
		for pos < len(line) && line[pos] <= ' ' {
			pos++
		}
		if pos == len(line) {
			return dst, true
		}
		start, multibyte := pos, false
		for ; pos < len(line); pos++ {
			c := line[pos]
			if c == '=' || c <= ' ' {
				break
			}
			if c == '"' {
				return dst, false
			}
			if c >= utf8.RuneSelf {
				multibyte = true
			}
		}
		key := line[start:pos]
		if key == "" || multibyte && strings.ContainsRune(key, utf8.RuneError) {
			return dst, false // "=v", or a key with an invalid byte
		}
		if pos == len(line) || line[pos] != '=' {
			dst = append(dst, logfmtPair{key: key})
			continue
		}
		pos++ // the '='
		if pos == len(line) || line[pos] <= ' ' {
			dst = append(dst, logfmtPair{key: key})
			continue
		}
		if line[pos] == '"' {
			value, next, ok := quotedLogfmt(line, pos)
			if !ok {
				return dst, false
			}
			dst = append(dst, logfmtPair{key, value})
			pos = next
			continue
		}
		start = pos
		for ; pos < len(line) && line[pos] > ' '; pos++ {
			if c := line[pos]; c == '=' || c == '"' {
				return dst, false
			}
		}
		dst = append(dst, logfmtPair{key, line[start:pos]})
	}
}

// quotedLogfmt reads the quoted value opening at line[open] and returns it
// unquoted with the offset just past its closing quote. Unterminated or
// badly escaped values are not logfmt.
func quotedLogfmt(line string, open int) (value string, next int, ok bool) {
	escaped := false
	for i := open + 1; i < len(line); i++ {
		switch line[i] {
		case '\\':
			escaped = true
			i++ // the escaped byte cannot close the value
		case '"':
			if !escaped {
				return line[open+1 : i], i + 1, true
			}
			value, ok = unquoteLogfmt(line[open+1 : i])
			return value, i + 1, ok
		}
	}
	return "", len(line), false
}

// unquoteLogfmt resolves the escapes of a quoted value's text (without
// its quotes): JSON's, plus \'. Control bytes are not allowed once a
// value has an escape, as in go-logfmt.
func unquoteLogfmt(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 == len(s) {
				return "", false
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/', '\'':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := hex4(s[i+2:])
				if !ok {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A pair takes the next \uXXXX too; a lone half is U+FFFD.
					r2, ok2 := rune(-1), false
					if strings.HasPrefix(s[i:], `\u`) {
						r2, ok2 = hex4(s[i+2:])
					}
					if d := utf16.DecodeRune(r, r2); ok2 && d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b.WriteRune(r)
				continue
			default:
				return "", false
			}
			i += 2
		case c == '"' || c < ' ':
			return "", false
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r) // an invalid byte becomes U+FFFD
			i += size
		}
	}
	return b.String(), true
}

// hex4 reads the four hex digits opening s.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(s[:4], 16, 32)
	return rune(n), err == nil
}

// logfmtRecord is a line's pairs with each key once, in the order of its
// first occurrence, holding its last value (go-logfmt's Decoder gives every
// pair; a repeated key's last value is the one a reader means).
func logfmtRecord(pairs []logfmtPair) []logfmtPair {
	out := pairs[:0]
	var at map[string]int // for lines with many keys
	for _, p := range pairs {
		j := -1
		if at != nil {
			if k, ok := at[p.key]; ok {
				j = k
			}
		} else {
			for k := range out {
				if out[k].key == p.key {
					j = k
					break
				}
			}
		}
		if j >= 0 {
			out[j].value = p.value
			continue
		}
		out = append(out, p)
		if at == nil && len(out) > 32 {
			at = make(map[string]int, 2*len(out))
			for k, q := range out {
				at[q.key] = k
			}
		} else if at != nil {
			at[p.key] = len(out) - 1
		}
	}
	return out
}
