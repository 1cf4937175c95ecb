package anonymize

import (
	"bytes"
	"errors"
	"testing"

	"github.com/opsdata/opsdata/spec"
)

func TestSeal(t *testing.T) {
	a, _ := New([]byte("0123456789abcdef0123456789abcdef"), spec.Anonymize{}, "service")
	b, _ := New([]byte("another-key-of-16-bytes"), spec.Anonymize{}, "service")
	plain := []byte("user=carol logged in from db1.corp.acme.internal")
	s, err := a.Seal("templates", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s, []byte("carol")) {
		t.Fatal("sealed bytes contain the plain text")
	}
	if got, err := a.Unseal("templates", s); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	if _, err := b.Unseal("templates", s); !errors.Is(err, ErrSealed) {
		t.Errorf("another key opened it: %v", err)
	}
	if _, err := a.Unseal("other", s); !errors.Is(err, ErrSealed) {
		t.Errorf("another purpose opened it: %v", err)
	}
	s[len(s)-1] ^= 1
	if _, err := a.Unseal("templates", s); !errors.Is(err, ErrSealed) {
		t.Errorf("damaged state opened: %v", err)
	}
}
