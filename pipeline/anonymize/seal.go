package anonymize

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrSealed: sealed state that does not open under this key (another key
// epoch, or damaged).
var ErrSealed = errors.New("sealed state does not open with this key")

// Seal encrypts and authenticates state that holds raw text (the template
// miner's registry) so it can live in the bucket beside the dataset: only
// a holder of the pseudonymization key reads it. purpose separates the
// keys of different kinds of state. AES-256-GCM under a key derived with
// HMAC-SHA256; a random nonce, so the bytes differ each time (state, not
// published content).
func (a *Anonymizer) Seal(purpose string, plain []byte) ([]byte, error) {
	g, err := a.sealer(purpose)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return g.Seal(nonce, nonce, plain, []byte(purpose)), nil
}

// SealDeterministic is Seal with the nonce derived from the plain text
// (HMAC-SHA256 under a key of its own, the synthetic-IV construction): the
// same state sealed twice gives the same bytes, so a re-run that stages it
// again converges to the same files. It tells an observer only whether two
// sealed states are equal. Unseal opens it.
func (a *Anonymizer) SealDeterministic(purpose string, plain []byte) ([]byte, error) {
	g, err := a.sealer(purpose)
	if err != nil {
		return nil, err
	}
	h := hmac.New(sha256.New, a.key)
	h.Write([]byte("opsdata/seal-nonce/v1/" + purpose + "\x00"))
	h.Write(plain)
	nonce := h.Sum(nil)[:g.NonceSize()]
	return g.Seal(nonce, nonce, plain, []byte(purpose)), nil
}

// Unseal opens what Seal sealed for purpose.
func (a *Anonymizer) Unseal(purpose string, sealed []byte) ([]byte, error) {
	g, err := a.sealer(purpose)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize() {
		return nil, ErrSealed
	}
	plain, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(purpose))
	if err != nil {
		return nil, ErrSealed
	}
	return plain, nil
}

func (a *Anonymizer) sealer(purpose string) (cipher.AEAD, error) {
	h := hmac.New(sha256.New, a.key)
	h.Write([]byte("opsdata/seal/v1/" + purpose))
	block, err := aes.NewCipher(h.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
