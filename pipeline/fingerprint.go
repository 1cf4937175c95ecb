package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Fingerprinter is implemented by the configs of components whose inputs
// can be fingerprinted without reading their contents: files by path, size
// and modification time, TSDB blocks by their meta.json. When every input
// of a run has a fingerprint and they all equal those of the published
// version, the run is recognised as already published before any data is
// read. Remote sources (a live Prometheus, Loki, GitHub, Jira,
// Alertmanager) have none: their runs always read.
type Fingerprinter interface {
	Fingerprint(ctx context.Context) (string, error)
}

// FingerprintFiles fingerprints the files matching globs: each file's path,
// size and modification time, sorted, hashed. A glob matching nothing is
// part of the fingerprint too (its files may appear later).
func FingerprintFiles(globs ...string) (string, error) {
	h := sha256.New()
	for _, g := range globs {
		files, err := filepath.Glob(g)
		if err != nil {
			return "", fmt.Errorf("fingerprint %q: %w", g, err)
		}
		sort.Strings(files)
		fmt.Fprintf(h, "glob %q %d\n", g, len(files))
		for _, f := range files {
			st, err := os.Stat(f)
			if err != nil {
				return "", fmt.Errorf("fingerprint %s: %w", f, err)
			}
			fmt.Fprintf(h, "%q %d %d\n", f, st.Size(), st.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
