package runner

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/opsdata/opsdata/internal/scratch"
)

// runLogger is the run's logger: l, or one that discards when l is nil.
func runLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// makeStaging creates the run's staging directory under tempDir (the
// system temp dir when ""): the version's files go into its "version"
// subdirectory, beside (never among) the scratch owner mark; cleanup
// removes both.
func makeStaging(tempDir string) (staging string, cleanup func(), err error) {
	dir, err := scratch.Dir(tempDir, "opsdata-staging-")
	if err != nil {
		return "", nil, fmt.Errorf("staging dir: %w", err)
	}
	staging = filepath.Join(dir, "version")
	if err := os.Mkdir(staging, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("staging dir: %w", err)
	}
	return staging, func() { os.RemoveAll(dir) }, nil
}

// sweepScratch removes the temporary directories crashed runs left in
// tempDir and the system temp dir (internal/scratch: only opsdata's own,
// only when their owner is gone).
func sweepScratch(log *slog.Logger, tempDir string) {
	dirs := []string{""}
	if tempDir != "" && tempDir != os.TempDir() {
		dirs = append(dirs, tempDir)
	}
	for _, d := range dirs {
		n, err := scratch.Sweep(d, scratch.Grace, time.Now())
		if n > 0 {
			log.Info("removed temporary directories of crashed runs", "count", n, "dir", d)
		}
		if err != nil {
			log.Warn("sweeping temporary directories", "err", err)
		}
	}
}
