package publish

import (
	"strings"
)

// versionLess orders version names naturally: digit runs compare as
// numbers, so "v2" < "v10" and ISO dates sort by date.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		switch {
		case da && db:
			na, ra := cutDigits(a)
			nb, rb := cutDigits(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			if len(na) != len(nb) { // "01" vs "1": fewer leading zeros first
				return len(na) < len(nb)
			}
			a, b = ra, rb
		default:
			if a[0] != b[0] {
				return a[0] < b[0]
			}
			a, b = a[1:], b[1:]
		}
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func cutDigits(s string) (digits, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// VersionLess orders version names as the catalog does: digit runs compare
// as numbers (v2 < v10, ISO dates by date). The last is the newest.
func VersionLess(a, b string) bool { return versionLess(a, b) }
