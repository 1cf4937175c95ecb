package anonymize

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/netip"
)

// CryptoPAn is the prefix-preserving IP address anonymization of Xu, Fan,
// Ammar and Moon ("Prefix-Preserving IP Address Anonymization", 2002): two
// addresses sharing a k-bit prefix map to addresses sharing a k-bit prefix,
// and the mapping is a keyed one-to-one function. Bit i of the output is
// bit i of the input XOR the top bit of AES-128(first i input bits followed
// by the pad's remaining bits). IPv6 uses the same construction over all
// 128 bits. Safe for concurrent use (cipher.Block is stateless).
//
// Written here because the Go module proxy does not serve the usual module;
// see docs/decisions/0019-anonymization-policy-cryptopan.md.
type CryptoPAn struct {
	block cipher.Block
	pad   [16]byte
}

// CryptoPAnKeySize is the Crypto-PAn key length: 16 bytes of AES key and 16
// bytes that, encrypted, become the pad.
const CryptoPAnKeySize = 32

// NewCryptoPAn builds the mapping for a 32-byte key.
func NewCryptoPAn(key []byte) (*CryptoPAn, error) {
	if len(key) != CryptoPAnKeySize {
		return nil, fmt.Errorf("crypto-pan: key has %d bytes, need %d", len(key), CryptoPAnKeySize)
	}
	b, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, fmt.Errorf("crypto-pan: %w", err)
	}
	c := &CryptoPAn{block: b}
	b.Encrypt(c.pad[:], key[16:32])
	return c, nil
}

// cryptoPAnKey derives the 32-byte Crypto-PAn key from the anonymization
// key, domain-separated from the pseudonym HMAC and the epoch.
func cryptoPAnKey(key []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("opsdata/crypto-pan/v1"))
	return h.Sum(nil)
}

// Anonymize maps an address; IPv4-mapped IPv6 addresses are treated as IPv4
// and zones are dropped.
func (c *CryptoPAn) Anonymize(ip netip.Addr) netip.Addr {
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		b := ip.As4()
		c.anonymizeBytes(b[:])
		return netip.AddrFrom4(b)
	}
	b := ip.As16()
	c.anonymizeBytes(b[:])
	return netip.AddrFrom16(b)
}

// anonymizeBytes rewrites addr (4 or 16 bytes) in place.
func (c *CryptoPAn) anonymizeBytes(addr []byte) {
	n := len(addr) * 8
	var in, out [16]byte
	var flip [16]byte
	for pos := 0; pos < n; pos++ {
		// in = first pos bits of addr, then the pad's bits from pos on.
		in = c.pad
		full := pos / 8
		copy(in[:full], addr[:full])
		if r := pos % 8; r != 0 {
			mask := byte(0xff) << (8 - r)
			in[full] = addr[full]&mask | c.pad[full]&^mask
		}
		c.block.Encrypt(out[:], in[:])
		flip[pos/8] |= (out[0] >> 7) << (7 - pos%8)
	}
	for i := range addr {
		addr[i] ^= flip[i]
	}
}
