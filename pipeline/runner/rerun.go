package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/publish"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// digest is the spec digest of the manifest: sha256 of the spec's bytes.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// inputState is what a run records, beside its version, about the inputs
// it was made from: operational state under <dataset>/_state/, never part
// of a version (a touched file must not make an immutable version differ).
type inputState struct {
	Version          string    `json:"version"`
	InputFingerprint string    `json:"input_fingerprint"`
	SpecDigest       string    `json:"spec_digest"`
	CodeVersion      string    `json:"code_version"`
	KeyEpoch         string    `json:"key_epoch"`
	From             time.Time `json:"from"`
	To               time.Time `json:"to"`
}

func inputStateKey(prefix, dataset, version string) string {
	return schemas.Key(prefix, dataset, schemas.StateDir, "inputs", version+".json")
}

// alreadyPublished reports whether the version is published from inputs
// in the state want describes (the recorded state equals it and the
// manifest exists); then the catalog and latest pointers are repaired if a
// killed run left them behind.
func alreadyPublished(ctx context.Context, s *spec.Spec, output, version string, want inputState) (*schemas.Manifest, bool, error) {
	bkt, prefix, err := bucket.OpenBucket(ctx, output, bucket.WithS3(s.S3))
	if err != nil {
		return nil, false, fmt.Errorf("output %s: %w", output, err)
	}
	defer bkt.Close()
	var got inputState
	if err := bucket.ReadJSON(ctx, bkt, inputStateKey(prefix, s.Dataset, version), &got); err != nil {
		if errors.Is(err, bucket.ErrNotFound) {
			return nil, false, nil
		}
		return nil, false, err
	}
	if got != want {
		return nil, false, nil
	}
	m, err := bucket.ReadManifest(ctx, bkt, prefix, s.Dataset, version)
	if errors.Is(err, bucket.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if err := publish.RepairPointers(ctx, bkt, prefix, s.Dataset); err != nil {
		return nil, false, fmt.Errorf("repair pointers of %s: %w", s.Dataset, err)
	}
	return m, true, nil
}

// writeInputState records st after the version is published.
func writeInputState(ctx context.Context, s *spec.Spec, output string, st inputState) error {
	bkt, prefix, err := bucket.OpenBucket(ctx, output, bucket.WithS3(s.S3))
	if err != nil {
		return err
	}
	defer bkt.Close()
	b, err := schemas.EncodeJSON(st)
	if err != nil {
		return err
	}
	return bkt.Upload(ctx, inputStateKey(prefix, s.Dataset, st.Version), bytes.NewReader(b))
}

// tableRows is the rows per table of a published manifest.
func tableRows(m *schemas.Manifest) map[string]int64 {
	out := make(map[string]int64, len(m.Tables))
	for t, tt := range m.Tables {
		out[t] = tt.Rows
	}
	return out
}
