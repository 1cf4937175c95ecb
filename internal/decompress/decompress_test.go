package decompress

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func read(t *testing.T, data []byte, name string) (string, string, error) {
	t.Helper()
	rc, format, err := Open(bufio.NewReader(bytes.NewReader(data)), name)
	if err != nil {
		return "", format, err
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	return string(out), format, err
}

// TestToolFixtures reads what the real command-line tools wrote, found by
// its bytes whatever the name, and by the name too.
func TestToolFixtures(t *testing.T) {
	want, err := os.ReadFile("testdata/lines.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, format string }{
		{"lines.gz", "gzip"}, {"lines.zst", "zstd"}, {"lines.bz2", "bzip2"}, {"lines.xz", "xz"}, {"lines.txt", Plain},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{tc.file, "app.log"} {
			got, format, err := read(t, data, name)
			if err != nil {
				t.Fatalf("%s as %s: %v", tc.file, name, err)
			}
			if format != tc.format || got != string(want) {
				t.Errorf("%s as %s: format %q, %d bytes; want %q, %d bytes", tc.file, name, format, len(got), tc.format, len(want))
			}
		}
		empty := "empty" + filepath.Ext(tc.file)
		if tc.format == Plain {
			continue
		}
		data, err = os.ReadFile(filepath.Join("testdata", empty))
		if err != nil {
			t.Fatal(err)
		}
		if got, format, err := read(t, data, empty); err != nil || got != "" || format != tc.format {
			t.Errorf("%s: %q, format %q, %v; want empty %s", empty, got, format, err, tc.format)
		}
	}
}

// TestConcatenatedStreams: rotated pieces appended with cat read as one.
func TestConcatenatedStreams(t *testing.T) {
	for _, file := range []string{"lines.gz", "lines.zst", "lines.bz2", "lines.xz"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := read(t, data, file)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := read(t, append(append([]byte{}, data...), data...), file)
		if err != nil || got != want+want {
			t.Errorf("%s twice: %d bytes, %v; want %d", file, len(got), err, 2*len(want))
		}
	}
}

// TestLargeStreams round-trips more than a buffer's worth through the Go
// encoders of zstd and xz.
func TestLargeStreams(t *testing.T) {
	var plain bytes.Buffer
	for i := 0; plain.Len() < 3<<20; i++ {
		plain.WriteString(`{"ts":"2026-01-05T00:00:01Z","msg":"line ` + strings.Repeat("x", i%97) + `"}` + "\n")
	}
	var zb bytes.Buffer
	zw, err := zstd.NewWriter(&zb)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(plain.Bytes())
	zw.Close()
	var xb bytes.Buffer
	xw, err := xz.NewWriter(&xb)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(plain.Bytes())
	xw.Close()
	for _, tc := range []struct {
		name string
		data []byte
	}{{"a.log.zst", zb.Bytes()}, {"a.log.xz", xb.Bytes()}} {
		got, _, err := read(t, tc.data, tc.name)
		if err != nil || got != plain.String() {
			t.Errorf("%s: %d bytes, %v; want %d", tc.name, len(got), err, plain.Len())
		}
	}
}

func TestNotCompressed(t *testing.T) {
	tests := []struct {
		name, content, file string
		err                 string // "" for a plain read
	}{
		{name: "empty file named .gz", file: "a.log.gz"},
		{name: "empty file named .zst", file: "a.log.zst"},
		{name: "text starting BZh", content: "BZh9 is not a bzip2 header here\n", file: "a.log"},
		{name: "text starting like gzip's first byte", content: "\x1fno\n", file: "a.log"},
		{name: "text named .gz", content: "plain line\n", file: "a.log.gz", err: "not a readable gzip file"},
		{name: "text named .zst", content: "plain line\n", file: "a.log.zst", err: "not a readable zstd file"},
		{name: "text named .bz2", content: "BZh9 plain\n", file: "a.log.bz2", err: "not a readable bzip2 file"},
		{name: "text named .xz", content: "plain line\n", file: "a.log.xz", err: "not a readable xz file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, format, err := read(t, []byte(tc.content), tc.file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "plain") {
					t.Errorf("error %q quotes the file's content", err)
				}
				return
			}
			if err != nil || got != tc.content || format != Plain {
				t.Errorf("got %q, format %q, %v; want the text as it is", got, format, err)
			}
		})
	}
}

// TestCorruptStream: damage inside a compressed stream is a read error,
// never bytes made up.
func TestCorruptStream(t *testing.T) {
	for _, file := range []string{"lines.gz", "lines.zst", "lines.bz2", "lines.xz"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte{}, data...)
		bad = bad[:len(bad)-6] // truncated, as a copy cut short leaves it
		if _, _, err := read(t, bad, file); err == nil {
			t.Errorf("%s truncated: read without error", file)
		}
	}
}
