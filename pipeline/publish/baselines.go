package publish

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opsdata/opsdata/schemas"
)

// loadBaselines reads the spec's baselines results file for the manifest.
// Results computed on other windows than the staged ones (files) are not
// shown: the record says why (Stale), and the card says how to refresh
// them. So is a file that does not exist (relative paths are relative to
// the directory opsdata runs in, and tests run the demo spec elsewhere): a
// card never shows figures it cannot check, and the export does not fail
// for them. A file that exists but does not parse is an error.
func loadBaselines(path string, files []schemas.File) (*schemas.ManifestBaselines, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &schemas.ManifestBaselines{
			File:      filepath.Base(path),
			Stale:     fmt.Sprintf("the spec's baselines file %s was not found from the directory opsdata ran in", path),
			Baselines: []schemas.Baseline{},
		}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("prepare: spec baselines: %w; write it with scripts/baselines.sh, or remove baselines: from the spec", err)
	}
	r, err := schemas.ParseBaselineResults(b)
	if err != nil {
		return nil, fmt.Errorf("prepare: spec baselines: %s: %w", path, err)
	}
	mb := &schemas.ManifestBaselines{
		File: filepath.Base(path), ComputedOn: r.ComputedOn, WindowsDigest: r.WindowsDigest,
		Generator: r.Generator, Split: r.Split, Baselines: r.Baselines,
	}
	if got := schemas.WindowsDigest(files); got != r.WindowsDigest {
		mb.Stale = fmt.Sprintf("%s was computed on windows %s (version %s), this version's windows are %s", mb.File, r.WindowsDigest, r.ComputedOn, orDash(got))
		mb.Baselines = []schemas.Baseline{}
	}
	return mb, nil
}
