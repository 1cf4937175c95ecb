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

// Sealed deterministically, the same state gives the same bytes, another
// state other bytes, and both open like Seal's.
func TestSealDeterministic(t *testing.T) {
	a, _ := New([]byte("0123456789abcdef0123456789abcdef"), spec.Anonymize{}, "service")
	b, _ := New([]byte("another-key-of-16-bytes"), spec.Anonymize{}, "service")
	plain := []byte("service=checkout host=db1.corp.acme.internal 0.25")
	s1, err := a.SealDeterministic("pieces", plain)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := a.SealDeterministic("pieces", plain)
	if !bytes.Equal(s1, s2) || bytes.Contains(s1, []byte("checkout")) {
		t.Fatal("the same state sealed twice must give the same bytes, without the plain text")
	}
	other, _ := a.SealDeterministic("pieces", append([]byte("x"), plain...))
	otherPurpose, _ := a.SealDeterministic("slices", plain)
	otherKey, _ := b.SealDeterministic("pieces", plain)
	for _, o := range [][]byte{other, otherPurpose, otherKey} {
		if bytes.Equal(o[:12], s1[:12]) || bytes.Equal(o, s1) {
			t.Fatal("another state, purpose or key gave the same nonce")
		}
	}
	if got, err := a.Unseal("pieces", s1); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	if _, err := a.Unseal("slices", s1); !errors.Is(err, ErrSealed) {
		t.Errorf("another purpose opened it: %v", err)
	}
}
