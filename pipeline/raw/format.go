package raw

import (
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	pzstd "github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"

	"github.com/opsdata/opsdata/schemas"
)

// batchRows is the rows handed to the Parquet writer at once. It is part
// of the files' bytes: the writer cuts pages between its chunks of 64
// rows of a call, so another batching could cut them elsewhere.
const batchRows = 8192

// sampleRow is schemas.Sample with the timestamp in Unix milliseconds:
// the same Parquet schema (TestSampleRowSchema) without turning every
// sample into a time.Time and back.
type sampleRow struct {
	SeriesID int64   `parquet:"series_id,dict"`
	TS       int64   `parquet:"ts,timestamp(millisecond)"`
	Value    float64 `parquet:"value"`
	Stale    bool    `parquet:"stale"`
}

// sampleSchema is sampleRow's schema under schemas.Sample's name (the
// footer records it), its value column compressed in zstd frames of
// valueFrame bytes and its ts column in one frame per page, both without
// Huffman-coded literals (decision 0039).
var sampleSchema = func() *parquet.Schema {
	base := parquet.SchemaOf(new(sampleRow))
	fields := slices.Clone(base.Fields()) // SchemaOf's are cached and shared
	for i, f := range fields {
		switch f.Name() {
		case "value":
			fields[i] = codecField{f, &framedZstd{frame: valueFrame}}
		case "ts":
			// A series' timestamps are found in the previous series of its
			// target, earlier in the page: one frame. Its literals are the
			// first series' timestamps only; coding them cost more CPU than
			// the 0.01 bytes/sample it saved.
			fields[i] = codecField{f, &framedZstd{frame: samplesPage}}
		}
	}
	return parquet.NewSchema(parquet.SchemaOf(new(schemas.Sample)).Name(), fieldsNode{base, fields})
}()

// samplesOptions tune the samples files (decisions 0037, 0039): PLAIN and
// dictionary encodings only, like every other table (decision 0028), so
// the ts column's cost is zstd finding a series' timestamps in the
// previous series of its target: a page holds a whole row group's column
// (1 MiB pages hold a row group's ts column) so that the previous series
// is in the same page. No statistics in the page headers: the column
// index beside them has the same bounds (readers prune with it and the
// row groups' statistics), and computing them twice cost 4 % of the CPU.
// The value and stale columns have no bounds at all (column index, row
// group statistics; decision 0042): a row group mixes ~22 series of any
// metrics, so a value range prunes nothing, nearly every row group holds
// a stale marker somewhere, and computing them cost another 5 %. Null
// counts and the bounds of series_id and ts stay.
var samplesOptions = []parquet.WriterOption{
	sampleSchema,
	parquet.Compression(&pzstd.Codec{Level: pzstd.SpeedFastest}),
	parquet.MaxRowsPerRowGroup(samplesRowGroup),
	parquet.PageBufferSize(samplesPage),
	parquet.DataPageStatistics(false),
	parquet.SkipPageBounds("value"),
	parquet.SkipPageBounds("stale"),
}

// samplesRowGroup is the rows of a samples row group: about 22 series-days
// at 15 s.
const samplesRowGroup = 128 * 1024

// samplesPage is the page buffer of the samples files: a row group's ts
// column (128 Ki × 8 bytes) in one page.
const samplesPage = 1 << 20

// valueFrame is the input bytes of one zstd frame of a value page (4 Ki
// values), whose literals are not entropy-coded. The values of noisy
// series hardly repeat beyond their neighbours: small frames compress them
// smaller (no costly far matches) and faster (no history to keep) than
// one frame per 1 MiB page, and skipping the Huffman coding of literals
// saves more CPU than the bytes it costs. On the noisy block (decision
// 0039, BENCHMARKS.md) the value column went from 1.645 to 1.590
// bytes/sample (1.529 with Huffman-coded literals) and the export used
// ~8 % less CPU; on the demo generator's smoother block it grew (1.95 →
// 2.08).
const valueFrame = 32 << 10

// framedZstd is zstd at its fastest level that compresses a page as
// consecutive frames of at most frame input bytes, without Huffman coding
// of literals (sequences stay FSE-coded). RFC 8878 makes a zstd stream
// one or more frames, and every decoder the files are read with decodes
// them as one (pyarrow, fastparquet, Spark 3.2, DuckDB, polars,
// parquet-go: decision 0039).
type framedZstd struct {
	frame    int
	encoders sync.Pool // *zstd.Encoder, one per page being compressed
	decode   pzstd.Codec
}

func (c *framedZstd) String() string                            { return "ZSTD" }
func (c *framedZstd) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *framedZstd) Encode(dst, src []byte) ([]byte, error) {
	e, _ := c.encoders.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
			zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false), zstd.WithNoEntropyCompression(true))
		if err != nil {
			return dst, fmt.Errorf("zstd encoder: %w", err)
		}
	}
	defer c.encoders.Put(e)
	dst = dst[:0]
	for len(src) > 0 {
		n := min(len(src), c.frame)
		dst = e.EncodeAll(src[:n], dst)
		src = src[n:]
	}
	return dst, nil
}

// Decode reads every frame.
func (c *framedZstd) Decode(dst, src []byte) ([]byte, error) { return c.decode.Decode(dst, src) }

// codecField is a schema field with its own compression codec.
type codecField struct {
	parquet.Field
	codec compress.Codec
}

func (f codecField) Compression() compress.Codec { return f.codec }

// fieldsNode is a group node with its fields replaced.
type fieldsNode struct {
	parquet.Node
	fields []parquet.Field
}

func (n fieldsNode) Fields() []parquet.Field { return n.fields }
