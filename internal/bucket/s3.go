package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-kit/log"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/opsdata/opsdata/schemas"
	"github.com/thanos-io/objstore"
	"github.com/thanos-io/objstore/exthttp"
	"github.com/thanos-io/objstore/providers/s3"
)

// Environment variables read for s3:// outputs besides the AWS_* ones; see
// docs/decisions/0017-s3-config-precedence.md.
const (
	// EnvS3Insecure ("1" or "true") selects plain HTTP for an endpoint
	// given without a scheme.
	EnvS3Insecure = "OPSDATA_S3_INSECURE"
)

// DefaultPartSizeMiB is the multipart part size when the spec sets none:
// minio-go uploads up to 4 parts at once, each buffered, so this bounds
// upload memory to about 64 MiB while allowing objects up to 160 GiB.
const DefaultPartSizeMiB = 16

// s3MaxRetries bounds minio-go's retries of a failed request (200 ms
// doubling to 1 s between attempts): a dead endpoint fails in seconds.
const s3MaxRetries = 5

// BucketOption configures OpenBucket.
type BucketOption func(*bucketOptions)

type bucketOptions struct {
	readOnly bool
	s3       S3
	getenv   func(string) string
}

// WithS3 applies a spec's s3: section to s3:// URLs.
func WithS3(c S3) BucketOption { return func(o *bucketOptions) { o.s3 = c } }

// ForReading opens a bucket to read from (ls, pull, inspect): a file://
// directory that does not exist is an error, never created.
func ForReading() BucketOption { return func(o *bucketOptions) { o.readOnly = true } }

// WithGetenv replaces os.Getenv when resolving s3:// settings (for tests).
func WithGetenv(f func(string) string) BucketOption {
	return func(o *bucketOptions) { o.getenv = f }
}

func applyOptions(opts []BucketOption) bucketOptions {
	o := bucketOptions{getenv: os.Getenv}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// S3Settings are the resolved settings of an s3:// URL.
type S3Settings struct {
	Bucket, Prefix string
	// Endpoint is host[:port]; Secure selects TLS.
	Endpoint string
	Secure   bool
	Region   string
	// Lookup is auto, path or virtual.
	Lookup   string
	CAFile   string
	PartSize uint64
	// Empty keys mean anonymous (unsigned) requests.
	AccessKeyID, SecretAccessKey, SessionToken string
	// CredentialSource says where the keys came from, for messages:
	// "spec", "environment", "shared credentials file <path>" or "anonymous".
	CredentialSource string
}

// Anonymous reports whether requests go unsigned.
func (s S3Settings) Anonymous() bool { return s.AccessKeyID == "" }

// bucketNameRe is S3's bucket naming rule (3-63 lower-case letters,
// digits, dots and hyphens, starting and ending with a letter or digit).
var bucketNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ResolveS3 parses s3://BUCKET[/PREFIX] and merges the spec's s3: section
// with the environment: a key the spec sets wins, the environment fills
// the rest (docs/decisions/0017-s3-config-precedence.md).
func ResolveS3(rawURL string, opts ...BucketOption) (S3Settings, error) {
	o := applyOptions(opts)
	c, env := o.s3, o.getenv
	var st S3Settings
	rest, ok := strings.CutPrefix(rawURL, "s3://")
	if !ok {
		return st, fmt.Errorf("output %q: not an s3:// URL", rawURL)
	}
	st.Bucket, st.Prefix, _ = strings.Cut(rest, "/")
	st.Prefix = strings.Trim(st.Prefix, "/")
	if !bucketNameRe.MatchString(st.Bucket) {
		return st, fmt.Errorf("output %q: bucket %q is not a valid S3 bucket name (3-63 lower-case letters, digits, '.' or '-'); use s3://BUCKET/PREFIX", rawURL, st.Bucket)
	}
	if err := schemas.ValidatePrefix(st.Prefix); err != nil {
		return st, fmt.Errorf("output %q: %w", rawURL, err)
	}
	if errs := c.ValidateS3(); len(errs) > 0 {
		return st, fmt.Errorf("s3 settings: %s", strings.Join(errs, "; "))
	}

	// Endpoint and TLS.
	endpoint, from := c.Endpoint, "s3.endpoint"
	for _, k := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if endpoint == "" {
			endpoint, from = env(k), "$"+k
		}
	}
	st.Secure = true
	switch {
	case c.Insecure != nil:
		st.Secure = !*c.Insecure
	default:
		if v := strings.ToLower(env(EnvS3Insecure)); v == "1" || v == "true" {
			st.Secure = false
		}
	}
	switch {
	case endpoint == "":
		st.Endpoint = "s3.amazonaws.com"
	case strings.Contains(endpoint, "://"):
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return st, fmt.Errorf("%s: endpoint %q must be http(s)://host[:port]", from, endpoint)
		}
		// The URL's scheme is explicit and wins over the insecure switches.
		st.Endpoint, st.Secure = u.Host, u.Scheme == "https"
	default:
		st.Endpoint = endpoint
	}

	st.Region = c.Region
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if st.Region == "" {
			st.Region = env(k)
		}
	}
	st.Lookup = c.BucketLookup
	if st.Lookup == "" {
		st.Lookup = "auto"
	}
	st.CAFile = c.CAFile
	if st.CAFile == "" && st.Secure {
		// The environment's bundle is ambient: it does not apply to (and
		// is no error for) a plain-HTTP endpoint.
		st.CAFile = env("AWS_CA_BUNDLE")
	}
	if st.CAFile != "" {
		if _, err := os.Stat(st.CAFile); err != nil {
			return st, fmt.Errorf("s3 CA file: %w", err)
		}
		if !st.Secure {
			return st, fmt.Errorf("s3 CA file %s given for plain-HTTP endpoint %s; use an https:// endpoint or drop the CA file", st.CAFile, st.Endpoint)
		}
	}
	part := c.PartSizeMiB
	if part == 0 {
		part = DefaultPartSizeMiB
	}
	st.PartSize = uint64(part) << 20

	return st, resolveCredentials(&st, c.Credentials, env)
}

// resolveCredentials: anonymous: true > keys named by the spec > AWS_*
// variables > the shared credentials file > anonymous.
func resolveCredentials(st *S3Settings, c S3Credentials, env func(string) string) error {
	if c.Anonymous {
		st.CredentialSource = "anonymous"
		return nil
	}
	read := func(key, envName, file string) (string, error) {
		switch {
		case envName != "":
			v := env(envName)
			if v == "" {
				return "", fmt.Errorf("s3.credentials.%s_env: environment variable %s is empty or unset", key, envName)
			}
			return v, nil
		case file != "":
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("s3.credentials.%s_file: %w", key, err)
			}
			v, _, _ := strings.Cut(string(b), "\n")
			if v = strings.TrimSpace(v); v == "" {
				return "", fmt.Errorf("s3.credentials.%s_file: %s is empty", key, file)
			}
			return v, nil
		}
		return "", nil
	}
	if c.AccessKeyIDEnv != "" || c.AccessKeyIDFile != "" {
		var errs [3]error
		st.AccessKeyID, errs[0] = read("access_key_id", c.AccessKeyIDEnv, c.AccessKeyIDFile)
		st.SecretAccessKey, errs[1] = read("secret_access_key", c.SecretAccessKeyEnv, c.SecretAccessKeyFile)
		st.SessionToken, errs[2] = read("session_token", c.SessionTokenEnv, c.SessionTokenFile)
		st.CredentialSource = "spec"
		return errors.Join(errs[:]...)
	}
	id, secret := env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")
	if id != "" || secret != "" {
		if id == "" || secret == "" {
			return errors.New("s3 credentials: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
		}
		st.AccessKeyID, st.SecretAccessKey, st.SessionToken = id, secret, env("AWS_SESSION_TOKEN")
		st.CredentialSource = "environment"
		return nil
	}
	file := env("AWS_SHARED_CREDENTIALS_FILE")
	if file == "" && env("HOME") != "" {
		file = filepath.Join(env("HOME"), ".aws", "credentials")
	}
	if file != "" {
		if _, err := os.Stat(file); err == nil {
			profile := env("AWS_PROFILE")
			if profile == "" {
				profile = "default"
			}
			fc := &credentials.FileAWSCredentials{Filename: file, Profile: profile}
			v, err := fc.Retrieve()
			if err != nil {
				return fmt.Errorf("s3 credentials: shared credentials file %s, profile %s: %w", file, profile, err)
			}
			if v.AccessKeyID != "" {
				st.AccessKeyID, st.SecretAccessKey, st.SessionToken = v.AccessKeyID, v.SecretAccessKey, v.SessionToken
				st.CredentialSource = "shared credentials file " + file
				return nil
			}
		}
	}
	st.CredentialSource = "anonymous"
	return nil
}

// objstoreConfig is the thanos-io/objstore S3 configuration for st.
func (st S3Settings) objstoreConfig() s3.Config {
	cfg := s3.DefaultConfig
	cfg.PutUserMetadata = map[string]string{}
	cfg.Bucket = st.Bucket
	cfg.Endpoint = st.Endpoint
	cfg.Region = st.Region
	cfg.Insecure = !st.Secure
	cfg.HTTPConfig.TLSConfig.CAFile = st.CAFile
	cfg.PartSize = st.PartSize
	cfg.MaxRetries = s3MaxRetries
	cfg.BucketLookupType = map[string]s3.BucketLookupType{"auto": s3.AutoLookup, "path": s3.PathLookup, "virtual": s3.VirtualHostLookup}[st.Lookup]
	if st.Anonymous() {
		// objstore's provider has no anonymous mode: without keys it walks
		// a credential chain ending at the EC2 metadata service (slow or
		// hanging off EC2, once per request). Give it placeholder keys and
		// strip the signature on the way out instead (anonymousTransport).
		cfg.AccessKey, cfg.SecretKey = "anonymous", "anonymous"
	} else {
		cfg.AccessKey, cfg.SecretKey, cfg.SessionToken = st.AccessKeyID, st.SecretAccessKey, st.SessionToken
	}
	return cfg
}

// wrapTransport is the round-tripper wrapper for objstore's provider.
func (st S3Settings) wrapTransport() func(http.RoundTripper) http.RoundTripper {
	if !st.Anonymous() {
		return nil
	}
	return func(rt http.RoundTripper) http.RoundTripper { return anonymousTransport{rt} }
}

// anonymousTransport removes the request signature so S3 treats the
// request as anonymous (public buckets).
type anonymousTransport struct{ rt http.RoundTripper }

func (a anonymousTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del("Authorization")
	r.Header.Del("X-Amz-Security-Token")
	return a.rt.RoundTrip(r)
}

// openS3 opens an s3:// URL with objstore's S3 provider (minio-go).
func openS3(ctx context.Context, rawURL string, opts []BucketOption) (objstore.Bucket, string, error) {
	st, err := ResolveS3(rawURL, opts...)
	if err != nil {
		return nil, "", err
	}
	cfg := st.objstoreConfig()
	// Our own transport, so Close can release its idle connections.
	tr, err := exthttp.DefaultTransport(cfg.HTTPConfig)
	if err != nil {
		return nil, "", fmt.Errorf("output %q: s3 TLS settings: %w", rawURL, err)
	}
	cfg.HTTPConfig.Transport = tr
	b, err := s3.NewBucketWithConfig(log.NewNopLogger(), cfg, "opsdata", st.wrapTransport())
	if err != nil {
		return nil, "", fmt.Errorf("output %q: open S3 bucket %s at %s: %w", rawURL, st.Bucket, st.Endpoint, err)
	}
	return &s3Bucket{Bucket: b, st: st, tr: tr}, st.Prefix, nil
}

// s3Bucket adds context to errors: which endpoint, bucket and credentials.
type s3Bucket struct {
	*s3.Bucket
	st S3Settings
	tr *http.Transport
}

// Close releases the bucket's idle connections.
func (b *s3Bucket) Close() error {
	b.tr.CloseIdleConnections()
	return b.Bucket.Close()
}

func (b *s3Bucket) describe(err error) error {
	if err == nil || b.IsObjNotFoundErr(err) {
		return err
	}
	scheme := "https"
	if !b.st.Secure {
		scheme = "http"
	}
	hint := ""
	switch s3Code(err) {
	case "NoSuchBucket":
		hint = "; create the bucket first"
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		hint = "; check the credentials and the bucket policy"
		if b.st.Anonymous() {
			hint = "; this prefix is not public: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a shared credentials file), or ask the publisher to export it with --public"
		}
	}
	return fmt.Errorf("s3 bucket %s at %s://%s (credentials: %s): %w%s", b.st.Bucket, scheme, b.st.Endpoint, b.st.CredentialSource, err, hint)
}

// s3Code is the S3 error code in err's chain, if any.
func s3Code(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}

func (b *s3Bucket) Upload(ctx context.Context, name string, r io.Reader, opts ...objstore.ObjectUploadOption) error {
	return b.describe(b.Bucket.Upload(ctx, name, r, opts...))
}

func (b *s3Bucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := b.Bucket.Get(ctx, name)
	return rc, b.describe(err)
}

func (b *s3Bucket) Delete(ctx context.Context, name string) error {
	return b.describe(b.Bucket.Delete(ctx, name))
}

func (b *s3Bucket) Iter(ctx context.Context, dir string, f func(string) error, options ...objstore.IterOption) error {
	return b.describe(b.Bucket.Iter(ctx, dir, f, options...))
}

// IsObjNotFoundErr looks through the context added by describe.
func (b *s3Bucket) IsObjNotFoundErr(err error) bool { return s3Code(err) == "NoSuchKey" }

// IsAccessDeniedErr looks through the context added by describe.
func (b *s3Bucket) IsAccessDeniedErr(err error) bool { return s3Code(err) == "AccessDenied" }

// newMinioClient builds a plain minio-go client with the same endpoint,
// TLS and credentials, for what objstore does not expose (bucket policy).
// Call the returned close function when done with the client.
func (st S3Settings) newMinioClient() (*minio.Client, func(), error) {
	cfg := st.objstoreConfig()
	tr, err := exthttp.DefaultTransport(cfg.HTTPConfig)
	if err != nil {
		return nil, nil, err
	}
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	if st.Anonymous() {
		creds = credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	}
	cl, err := minio.New(st.Endpoint, &minio.Options{
		Creds: creds, Secure: st.Secure, Region: st.Region, Transport: tr,
		BucketLookup: cfg.BucketLookupType.MinioType(), MaxRetries: s3MaxRetries,
	})
	return cl, tr.CloseIdleConnections, err
}

// ValidateOutput validates an output URL and its settings without touching
// the network, so an export can refuse a bad --output or s3: section (or
// --public on a file:// output) before it spends time staging. CheckOutput
// (checkoutput.go) adds the network check that an s3:// bucket exists.
func ValidateOutput(rawURL string, public bool, opts ...BucketOption) error {
	scheme, _, ok := strings.Cut(rawURL, "://")
	switch {
	case !ok:
		return fmt.Errorf("output %q: not a URL; use file://DIR (e.g. file://./out) or s3://BUCKET/PREFIX", rawURL)
	case scheme == "file":
		if public {
			return fmt.Errorf("--public: output %q is not s3://; a public policy applies to S3 buckets only (share a file:// output with your web server instead)", rawURL)
		}
		return nil
	case scheme == "s3":
		st, err := ResolveS3(rawURL, opts...)
		if err != nil {
			return err
		}
		if public && st.Anonymous() {
			return fmt.Errorf("--public: setting a bucket policy on %s needs credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or s3.credentials in the spec)", st.Bucket)
		}
		return nil
	default:
		return fmt.Errorf("output %q: unknown scheme %q; use file://DIR or s3://BUCKET/PREFIX", rawURL, scheme)
	}
}
