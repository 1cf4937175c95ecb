package schemas

import (
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
		if got := Key(tc.prefix, tc.segs...); got != tc.want {
			t.Errorf("Key(%q, %q) = %q, want %q", tc.prefix, tc.segs, got, tc.want)
		}
	}
}
