package publish

import (
	"slices"
	"sort"
	"testing"
)

func TestVersionLess(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"v10", "v2", "v1"}, []string{"v1", "v2", "v10"}},
		{[]string{"2026-01-10", "2026-01-09", "2025-12-31"}, []string{"2025-12-31", "2026-01-09", "2026-01-10"}},
		{[]string{"2026-01-08-fix", "2026-01-08", "2026-01-09"}, []string{"2026-01-08", "2026-01-08-fix", "2026-01-09"}},
		{[]string{"v01", "v1", "v001"}, []string{"v1", "v01", "v001"}},
		{[]string{"b", "a", "B"}, []string{"B", "a", "b"}},
	}
	for _, tc := range tests {
		got := slices.Clone(tc.in)
		sort.Slice(got, func(i, j int) bool { return versionLess(got[i], got[j]) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("sort %q = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
