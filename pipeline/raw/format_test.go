package raw

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go/compress/zstd"
)

// TestFramedZstd: a page is compressed as ceil(len/frame) zstd frames
// that one zstd decoder reads back as the page.
func TestFramedZstd(t *testing.T) {
	c := &framedZstd{frame: 1000}
	other := &zstd.Codec{} // a decoder of its own
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ n, frames int }{{0, 0}, {1, 1}, {999, 1}, {1000, 1}, {1001, 2}, {3005, 4}} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			page := make([]byte, tc.n)
			for i := range page {
				page[i] = byte(r.IntN(16)) // compressible, not trivially
			}
			z, err := c.Encode([]byte("junk that must go"), page)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Count(z, []byte{0x28, 0xb5, 0x2f, 0xfd}); got < tc.frames { // frame magic
				t.Errorf("%d frame magics, want at least %d", got, tc.frames)
			}
			for _, decode := range []func([]byte) ([]byte, error){
				func(z []byte) ([]byte, error) { return c.Decode(nil, z) },
				func(z []byte) ([]byte, error) { return other.Decode(nil, z) },
			} {
				back, err := decode(z)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(back, page) {
					t.Fatalf("decoded %d bytes, want the page's %d", len(back), len(page))
				}
			}
		})
	}
}
