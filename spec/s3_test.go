package spec

import (
	"strings"
	"testing"
)

func TestS3Section(t *testing.T) {
	base := "dataset: d\nlicence: CC-BY-4.0\noutput: s3://bucket/prefix\nanonymize:\n  key:\n    env: K\n"
	tests := []struct {
		name, yaml, wantErr string
	}{
		{name: "none", yaml: ""},
		{name: "full", yaml: `s3:
  endpoint: https://minio.example.org:9000
  region: eu-west-1
  ca_file: /etc/ssl/private-ca.pem
  bucket_lookup: path
  part_size_mib: 16
  credentials:
    access_key_id_env: OPS_S3_KEY
    secret_access_key_file: /run/secrets/s3-secret
    session_token_env: OPS_S3_TOKEN
`},
		{name: "bare host insecure", yaml: "s3:\n  endpoint: minio:9000\n  insecure: true\n"},
		{name: "anonymous", yaml: "s3:\n  credentials:\n    anonymous: true\n"},
		{name: "inline secret refused", yaml: "s3:\n  credentials:\n    secret_access_key: hunter2\n", wantErr: `unknown key "secret_access_key"`},
		{name: "bad scheme", yaml: "s3:\n  endpoint: ftp://h\n", wantErr: "s3.endpoint"},
		{name: "endpoint with path", yaml: "s3:\n  endpoint: https://h/x\n", wantErr: "no path"},
		{name: "host with slash", yaml: "s3:\n  endpoint: h/x\n", wantErr: "host[:port]"},
		{name: "contradiction", yaml: "s3:\n  endpoint: http://h\n  insecure: false\n", wantErr: "s3.insecure: contradicts"},
		{name: "lookup", yaml: "s3:\n  bucket_lookup: dns\n", wantErr: "s3.bucket_lookup"},
		{name: "part size", yaml: "s3:\n  part_size_mib: 4\n", wantErr: "s3.part_size_mib"},
		{name: "env and file", yaml: "s3:\n  credentials:\n    access_key_id_env: A\n    access_key_id_file: f\n    secret_access_key_env: S\n", wantErr: "not both"},
		{name: "id without secret", yaml: "s3:\n  credentials:\n    access_key_id_env: A\n", wantErr: "go together"},
		{name: "token alone", yaml: "s3:\n  credentials:\n    session_token_env: T\n", wantErr: "session_token_* needs"},
		{name: "anonymous with keys", yaml: "s3:\n  credentials:\n    anonymous: true\n    access_key_id_env: A\n    secret_access_key_env: S\n", wantErr: "anonymous: true cannot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("spec.yaml", []byte(base+tc.yaml))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
