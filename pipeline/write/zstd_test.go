package write

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	pzstd "github.com/parquet-go/parquet-go/compress/zstd"
)

// The smaller window writes the bytes parquet-go's codec writes for every
// page up to the page buffer's size, and any input decodes to itself.
func TestZstdCodecMatchesParquetGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ref := &pzstd.Codec{Level: pzstd.SpeedDefault}
	ours := &zstdCodec{level: pzstd.SpeedDefault}
	text := func(n int) []byte {
		var b bytes.Buffer
		for b.Len() < n {
			fmt.Fprintf(&b, "GET /api/v1/cart/%d 200 in %dms host-%02d ", rng.IntN(1e6), rng.IntN(900), rng.IntN(40))
		}
		return b.Bytes()[:n]
	}
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for _, n := range []int{0, 1, 1000, 1025, 64 << 10, 128 << 10, 128<<10 + 1, 200 << 10, 256 << 10, 300 << 10} {
		for kind, src := range map[string][]byte{"text": text(n), "noise": noise(n)} {
			want, err := ref.Encode(nil, src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ours.Encode(nil, src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s of %d bytes: %d bytes compressed, parquet-go's codec %d", kind, n, len(got), len(want))
			}
		}
	}
	for _, n := range []int{3 << 20, 9 << 20} { // past the window, and past zstd's default one
		src := text(n)
		enc, err := ours.Encode(nil, src)
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]interface {
			Decode(dst, src []byte) ([]byte, error)
		}{"ours": ours, "parquet-go": ref} {
			dec, err := c.Decode(nil, enc)
			if err != nil || !bytes.Equal(dec, src) {
				t.Errorf("%d bytes through %s's decoder: %d bytes back, err %v", n, name, len(dec), err)
			}
		}
	}
}
