package promblocks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/opsdata/opsdata/internal/bucket"
)

// Fingerprint identifies the selected blocks without downloading any
// (pipeline.Fingerprinter): each block's id, time range, sample count and
// external labels. A block uploaded, compacted away or marked for deletion
// changes it, so a re-run or a nightly run knows whether the metrics moved
// from the bucket's listing and meta.json files alone.
func (c *Config) Fingerprint(ctx context.Context) (string, error) {
	bkt, urlPrefix, err := bucket.OpenBucket(ctx, c.Bucket, bucket.ForReading(), bucket.WithS3(c.S3))
	if err != nil {
		return "", fmt.Errorf("metrics.blocks.bucket: %w", err)
	}
	defer bkt.Close()
	sel, err := c.selector()
	if err != nil {
		return "", err
	}
	prefix := c.blocksPrefix(urlPrefix)
	l, err := listBlocks(ctx, bkt, prefix, sel, c.ReplicaLabels)
	if err != nil {
		return "", fmt.Errorf("metrics.blocks: %w", err)
	}
	h := sha256.New()
	for _, b := range l.blocks {
		fmt.Fprintf(h, "%s %d %d %d %s\n", b.id(), b.meta.MinTime, b.meta.MaxTime, b.meta.Stats.NumSamples, b.ext.String())
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
