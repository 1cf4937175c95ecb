package pipeline

import (
	"strings"
	"testing"
)

func TestDescribeShape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty value"},
		{"AKIAIOSFODNN7EXAMPLE1234", "value of 24 chars [A-Z0-9]"},
		{"x", "value of 1 char [a-z]"},
		{"carol@example.com", "value of 17 chars [a-z punct]"},
		{"2024-01-02 10:00", "value of 16 chars [0-9 punct space]"},
		{"Zürich", "value of 6 chars [A-Za-z non-ASCII]"},
		{"\xff\xfe", "value of 2 chars [invalid UTF-8]"},
		{"Europe/Nowhere", "value of 14 chars [A-Za-z punct]"},
	} {
		got := DescribeShape(tc.in)
		if got != tc.want {
			t.Errorf("DescribeShape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// The description never quotes the value (beyond one character).
		if len(tc.in) > 3 && strings.Contains(got, tc.in) {
			t.Errorf("DescribeShape(%q) quotes the value: %q", tc.in, got)
		}
	}
}
