package anonymize

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/opsdata/opsdata/spec"
)

// MinKeyBytes is the shortest key accepted: shorter keys make pseudonyms
// guessable by brute force over likely hostnames and user names.
const MinKeyBytes = 16

// ErrKey wraps every key loading error.
var ErrKey = errors.New("anonymization key")

// LoadKey reads the key named by k: a file or an environment variable, never
// both. The contents are trimmed; 64 or more hex digits are decoded as hex,
// anything else is used as raw bytes. Errors never contain the key.
func LoadKey(k spec.Key) ([]byte, error) {
	var raw, where string
	switch {
	case k.File != "" && k.Env != "":
		return nil, fmt.Errorf("%w: anonymize.key: set either file (%s) or env (%s), not both", ErrKey, k.File, k.Env)
	case k.File != "":
		where = "anonymize.key.file " + k.File
		b, err := os.ReadFile(k.File)
		if err != nil {
			// The os error names only the path and the cause.
			return nil, fmt.Errorf("%w: %s: %w (create it, e.g. with `openssl rand -hex 32 > %s`)", ErrKey, where, err, k.File)
		}
		raw = string(b)
	case k.Env != "":
		where = "anonymize.key.env $" + k.Env
		v, ok := os.LookupEnv(k.Env)
		if !ok {
			return nil, fmt.Errorf("%w: %s is not set (export it, e.g. %s=$(openssl rand -hex 32))", ErrKey, where, k.Env)
		}
		raw = v
	default:
		return nil, fmt.Errorf("%w: anonymize.key: set file or env", ErrKey)
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("%w: %s is empty", ErrKey, where)
	}
	key := []byte(raw)
	if len(raw) >= 64 && len(raw)%2 == 0 && isHex(raw) {
		key, _ = hex.DecodeString(raw) // cannot fail: checked above
	}
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("%w: %s: key has %d bytes, need at least %d (use `openssl rand -hex 32`)", ErrKey, where, len(key), MinKeyBytes)
	}
	return key, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexByte(s[i]) {
			return false
		}
	}
	return true
}

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Epoch is the key's public fingerprint for the manifest: two exports with
// the same epoch share pseudonyms. It reveals nothing usable about the key.
func Epoch(key []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("opsdata/key-epoch/v1"))
	return hex.EncodeToString(h.Sum(nil))[:16]
}
