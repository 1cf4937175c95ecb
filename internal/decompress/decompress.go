// Package decompress opens the compressed files operators keep logs and
// exports in: gzip, zstd, bzip2 and xz, told by their first bytes, or by
// the file's name when the bytes say nothing (a truncated or empty file).
// logrotate compresses with any of them (compresscmd), and journal exports
// and archive buckets hold zstd and xz as often as gzip.
package decompress

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Plain is the format of a file that is not compressed.
const Plain = ""

type format struct {
	name  string
	exts  []string
	magic []byte
	// also checks bytes after the magic, where the magic alone is short
	// enough for a plain text file to begin with it.
	also func(head []byte) bool
	open func(r io.Reader) (io.ReadCloser, error)
}

var formats = []format{
	{name: "gzip", exts: []string{".gz"}, magic: []byte{0x1f, 0x8b},
		open: func(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }},
	{name: "zstd", exts: []string{".zst", ".zstd"}, magic: []byte{0x28, 0xb5, 0x2f, 0xfd},
		open: func(r io.Reader) (io.ReadCloser, error) {
			// One goroutine a file: a glob over pod logs merges thousands.
			d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
			if err != nil {
				return nil, err
			}
			return d.IOReadCloser(), nil
		}},
	{name: "bzip2", exts: []string{".bz2"}, magic: []byte("BZh"),
		// "BZh", the block size '1'..'9', then a block's or the stream end's magic.
		also: func(h []byte) bool {
			return len(h) >= 10 && h[3] >= '1' && h[3] <= '9' &&
				(bytes.Equal(h[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) || bytes.Equal(h[4:10], []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90}))
		},
		open: func(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(bzip2.NewReader(r)), nil }},
	{name: "xz", exts: []string{".xz"}, magic: []byte{0xfd, '7', 'z', 'X', 'Z', 0},
		open: func(r io.Reader) (io.ReadCloser, error) {
			x, err := xz.NewReader(r)
			if err != nil {
				return nil, err
			}
			return io.NopCloser(x), nil
		}},
}

// Extensions are the file name endings of the compressed formats.
func Extensions() []string {
	var out []string
	for _, f := range formats {
		out = append(out, f.exts...)
	}
	return out
}

// Open returns the decompressed stream of br and the name of its format
// (Plain, "gzip", "zstd", "bzip2", "xz"). A stream that is not compressed
// is returned as it is, with a no-op Close; an empty one reads as empty
// whatever its name. A file named for a format whose bytes are not that
// format's is an error, as is a compressed stream that cannot be read.
// Close the returned reader, then the file under br.
func Open(br *bufio.Reader, name string) (io.ReadCloser, string, error) {
	head, _ := br.Peek(10)
	if len(head) == 0 {
		return io.NopCloser(br), Plain, nil
	}
	for _, f := range formats {
		named := false
		for _, ext := range f.exts {
			named = named || strings.HasSuffix(name, ext)
		}
		magic := bytes.HasPrefix(head, f.magic) && (f.also == nil || f.also(head))
		if !magic && !named {
			continue
		}
		if !magic {
			return nil, f.name, fmt.Errorf("not a readable %s file: named like one, but its first bytes are not %s's; decompress it or rename it", f.name, f.name)
		}
		rc, err := f.open(br)
		if errors.Is(err, io.EOF) {
			return io.NopCloser(bytes.NewReader(nil)), f.name, nil
		}
		if err != nil {
			return nil, f.name, fmt.Errorf("not a readable %s file: %w", f.name, err)
		}
		return rc, f.name, nil
	}
	return io.NopCloser(br), Plain, nil
}
