package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opsdata/opsdata/schemas"
)

// PublicReadPolicy returns the bucket-policy statements that let anyone
// read the objects under dir/ of bucket (and list exactly that prefix),
// and nothing else. Their Sids are derived from dir, so setting them again
// replaces rather than duplicates them.
func PublicReadPolicy(bucket, dir string) []map[string]any {
	sum := sha256.Sum256([]byte(bucket + "/" + dir))
	id := hex.EncodeToString(sum[:8])
	anyone := map[string]any{"AWS": []string{"*"}}
	return []map[string]any{
		{
			"Sid": "OpsdataPublicRead" + id, "Effect": "Allow", "Principal": anyone,
			"Action":   []string{"s3:GetObject"},
			"Resource": []string{"arn:aws:s3:::" + bucket + "/" + dir + "/*"},
		},
		{
			"Sid": "OpsdataPublicList" + id, "Effect": "Allow", "Principal": anyone,
			"Action":    []string{"s3:ListBucket"},
			"Resource":  []string{"arn:aws:s3:::" + bucket},
			"Condition": map[string]any{"StringLike": map[string]any{"s3:prefix": []string{dir, dir + "/*"}}},
		},
	}
}

// SetPublicRead makes <prefix>/<dataset>/ of an s3:// output readable by
// anyone without credentials: s3:GetObject on its objects and s3:ListBucket
// restricted to that prefix (docs/decisions/0018-s3-public-dataset-policy.md).
// Statements already in the bucket policy are kept; ours are replaced.
func SetPublicRead(ctx context.Context, rawURL, dataset string, opts ...BucketOption) error {
	if !strings.HasPrefix(rawURL, "s3://") {
		return fmt.Errorf("--public: output %q is not s3://; a public policy applies to S3 buckets only (share a file:// output with your web server instead)", rawURL)
	}
	if err := schemas.ValidateName("dataset", dataset); err != nil {
		return fmt.Errorf("--public: %w", err)
	}
	st, err := ResolveS3(rawURL, opts...)
	if err != nil {
		return fmt.Errorf("--public: %w", err)
	}
	if st.Anonymous() {
		return fmt.Errorf("--public: setting a bucket policy on %s needs credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or s3.credentials in the spec)", st.Bucket)
	}
	cl, done, err := st.newMinioClient()
	if err != nil {
		return fmt.Errorf("--public: s3 client for %s: %w", st.Endpoint, err)
	}
	defer done()
	dir := schemas.Key(st.Prefix, dataset)
	cur, err := cl.GetBucketPolicy(ctx, st.Bucket)
	if err != nil && s3Code(err) != "NoSuchBucketPolicy" {
		return fmt.Errorf("--public: read the policy of bucket %s at %s: %w", st.Bucket, st.Endpoint, err)
	}
	doc := map[string]any{}
	if strings.TrimSpace(cur) != "" {
		if err := json.Unmarshal([]byte(cur), &doc); err != nil {
			return fmt.Errorf("--public: the policy of bucket %s is not JSON: %w", st.Bucket, err)
		}
	}
	ours := PublicReadPolicy(st.Bucket, dir)
	mine := map[string]bool{}
	for _, s := range ours {
		mine[s["Sid"].(string)] = true
	}
	var stmts []any
	if old, ok := doc["Statement"].([]any); ok {
		for _, s := range old {
			if m, ok := s.(map[string]any); ok {
				if sid, _ := m["Sid"].(string); mine[sid] {
					continue
				}
			}
			stmts = append(stmts, s)
		}
	} else if old, ok := doc["Statement"].(map[string]any); ok { // a single statement may be an object
		stmts = append(stmts, old)
	}
	for _, s := range ours {
		stmts = append(stmts, s)
	}
	doc["Statement"] = stmts
	if _, ok := doc["Version"]; !ok {
		doc["Version"] = "2012-10-17"
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if err := cl.SetBucketPolicy(ctx, st.Bucket, string(b)); err != nil {
		return fmt.Errorf("--public: set the policy of bucket %s at %s: %w", st.Bucket, st.Endpoint, err)
	}
	return nil
}
