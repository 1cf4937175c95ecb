package restclient

import (
	"strings"
	"testing"
)

func TestLocation(t *testing.T) {
	for _, tc := range []struct {
		tz, want, err string
	}{
		{tz: "", want: ""},
		{tz: "Europe/Berlin", want: "Europe/Berlin"},
		{tz: "Mars/Olympus", err: `src: timezone "Mars/Olympus"`},
	} {
		loc, err := Location("src", tc.tz)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Location(%q) error = %v, want %q", tc.tz, err, tc.err)
			}
		case err != nil:
			t.Errorf("Location(%q): %v", tc.tz, err)
		case tc.want == "" && loc != nil:
			t.Errorf("Location(%q) = %v, want nil", tc.tz, loc)
		case tc.want != "" && (loc == nil || loc.String() != tc.want):
			t.Errorf("Location(%q) = %v, want %s", tc.tz, loc, tc.want)
		}
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("RESTCLIENT_TEST_SET", "tok")
	t.Setenv("RESTCLIENT_TEST_EMPTY", "")
	if v, err := Env("src", "token_env", "RESTCLIENT_TEST_SET"); err != nil || v != "tok" {
		t.Errorf("Env(set) = %q, %v", v, err)
	}
	_, err := Env("src", "user_env", "RESTCLIENT_TEST_EMPTY")
	if err == nil || !strings.Contains(err.Error(), "src: env variable RESTCLIENT_TEST_EMPTY named by user_env is empty") {
		t.Errorf("Env(empty) error = %v", err)
	}
}
