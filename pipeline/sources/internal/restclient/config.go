package restclient

import (
	"fmt"
	"os"
	"time"
)

// Location loads the spec's timezone (for timestamps without an offset);
// "" gives nil, which the sources read as UTC. where prefixes the error.
func Location(where, tz string) (*time.Location, error) {
	if tz == "" {
		return nil, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("%s: timezone %q: %w", where, tz, err)
	}
	return loc, nil
}

// Env returns the value of the env variable name, which the spec field
// field (token_env, user_env) named; an empty value is an error.
func Env(where, field, name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s: env variable %s named by %s is empty (export it or drop %s)", where, name, field, field)
	}
	return v, nil
}
