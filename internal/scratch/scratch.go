// Package scratch makes the temporary directories of a run and removes
// those that crashed runs left behind. Each directory carries an owner
// file (the process id), so a later run removes only directories that are
// opsdata's own and whose owner is gone, never another live run's.
package scratch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Prefixes are the names of opsdata's temporary directories.
var Prefixes = []string{"opsdata-staging-", "opsdata-tsdb-", "opsdata-promfile-"}

// ownerFile marks a directory as opsdata's; it holds the owner's pid.
const ownerFile = ".opsdata-owner"

// Grace is how old an ownerless or abandoned directory must be before a
// sweep removes it: a run that just started may not have written its mark.
const Grace = time.Hour

// Dir creates a temporary directory named prefix* under parent (the system
// temp dir when "") and marks it as this process's.
func Dir(parent, prefix string) (string, error) {
	dir, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// Sweep removes the directories under parent (the system temp dir when "")
// that a crashed run left: named with one of Prefixes, marked as opsdata's,
// older than grace, and whose owner process is no longer alive. It returns
// how many it removed; a directory it cannot judge is left alone.
func Sweep(parent string, grace time.Duration, now time.Time) (int, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		return 0, fmt.Errorf("sweep %s: %w", parent, err)
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !hasPrefix(e.Name()) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not marked: not provably ours
		}
		st, err := os.Stat(filepath.Join(dir, ownerFile))
		if err != nil || now.Sub(st.ModTime()) < grace {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || alive(pid) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

func hasPrefix(name string) bool {
	for _, p := range Prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// alive reports whether a process with pid exists (signal 0 probes it).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
