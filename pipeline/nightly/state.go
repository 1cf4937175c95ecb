package nightly

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/thanos-io/objstore"
	"gopkg.in/yaml.v3"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// State is what a nightly run leaves for the next one, stored beside the
// snapshot it belongs to (_state/nightly/<snapshot>.json) and written before that
// snapshot's manifest: the visible manifest commits both.
type State struct {
	FormatVersion int       `json:"format_version"`
	Snapshot      string    `json:"snapshot"`
	Start         time.Time `json:"start"`
	// Watermark is the end (exclusive, a UTC midnight) of the days published.
	Watermark time.Time `json:"watermark"`
	// Inputs maps an input (spec, key, metrics, logs/<name>, labelers[i]) to
	// the fingerprint of its files (names, sizes, modification times).
	Inputs map[string]string `json:"inputs"`
	// Tickets are the tickets as last published, by source/id.
	Tickets map[string]TicketState `json:"tickets"`
	// DaysPublished counts day partitions written over the dataset's life.
	DaysPublished int64 `json:"days_published"`
	// Labels digests each day's label columns of windows (labels.go), so
	// the changelog tells a relabelled day from one whose other columns moved.
	Labels map[string]string `json:"labels,omitempty"`
	// Checkpoint is set when the snapshot's export left a checkpoint
	// (checkpointKey): the next night resumes from it at the watermark.
	Checkpoint bool `json:"checkpoint,omitempty"`
}

// TicketState is what a ticket looked like when last published.
type TicketState struct {
	Digest      string     `json:"digest"`
	Created     time.Time  `json:"created"`
	ImpactStart *time.Time `json:"impact_start,omitempty"`
	Resolved    *time.Time `json:"resolved,omitempty"`
}

func stateKey(prefix, dataset, snapshot string) string {
	return schemas.Key(prefix, dataset, schemas.StateDir, "nightly", snapshot+".json")
}

// checkpointKey is where a snapshot's export checkpoint is kept, sealed
// with the pseudonymization key (runner.Resume).
func checkpointKey(prefix, dataset, snapshot string) string {
	return schemas.Key(prefix, dataset, schemas.StateDir, "nightly", snapshot+checkpointExt)
}

const checkpointExt = ".checkpoint"

// loadState finds the newest nightly snapshot of the dataset (a version
// whose manifest has a changelog) and its state. No snapshot: nil, nil.
func loadState(ctx context.Context, bkt objstore.BucketReader, prefix, dataset string) (*State, *schemas.Manifest, error) {
	versions, err := listVersions(ctx, bkt, prefix, dataset)
	if err != nil {
		return nil, nil, err
	}
	for i := len(versions) - 1; i >= 0; i-- {
		m, err := bucket.ReadManifest(ctx, bkt, prefix, dataset, versions[i])
		if errors.Is(err, bucket.ErrNotFound) {
			continue // an upload that never committed
		}
		if err != nil {
			return nil, nil, err
		}
		if m.Changelog == nil {
			continue // a one-off export, not a snapshot
		}
		var st State
		if err := bucket.ReadJSON(ctx, bkt, stateKey(prefix, dataset, m.Version), &st); err != nil {
			return nil, nil, fmt.Errorf("snapshot %s: %w", m.Version, err)
		}
		return &st, m, nil
	}
	return nil, nil, nil
}

// listVersions lists the version directories of a dataset, oldest first.
func listVersions(ctx context.Context, bkt objstore.BucketReader, prefix, dataset string) ([]string, error) {
	ddir := schemas.Key(prefix, dataset) + "/"
	var out []string
	err := bkt.Iter(ctx, ddir, func(name string) error {
		if v, ok := strings.CutSuffix(name, "/"); ok {
			v = filepath.Base(v)
			if schemas.ValidateName("version", v) == nil && !reservedDirs[v] {
				out = append(out, v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", ddir, err)
	}
	sort.Slice(out, func(i, j int) bool { return publish.VersionLess(out[i], out[j]) })
	return out, nil
}

// reservedDirs are the dataset's own directories that are not versions.
var reservedDirs = map[string]bool{schemas.PartsDir: true, schemas.CurrentDir: true, schemas.StateDir: true}

// fingerprints of the inputs named by the spec: the spec itself, the key
// epoch, and per component the files its path-like keys name (globs
// expanded, directories walked): names, sizes and modification times,
// never contents, so a no-op check reads no metrics or logs. A remote
// source (no path) fingerprints as its config only: its late data is seen
// when a new day or a ticket change triggers a run.
func fingerprints(s *spec.Spec, specBytes []byte, keyEpoch string) (map[string]string, error) {
	out := map[string]string{}
	out["spec"] = specFingerprint(specBytes)
	out["key"] = keyEpoch
	add := func(name string, sec spec.Section) error {
		fp, err := fingerprintPaths(sec.Paths("path", "paths", "rules", "file", "files", "dir"))
		if err != nil {
			return fmt.Errorf("fingerprint %s: %w", name, err)
		}
		out[name] = fp
		return nil
	}
	if len(s.Metrics.Features) > 0 {
		if err := add("metrics", s.Metrics.Config); err != nil {
			return nil, err
		}
	}
	for _, l := range s.Logs {
		if err := add("logs/"+l.Name, l.Config); err != nil {
			return nil, err
		}
	}
	for i, l := range s.Labelers {
		if err := add(fmt.Sprintf("labelers[%d]:%s", i, l.Kind), l.Config); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ignoredFiles change without the data changing (a TSDB's lock file);
// ignoredDirs are a live TSDB's write-ahead log and head chunks, which
// change every few seconds: late samples are seen once compacted into a
// block (within about 2 hours, before nightly.settle has passed).
var (
	ignoredFiles = map[string]bool{"lock": true}
	ignoredDirs  = map[string]bool{"wal": true, "wbl": true, "chunks_head": true}
)

func fingerprintPaths(paths []string) (string, error) {
	var lines []string
	stat := func(p string, fi fs.FileInfo) {
		lines = append(lines, fmt.Sprintf("%s\t%d\t%d", p, fi.Size(), fi.ModTime().UnixNano()))
	}
	for _, pat := range paths {
		matches, err := filepath.Glob(pat)
		if err != nil {
			return "", err
		}
		for _, m := range matches {
			fi, err := os.Stat(m)
			if err != nil {
				return "", err
			}
			if !fi.IsDir() {
				stat(m, fi)
				continue
			}
			err = filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() {
					if p != m && ignoredDirs[d.Name()] {
						return filepath.SkipDir
					}
					return nil
				}
				if ignoredFiles[d.Name()] {
					return nil
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				stat(p, fi)
				return nil
			})
			if err != nil {
				return "", err
			}
		}
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ticketStates digests every ticket as read by the ticket sources.
func ticketStates(ts []pipeline.Ticket) map[string]TicketState {
	out := map[string]TicketState{}
	for _, t := range ts {
		c := t
		c.Where = ""
		b, _ := json.Marshal(c)
		sum := sha256.Sum256(b)
		out[t.Source+"/"+t.ID] = TicketState{Digest: hex.EncodeToString(sum[:]), Created: t.Created.UTC(), ImpactStart: utcPtr(t.ImpactStart), Resolved: utcPtr(t.Resolved)}
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// specFingerprint digests the spec without its nightly section: changing
// retention or where metrics are pushed does not re-export the dataset.
func specFingerprint(b []byte) string {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err == nil && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "nightly" {
				m.Content = append(m.Content[:i:i], m.Content[i+2:]...)
				break
			}
		}
		if out, err := yaml.Marshal(&doc); err == nil {
			b = out
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
