package publish

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string
	}{
		{"2026-01-08", ""},
		{"v1.2_rc-3", ""},
		{"", "empty name"},
		{".", `"." is not allowed`},
		{"..", `".." is not allowed`},
		{"a/b", "not allowed"},
		{"a b", "not allowed"},
		{"date=2026", "'=' not allowed"},
		{"ünï", "not allowed"},
		{strings.Repeat("a", 129), "longer than 128"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateName("version", tc.name)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

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

func TestKey(t *testing.T) {
	tests := []struct {
		prefix string
		segs   []string
		want   string
	}{
		{"", []string{"ds", "v1", "manifest.json"}, "ds/v1/manifest.json"},
		{"a/b", []string{"ds", "latest"}, "a/b/ds/latest"},
	}
	for _, tc := range tests {
		if got := key(tc.prefix, tc.segs...); got != tc.want {
			t.Errorf("key(%q, %q) = %q, want %q", tc.prefix, tc.segs, got, tc.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
