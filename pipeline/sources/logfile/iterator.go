package logfile

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opsdata/opsdata/internal/decompress"
	"github.com/opsdata/opsdata/pipeline"
)

const (
	// readBufSize is a file's read buffer; a source of many files shares
	// readBufBudget instead, down to minReadBuf a file: a glob over a
	// cluster's pod logs matches thousands of files, all open at once for
	// the merge.
	readBufSize   = 64 << 10
	readBufBudget = 64 << 20
	minReadBuf    = 4 << 10
	// ctxCheckEvery is how many records pass between context checks.
	ctxCheckEvery = 1024
)

// fileReader streams one file and holds its current record only.
type fileReader struct {
	src    *Source
	order  int // index in the sorted file list: the merge tie-breaker
	path   string
	base   string
	f      *os.File
	unz    io.ReadCloser // the decompressed stream of a compressed file, nil for a plain one
	br     *bufio.Reader
	parser lineParser
	cri    *criJoiner // format cri: partial lines held until their full line
	names  entityNames
	line   int64
	buf    []byte // holds a line that spans bufio's buffer
	rec    pipeline.LogRecord
	prev   time.Time
	seen   bool // prev is set
	closed bool
	// The start line of the next multi-line entry, read ahead.
	held       bool
	heldText   string
	heldLine   int64
	heldOffset int64
	// offset counts the bytes read (uncompressed); lineStart is where the
	// line nextText returned last began.
	offset, lineStart int64
	// mark is where this run leaves the file for the next (Source.Resume):
	// set at the first record at or after the source's markAt; before it,
	// the problems counted go into mark.Problems too.
	mark   pipeline.LogMark
	marked bool
	size   int64
	mod    time.Time
}

// readBufFor is the read buffer of each of n files read at once.
func readBufFor(n int) int {
	return max(minReadBuf, min(readBufSize, readBufBudget/max(n, 1)))
}

func openFile(src *Source, order int, path string, bufSize int) (*fileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("log source %q: %w", src.cfg.Name, err)
	}
	r := &fileReader{src: src, order: order, path: path, base: filepath.Base(path), f: f, parser: src.newParse()}
	if src.cfg.Format == FormatCRI {
		r.cri = &criJoiner{}
	}
	if st, err := f.Stat(); err == nil {
		r.size, r.mod = st.Size(), st.ModTime()
	}
	if fa, ok := r.parser.(fileAware); ok {
		fa.setFile(path, r.mod)
	}
	if r.size < int64(bufSize) {
		bufSize = max(minReadBuf, int(r.size)+1) // no more than the file
	}
	br := bufio.NewReaderSize(f, bufSize)
	unz, codec, err := decompress.Open(br, path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("log source %q: %s: %w", src.cfg.Name, path, err)
	}
	if codec != decompress.Plain {
		r.unz = unz
		br = bufio.NewReaderSize(unz, bufSize)
	}
	r.br = br
	if m, ok := src.from[path]; ok {
		if err := r.skipTo(m); err != nil {
			r.close()
			return nil, fmt.Errorf("log source %q: %s: %w", src.cfg.Name, path, err)
		}
	}
	return r, nil
}

// skipTo starts the file at an earlier run's mark when the file still
// holds what that run read: a plain file at least as long (logs are
// appended), a compressed one unchanged. Otherwise it is read from its
// start. The mark's problems are counted, as if its lines were read.
func (r *fileReader) skipTo(m pipeline.LogMark) error {
	switch {
	case r.unz == nil && r.size >= m.Offset && r.tail(m.Offset) == m.Tail:
		if _, err := r.f.Seek(m.Offset, io.SeekStart); err != nil {
			return err
		}
		r.br.Reset(r.f)
	case r.unz != nil && r.size == m.Size && r.mod.Equal(m.ModTime):
		if _, err := io.CopyN(io.Discard, r.br, m.Offset); err != nil {
			return err
		}
	default:
		return nil
	}
	r.line, r.offset = m.Line, m.Offset
	r.prev, r.seen = m.Prev, !m.Prev.IsZero()
	r.src.problems.Restore(r.src.input, m.Problems)
	pipeline.MergeProblems(&r.mark.Problems, m.Problems)
	return nil
}

// tailBytes is how much of a plain file before a mark must be unchanged
// for a later run to start at the mark: a file replaced by another
// (rotated by copy and truncate, rewritten) is read from its start.
const tailBytes = 512

// tail digests the bytes of a plain file just before offset.
func (r *fileReader) tail(offset int64) string {
	if r.unz != nil {
		return ""
	}
	n := min(offset, tailBytes)
	b := make([]byte, n)
	if _, err := r.f.ReadAt(b, offset-n); err != nil {
		return "unreadable"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// markHere records the mark before the record just parsed, whose first
// line is line and began at offset.
func (r *fileReader) markHere(line, offset int64) {
	r.marked = true
	r.mark.Line, r.mark.Offset, r.mark.Prev = line-1, offset, r.prev
	r.mark.Tail = r.tail(offset)
	if !r.seen {
		r.mark.Prev = time.Time{}
	}
}

// finishMark records the file's mark: at its end when no record reached
// the source's markAt.
func (r *fileReader) finishMark() {
	if r.src.marks == nil {
		return
	}
	if !r.marked {
		r.markHere(r.line+1, r.offset)
	}
	r.mark.Size, r.mark.ModTime = r.size, r.mod
	r.src.setMark(r.path, r.mark)
}

// readLine returns the next line without its line ending. tooLong reports a
// line over MaxLineBytes, whose content is not returned. The returned slice
// is valid until the next call.
func (r *fileReader) readLine() (line []byte, tooLong bool, err error) {
	r.buf = r.buf[:0]
	total := 0
	for {
		chunk, err := r.br.ReadSlice('\n')
		total += len(chunk)
		r.offset += int64(len(chunk))
		if err == nil && total == len(chunk) {
			line = chunk // fast path: the whole line is in bufio's buffer
			break
		}
		if !tooLong {
			if total > MaxLineBytes+2 { // +2: room for "\r\n"
				tooLong = true
				r.buf = nil // do not keep a megabyte around
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if total == 0 {
				return nil, false, io.EOF
			}
			line = r.buf
			break // last line without a newline
		}
		if err != nil {
			return nil, false, err
		}
		line = r.buf
		break
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if tooLong || len(line) > MaxLineBytes {
		return nil, true, nil
	}
	return line, false, nil
}

func (r *fileReader) problem(reason, detail string) {
	where := r.base + ":" + strconv.FormatInt(r.line, 10)
	r.src.problems.Add(r.src.input, where, reason, detail)
	if r.src.marks != nil && !r.marked {
		pipeline.AddProblem(&r.mark.Problems, where, reason, detail)
	}
}

// nextText reads the next line as valid UTF-8. blank reports a line of
// white space only; ok=false means the end of the file.
func (r *fileReader) nextText() (s string, blank, ok bool, err error) {
	for {
		r.lineStart = r.offset
		raw, tooLong, err := r.readLine()
		if err == io.EOF {
			return "", false, false, nil
		}
		if err != nil {
			return "", false, false, fmt.Errorf("log source %q: %s: after line %d: %w", r.src.cfg.Name, r.path, r.line, err)
		}
		r.line++
		if tooLong {
			r.problem(reasonTooLong, fmt.Sprintf("longer than %d bytes", MaxLineBytes))
			continue
		}
		if r.lineStart == 0 {
			// A byte-order mark opens files that Windows tools and .NET
			// write: UTF-8's is dropped; UTF-16 is not text this reads.
			raw = bytes.TrimPrefix(raw, []byte("\uFEFF"))
			if bytes.HasPrefix(raw, []byte{0xFF, 0xFE}) || bytes.HasPrefix(raw, []byte{0xFE, 0xFF}) {
				r.problem(reasonUTF16, "the file is UTF-16 and was not read; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)")
				return "", false, false, nil
			}
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			return "", true, true, nil
		}
		if utf8.Valid(raw) {
			return string(raw), false, true, nil
		}
		// Repaired and still emitted: one bad byte should not cost the line.
		r.problem(reasonInvalidUTF8, "replaced invalid bytes with U+FFFD")
		return strings.ToValidUTF8(string(raw), "\uFFFD"), false, true, nil
	}
}

// advance reads up to the next well-formed record. It returns false at the
// end of the file; an error means the file could not be read.
func (r *fileReader) advance() (bool, error) {
	for {
		var (
			s           string
			line, start int64
		)
		if r.held {
			s, line, start, r.held = r.heldText, r.heldLine, r.heldOffset, false
		} else {
			t, blank, ok, err := r.nextText()
			if err != nil {
				return false, err
			}
			if !ok {
				if r.cri == nil {
					return false, nil
				}
				// The file ended inside a partial line: what it holds is
				// still a record (the rest went to the next, rotated file).
				if s, line, start, ok = r.cri.flush(); !ok {
					return false, nil
				}
				r.problem(reasonUnfinishedCRI, "the file ended inside a partial (P) line; its fragments were kept as one record")
			} else if blank {
				continue // blank lines carry no record
			} else if s, line, start = t, r.line, r.lineStart; r.cri != nil {
				if s, line, start, ok = r.joinCRI(s, line, start); !ok {
					continue // a partial line, held until its full line
				}
			}
		}
		if p, ok := r.parser.parse(s, &r.rec); !ok {
			r.problem(p.reason, p.detail)
			continue
		}
		if r.src.marks != nil && !r.marked && !r.rec.Time.Before(r.src.markAt) {
			r.markHere(line, start)
		}
		if r.src.ml != nil {
			if err := r.continuation(line, s); err != nil {
				return false, err
			}
		}
		r.rec.Entity = r.names.intern(r.rec.Entity)
		r.rec.Source = r.src.cfg.Name
		r.rec.File = r.base
		r.rec.Path = r.path
		r.rec.Line = line
		if r.seen && r.rec.Time.Before(r.prev) {
			// Still emitted; the runner copes with late records.
			r.problem(reasonOutOfOrder, "earlier than the previous record of the file by "+r.prev.Sub(r.rec.Time).String())
		}
		r.prev, r.seen = r.rec.Time, true
		return true, nil
	}
}

// joinCRI passes a CRI line through the partial-line joiner: ok=false
// while the line is partial; a joined line over MaxLineBytes is counted.
func (r *fileReader) joinCRI(s string, line, start int64) (string, int64, int64, bool) {
	s, line, start, ok, cut := r.cri.add(s, line, start)
	if cut {
		r.problem(reasonTooLong, fmt.Sprintf("partial lines joined to more than %d bytes; the rest was dropped", MaxLineBytes))
	}
	return s, line, start, ok
}

func (r *fileReader) close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	if r.unz != nil {
		errs = append(errs, r.unz.Close())
	}
	if r.f != nil {
		errs = append(errs, r.f.Close())
	}
	return errors.Join(errs...)
}

// fileIter is one file's reader as a pipeline.LogIterator, so the files
// of a source are merged by the pipeline's one k-way merge. An exhausted
// file is closed at once, so empty and finished files hold no descriptor.
type fileIter struct {
	r   *fileReader
	err error
}

func (f *fileIter) Next() bool {
	ok, err := f.r.advance()
	if err != nil {
		f.err = err
		return false
	}
	if !ok {
		f.r.finishMark()
		if err := f.r.close(); err != nil {
			f.err = fmt.Errorf("log source %q: %s: %w", f.r.src.cfg.Name, f.r.path, err)
		}
		return false
	}
	return true
}

func (f *fileIter) At() pipeline.LogRecord { return f.r.rec }
func (f *fileIter) Err() error             { return f.err }
func (f *fileIter) Close() error           { return f.r.close() }

// mergeIter merges the source's files in time order (file order, then line,
// breaks ties) and checks the context now and then.
type mergeIter struct {
	ctx context.Context
	m   *pipeline.LogMerge
	err error
	n   int
}

func newMergeIter(ctx context.Context, src *Source, files []string) (*mergeIter, error) {
	its := make([]pipeline.LogIterator, 0, len(files))
	bufSize := readBufFor(len(files))
	for i, path := range files {
		r, err := openFile(src, i, path, bufSize)
		if err != nil {
			for _, it := range its {
				it.Close()
			}
			return nil, err
		}
		its = append(its, &fileIter{r: r})
	}
	// The files' first records are read by the first Next (MergeLogs).
	return &mergeIter{ctx: ctx, m: pipeline.MergeLogs(its)}, nil
}

// Next advances to the next record in time order.
func (it *mergeIter) Next() bool {
	if it.err != nil {
		return false
	}
	if it.n++; it.n%ctxCheckEvery == 0 {
		if err := it.ctx.Err(); err != nil {
			it.err = err
			return false
		}
	}
	return it.m.Next()
}

// At returns the current record. Its Fields map is not reused.
func (it *mergeIter) At() pipeline.LogRecord { return it.m.At() }

// Err returns the error that stopped the iteration, if any.
func (it *mergeIter) Err() error {
	if it.err != nil {
		return it.err
	}
	return it.m.Err()
}

// Close closes every file still open. It is safe to call twice.
func (it *mergeIter) Close() error { return it.m.Close() }

// entityNames hands out one string per entity name of a file. A parsed
// entity points into its line, read long before the runner's lookups by
// entity (its published name, its window row, its counts) on another
// core: each of those began with a cache miss on the line (~0.2 µs a line
// on the realistic day). A file's lines name a few entities, so the shared
// strings stay in cache.
type entityNames struct {
	last  string
	names map[string]string
}

// maxEntityNames bounds the names a file interns; past it, a name is kept
// as parsed (a log with an entity per line is not what this is for).
const maxEntityNames = 256

func (n *entityNames) intern(s string) string {
	if s == n.last {
		return n.last
	}
	if v, ok := n.names[s]; ok {
		n.last = v
		return v
	}
	if len(n.names) >= maxEntityNames {
		return s
	}
	if n.names == nil {
		n.names = map[string]string{}
	}
	v := strings.Clone(s)
	n.names[v], n.last = v, v
	return v
}
