package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/pipeline/logtemplates"
	"github.com/opsdata/opsdata/schemas"
)

// The template miners' id registry lives in the bucket beside the dataset
// (<dataset>/_state/templates/), sealed with the pseudonymization key: it
// holds raw texts (a resumed miner routes raw lines), which no reader may
// see, and it is what keeps a logging statement's template_id from one
// version to the next. A version starts from the registry the previous
// version left (latest); the state it started from is kept as
// <version>.before, so re-running that version resumes from exactly the
// same state and gives the same bytes. A new key epoch starts afresh.

const registryPurpose = "template-registry"

func registryKey(prefix, dataset, name string) string {
	return schemas.Key(prefix, dataset, schemas.StateDir, "templates", name+".sealed")
}

// templateState is the miners' registries by log source, as CSV.
type templateState map[string]string

// loadRegistries reads the registry this version starts from; before is
// its sealed form's plain bytes, to keep beside the version.
func (e *export) loadRegistries(ctx context.Context) (regs map[string]*logtemplates.Registry, before []byte, err error) {
	bkt, prefix, err := bucket.OpenBucket(ctx, e.output, bucket.WithS3(e.s.S3))
	if err != nil {
		return nil, nil, fmt.Errorf("output %s: %w", e.output, err)
	}
	defer bkt.Close()
	var sealed []byte
	for _, name := range []string{e.version + ".before", "latest"} {
		b, found, err := bucket.GetBytes(ctx, bkt, registryKey(prefix, e.s.Dataset, name))
		if err != nil {
			return nil, nil, fmt.Errorf("template registry: %w", err)
		}
		if found {
			sealed = b
			break
		}
	}
	if sealed == nil {
		return nil, nil, nil
	}
	plain, err := e.anon.Unseal(registryPurpose, sealed)
	if err != nil {
		// Another key epoch: its ids are not this epoch's to continue.
		e.log.Warn("template registry sealed under another key: template ids start afresh", "dataset", e.s.Dataset)
		return nil, nil, nil
	}
	var st templateState
	if err := json.Unmarshal(plain, &st); err != nil {
		return nil, nil, fmt.Errorf("template registry: %w", err)
	}
	regs = make(map[string]*logtemplates.Registry, len(st))
	for src, csv := range st {
		r, err := logtemplates.ReadRegistryCSV(strings.NewReader(csv))
		if err != nil {
			return nil, nil, fmt.Errorf("template registry of %s: %w", src, err)
		}
		regs[src] = r
	}
	return regs, plain, nil
}

// saveRegistries keeps, after a new version is published, the state it
// started from (<version>.before, once) and the miners' state now (latest).
func (e *export) saveRegistries(ctx context.Context, before []byte) error {
	ts := e.templates
	if ts == nil || len(ts.miners) == 0 {
		return nil
	}
	after := templateState{}
	srcs := make([]string, 0, len(ts.miners))
	for src := range ts.miners {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		var b bytes.Buffer
		if err := logtemplates.WriteRegistryCSV(&b, ts.miners[src].Export()); err != nil {
			return err
		}
		after[src] = b.String()
	}
	afterPlain, err := json.Marshal(after)
	if err != nil {
		return err
	}
	if before == nil {
		before = []byte("{}")
	}
	bkt, prefix, err := bucket.OpenBucket(ctx, e.output, bucket.WithS3(e.s.S3))
	if err != nil {
		return err
	}
	defer bkt.Close()
	put := func(name string, plain []byte) error {
		sealed, err := e.anon.Seal(registryPurpose, plain)
		if err != nil {
			return err
		}
		return bkt.Upload(ctx, registryKey(prefix, e.s.Dataset, name), bytes.NewReader(sealed))
	}
	if ok, err := bkt.Exists(ctx, registryKey(prefix, e.s.Dataset, e.version+".before")); err != nil {
		return err
	} else if !ok {
		if err := put(e.version+".before", before); err != nil {
			return err
		}
	}
	return put("latest", afterPlain)
}
