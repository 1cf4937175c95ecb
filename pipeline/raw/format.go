package raw

import (
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
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
// valueFrame bytes (decision 0039).
var sampleSchema = func() *parquet.Schema {
	base := parquet.SchemaOf(new(sampleRow))
	fields := slices.Clone(base.Fields()) // SchemaOf's are cached and shared
	for i, f := range fields {
		if f.Name() == "value" {
			fields[i] = codecField{f, &framedZstd{frame: valueFrame, zstd: zstd.Codec{Level: zstd.SpeedFastest}}}
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
var samplesOptions = []parquet.WriterOption{
	sampleSchema,
	parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
	parquet.MaxRowsPerRowGroup(samplesRowGroup),
	parquet.PageBufferSize(1 << 20),
	parquet.DataPageStatistics(false),
}

// samplesRowGroup is the rows of a samples row group: about 22 series-days
// at 15 s.
const samplesRowGroup = 128 * 1024

// valueFrame is the input bytes of one zstd frame of a value page: 8 Ki
// values. The values of noisy series hardly repeat beyond their
// neighbours, and small frames both compress them smaller (fresh entropy
// tables, no costly far matches) and faster (no history copies) than one
// frame per 1 MiB page: 1.79 against 1.91 bytes per sample and 5 % less
// CPU on the noisy block (BENCHMARKS.md).
const valueFrame = 64 << 10

// framedZstd is zstd at its fastest level that compresses a page as
// consecutive frames of at most frame input bytes. RFC 8878 makes a zstd
// stream one or more frames, and every decoder the files are read with
// decodes them as one (pyarrow, fastparquet, Spark 3.2, DuckDB, polars,
// parquet-go: decision 0039).
type framedZstd struct {
	frame int
	zstd  zstd.Codec
}

func (c *framedZstd) String() string                            { return c.zstd.String() }
func (c *framedZstd) CompressionCodec() format.CompressionCodec { return c.zstd.CompressionCodec() }

func (c *framedZstd) Encode(dst, src []byte) ([]byte, error) {
	dst = dst[:0]
	var frame []byte
	for len(src) > 0 {
		n := min(len(src), c.frame)
		var err error
		// The codec writes each frame at the start of its buffer.
		if frame, err = c.zstd.Encode(frame, src[:n]); err != nil {
			return dst, err
		}
		dst = append(dst, frame...)
		src = src[n:]
	}
	return dst, nil
}

// Decode reads every frame (klauspost/compress's DecodeAll).
func (c *framedZstd) Decode(dst, src []byte) ([]byte, error) { return c.zstd.Decode(dst, src) }

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
