package main

import (
	"testing"
	"time"
)

func TestParseTimeRelativeDays(t *testing.T) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, tc := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "", want: time.Time{}},
		{in: "2026-01-05", want: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)},
		{in: "2026-01-05T06:00:00+02:00", want: time.Date(2026, 1, 5, 4, 0, 0, 0, time.UTC)},
		{in: "today", want: today},
		{in: "yesterday", want: today.Add(-24 * time.Hour)},
		{in: "tomorrow", bad: true},
	} {
		got, err := parseTime("--from", tc.in)
		if (err != nil) != tc.bad || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
