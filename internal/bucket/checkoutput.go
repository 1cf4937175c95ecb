package bucket

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrBucketNotFound means an s3:// output names a bucket the endpoint does
// not have.
var ErrBucketNotFound = errors.New("bucket does not exist")

// checkBucketTimeout bounds the bucket probe when ctx has no deadline.
const checkBucketTimeout = 30 * time.Second

// CheckOutput is ValidateOutput plus, for an s3:// output, one HEAD request
// (minio-go's BucketExists) that the bucket exists and the endpoint answers,
// so `opsdata export --output s3://missing-bucket/...` fails before any work
// instead of after staging. A missing bucket is ErrBucketNotFound; an
// unreachable endpoint or a TLS error fails too, with the endpoint and
// credential source in the message. Wrong keys (InvalidAccessKeyId,
// SignatureDoesNotMatch) fail; a plain 403 (AccessDenied) passes, since keys
// that may not list the bucket may still write under the prefix.
func CheckOutput(ctx context.Context, rawURL string, public bool, opts ...BucketOption) error {
	if err := ValidateOutput(rawURL, public, opts...); err != nil {
		return err
	}
	if !strings.HasPrefix(rawURL, "s3://") {
		return nil
	}
	st, err := ResolveS3(rawURL, opts...)
	if err != nil {
		return err
	}
	cl, closeIdle, err := st.newMinioClient()
	if err != nil {
		return fmt.Errorf("output %q: s3 client for %s: %w", rawURL, st.Endpoint, err)
	}
	defer closeIdle()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, checkBucketTimeout)
		defer cancel()
	}
	b := &s3Bucket{st: st} // for describe's message only
	exists, err := cl.BucketExists(ctx, st.Bucket)
	if err != nil && s3Code(err) == "AccessDenied" && !st.Anonymous() {
		// HEAD has no body, so a 403 does not say why; a GET does: wrong
		// keys are InvalidAccessKeyId or SignatureDoesNotMatch.
		if _, perr := cl.GetBucketPolicy(ctx, st.Bucket); perr != nil {
			switch s3Code(perr) {
			case "InvalidAccessKeyId", "SignatureDoesNotMatch":
				return fmt.Errorf("output %q: checking the bucket before the export: %w", rawURL, b.describe(perr))
			}
		}
	}
	switch {
	case err != nil && s3Code(err) == "AccessDenied":
		return nil
	case err != nil:
		return fmt.Errorf("output %q: checking the bucket before the export: %w", rawURL, b.describe(err))
	case !exists:
		return fmt.Errorf("output %q: %w; create the bucket first (mc mb, aws s3 mb s3://%s) or fix the bucket name",
			rawURL, b.describe(ErrBucketNotFound), st.Bucket)
	}
	return nil
}
