package write

import (
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdWindow bounds the history a page's encoder keeps. parquet-go's own
// codec takes zstd's default window (8 MiB at the default level), and an
// encoder that once compressed a page over one block (128 KiB) keeps a
// 16 MiB history buffer from then on: 64 MiB of the realistic day's peak
// heap. Pages are at most PageBufferSize (256 KiB), and a window at least
// as large as its input finds the same matches and writes the same
// single-segment frame, so the pages' bytes do not change.
const zstdWindow = 1 << 20

// zstdCodec is parquet-go's zstd codec (the same encoder options) with
// the window above; parquet-go's has no option for it.
type zstdCodec struct {
	level    zstd.EncoderLevel
	encoders sync.Pool // *zstd.Encoder
	decoders sync.Pool // *zstd.Decoder
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	e, _ := c.encoders.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil,
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderLevel(c.level),
			zstd.WithWindowSize(zstdWindow),
			zstd.WithZeroFrames(true),
			zstd.WithEncoderCRC(false),
		)
		if err != nil {
			return dst, err
		}
	}
	defer c.encoders.Put(e)
	return e.EncodeAll(src, dst[:0]), nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	d, _ := c.decoders.Get().(*zstd.Decoder)
	if d == nil {
		var err error
		if d, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1)); err != nil {
			return dst, err
		}
	}
	defer c.decoders.Put(d)
	return d.DecodeAll(src, dst[:0])
}
