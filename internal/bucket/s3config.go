package bucket

import (
	"fmt"
	"net/url"
	"strings"
)

// S3 configures s3:// outputs (AWS S3, MinIO or any S3-compatible store).
// Every key is optional: what the spec leaves out comes from the usual AWS_*
// environment variables (docs/decisions/0017-s3-config-precedence.md).
// Secrets never sit in the spec itself: it names the environment variable or
// the file that holds them.
type S3 struct {
	// Endpoint is host[:port] or a URL; http:// means plain HTTP, https://
	// TLS. Default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, then AWS S3.
	Endpoint string `yaml:"endpoint"`
	// Region, e.g. eu-west-1. Default: $AWS_REGION, $AWS_DEFAULT_REGION,
	// else discovered from the bucket.
	Region string `yaml:"region"`
	// Insecure selects plain HTTP for an endpoint given without a scheme.
	Insecure *bool `yaml:"insecure"`
	// BucketLookup is auto (default), path or virtual (host-style).
	BucketLookup string `yaml:"bucket_lookup"`
	// CAFile is a PEM bundle trusted for TLS (default: $AWS_CA_BUNDLE, then
	// the system's roots).
	CAFile string `yaml:"ca_file"`
	// PartSizeMiB is the multipart part size for large files (5..5120;
	// default 16). Files smaller than one part are sent in a single PUT.
	PartSizeMiB int `yaml:"part_size_mib"`
	// Credentials say where the keys are; empty means the environment.
	Credentials S3Credentials `yaml:"credentials"`
}

// S3Credentials name where each secret is read from: an environment
// variable (…_env) or a file whose first line is the value (…_file).
type S3Credentials struct {
	AccessKeyIDEnv      string `yaml:"access_key_id_env"`
	AccessKeyIDFile     string `yaml:"access_key_id_file"`
	SecretAccessKeyEnv  string `yaml:"secret_access_key_env"`
	SecretAccessKeyFile string `yaml:"secret_access_key_file"`
	SessionTokenEnv     string `yaml:"session_token_env"`
	SessionTokenFile    string `yaml:"session_token_file"`
	// Anonymous sends unsigned requests even if credentials are in the
	// environment (reading a public bucket).
	Anonymous bool `yaml:"anonymous"`
}

// ValidateS3 checks the s3: section; each problem names its key.
func (c S3) ValidateS3() []string {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.Endpoint != "" {
		if strings.Contains(c.Endpoint, "://") {
			u, err := url.Parse(c.Endpoint)
			switch {
			case err != nil:
				add("s3.endpoint: %v", err)
			case u.Scheme != "http" && u.Scheme != "https":
				add("s3.endpoint: %q: scheme must be http or https", c.Endpoint)
			case u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
				add("s3.endpoint: %q must be scheme://host[:port] only (no path, query or user)", c.Endpoint)
			case c.Insecure != nil && *c.Insecure != (u.Scheme == "http"):
				add("s3.insecure: contradicts the %s:// endpoint %q; drop one of them", u.Scheme, c.Endpoint)
			}
		} else if strings.ContainsAny(c.Endpoint, "/?@ ") {
			add("s3.endpoint: %q must be host[:port] or http(s)://host[:port]", c.Endpoint)
		}
	}
	switch c.BucketLookup {
	case "", "auto", "path", "virtual":
	default:
		add("s3.bucket_lookup: %q must be auto, path or virtual", c.BucketLookup)
	}
	if c.PartSizeMiB != 0 && (c.PartSizeMiB < 5 || c.PartSizeMiB > 5120) {
		add("s3.part_size_mib: %d must be between 5 and 5120 (S3's part size limits)", c.PartSizeMiB)
	}
	cr := c.Credentials
	pairs := []struct{ name, env, file string }{
		{"access_key_id", cr.AccessKeyIDEnv, cr.AccessKeyIDFile},
		{"secret_access_key", cr.SecretAccessKeyEnv, cr.SecretAccessKeyFile},
		{"session_token", cr.SessionTokenEnv, cr.SessionTokenFile},
	}
	set := map[string]bool{}
	for _, p := range pairs {
		if p.env != "" && p.file != "" {
			add("s3.credentials: set %s_env or %s_file, not both", p.name, p.name)
		}
		set[p.name] = p.env != "" || p.file != ""
	}
	if set["access_key_id"] != set["secret_access_key"] {
		add("s3.credentials: access_key_id_* and secret_access_key_* go together; set both or neither")
	}
	if set["session_token"] && !set["access_key_id"] {
		add("s3.credentials: session_token_* needs access_key_id_* and secret_access_key_*")
	}
	if cr.Anonymous && (set["access_key_id"] || set["session_token"]) {
		add("s3.credentials: anonymous: true cannot be combined with keys")
	}
	return errs
}
