package main

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

func TestSetMemLimit(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name    string
		ratio   float64
		env     string // GOMEMLIMIT
		want    int64  // the soft limit after; 0: unchanged
		wantErr bool
	}{
		{name: "share of the container's limit", ratio: 0.75, want: gib * 3 / 4},
		{name: "off", ratio: 0},
		{name: "GOMEMLIMIT wins", ratio: 0.9, env: "768MiB"},
		{name: "not a share", ratio: 1.5, wantErr: true},
		{name: "negative", ratio: -0.1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := debug.SetMemoryLimit(-1)
			t.Cleanup(func() { debug.SetMemoryLimit(before) })
			t.Setenv("GOMEMLIMIT", tc.env)
			t.Setenv("AUTOMEMLIMIT", "") // restored after the test
			os.Unsetenv("AUTOMEMLIMIT")
			err := setMemLimit(tc.ratio, memlimit.Limit(gib))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			want := tc.want
			if want == 0 {
				want = before
			}
			if got := debug.SetMemoryLimit(-1); got != want {
				t.Errorf("soft limit %d, want %d", got, want)
			}
		})
	}
}
