package publish

import (
	"fmt"
	"path"
	"strings"
)

// ValidateName checks a dataset or version name: [A-Za-z0-9._-]+, not "."
// or "..", at most 128 bytes. what names the field for the error.
func ValidateName(what, name string) error {
	err := checkSegment(name)
	if err == nil && strings.Contains(name, "=") {
		err = fmt.Errorf("character '=' not allowed; use [A-Za-z0-9._-]")
	}
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, name, err)
	}
	return nil
}

// checkSegment checks one path segment of an object key. The same rule
// keeps keys portable across S3 and filesystems and keeps SHA256SUMS in the
// plain (unescaped) coreutils format. '=' is allowed for Hive partitions.
func checkSegment(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%q is not allowed", s)
	}
	if len(s) > 128 {
		return fmt.Errorf("longer than 128 bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '='
		if !ok {
			return fmt.Errorf("character %q not allowed; use [A-Za-z0-9._=-]", c)
		}
	}
	return nil
}

// validatePrefix accepts "" or slash-separated valid segments.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	for _, seg := range strings.Split(prefix, "/") {
		if err := checkSegment(seg); err != nil {
			return fmt.Errorf("prefix %q: %w", prefix, err)
		}
	}
	return nil
}

// key joins a prefix and segments into an object key.
func key(prefix string, segs ...string) string {
	return path.Join(append([]string{prefix}, segs...)...)
}

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
