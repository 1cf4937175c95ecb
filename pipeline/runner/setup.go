package runner

import (
	"fmt"
	"log/slog"
	"os"
)

// runLogger is the run's logger: l, or one that discards when l is nil.
func runLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// makeStaging creates the run's staging directory under tempDir (the
// system temp dir when ""); the caller removes it.
func makeStaging(tempDir string) (string, error) {
	dir, err := os.MkdirTemp(tempDir, "opsdata-staging-")
	if err != nil {
		return "", fmt.Errorf("staging dir: %w", err)
	}
	return dir, nil
}
