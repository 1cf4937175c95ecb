package runner

import (
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/logtemplates"
)

// lineSeqs spares pass 2 tokenizing a line again to find its cluster
// (tokenizing was most of matching, ~1 µs a line). A line's cluster
// depends only on its masked tokens and the mined day, and a day's
// millions of lines have far fewer distinct masked sequences. So pass 1
// numbers the sequences it tokenizes and remembers each line's number by
// (file, line) with a hash of its message; pass 2 matches the first line
// of each sequence it meets and hands that answer to the others.
//
// Pass 2 tokenizes as before any line pass 1 did not number: one it did
// not mine (older than its day), one past the cap on sequences, or one
// whose message is not the one pass 1 read (the file changed between the
// passes). Sequences are told apart by a 64-bit hash with their token count
// and length, so the numbers, given in pass 1's line order, are the same
// on every run.
type lineSeqs struct {
	seed  maphash.Seed
	ids   map[seqKey]uint32
	files map[string]*fileSeqs // by lineKey
	last  fileCursor           // pass 1's current file
	// final is each sequence's cluster in the mined day, set by the first
	// of its lines pass 2 matches (noCluster: it matched none).
	final []atomic.Pointer[logtemplates.Cluster]
}

// maxLineSeqs bounds the sequences a day numbers (their map is ~40 bytes
// each); lines of a day with more are tokenized in pass 2.
const maxLineSeqs = 1 << 18

// maxLineGap bounds the lines a file's table holds for lines that carry
// no record (blank, malformed, another day's), 8 bytes each.
const maxLineGap = 1 << 16

type seqKey struct {
	hash       uint64
	toks, size uint32
}

// fileSeqs holds a file's lines from first on: the sequence number plus
// one in the high half (0: not numbered), the message hash in the low. The
// lines are kept in fixed chunks, so a day of millions costs its 8 bytes a
// line and no copies of a doubling slice. The first chunk starts small and
// grows: a glob over pod logs reads thousands of short files.
type fileSeqs struct {
	first, n int64
	chunks   [][]uint64
}

const (
	seqChunk      = 1 << 14
	firstSeqChunk = 1 << 8
)

func (f *fileSeqs) at(i int64) uint64 { return f.chunks[i/seqChunk][i%seqChunk] }

func (f *fileSeqs) push(v uint64) {
	if f.n%seqChunk == 0 {
		size := seqChunk
		if f.n == 0 {
			size = firstSeqChunk
		}
		f.chunks = append(f.chunks, make([]uint64, 0, size))
	}
	c := &f.chunks[len(f.chunks)-1]
	*c = append(*c, v)
	f.n++
}

// noCluster marks a sequence that matched no cluster.
var noCluster = new(logtemplates.Cluster)

func newLineSeqs() *lineSeqs {
	return &lineSeqs{seed: maphash.MakeSeed(), ids: map[seqKey]uint32{}, files: map[string]*fileSeqs{}}
}

// reset forgets the day (the next day's miners differ) and lets its
// tables go.
func (s *lineSeqs) reset() {
	s.ids = map[seqKey]uint32{}
	s.files = map[string]*fileSeqs{}
	s.last = fileCursor{}
	s.final = nil
}

// lineSig is what pass 1 computes for a line on any core: its sequence's
// key and its message's hash.
type lineSig struct {
	seq seqKey
	msg uint32
}

func (s *lineSeqs) sign(source string, toks []string, msg string) lineSig {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(source)))])
	h.WriteString(source) // each source has its own miner
	size := 0
	for _, t := range toks {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(t)))]) // no two sequences write the same bytes
		h.WriteString(t)
		size += len(t)
	}
	return lineSig{seqKey{h.Sum64(), uint32(len(toks)), uint32(size)}, s.msgHash(msg)}
}

func (s *lineSeqs) msgHash(msg string) uint32 { return uint32(maphash.String(s.seed, msg)) }

// note numbers rec's sequence, in pass 1's line order.
func (s *lineSeqs) note(rec *pipeline.LogRecord, sig lineSig) {
	id, ok := s.ids[sig.seq]
	if !ok {
		if len(s.ids) >= maxLineSeqs {
			return
		}
		id = uint32(len(s.ids))
		s.ids[sig.seq] = id
	}
	f := s.file(&s.last, rec, true)
	i := rec.Line - f.first
	switch {
	case f.n == 0:
		f.first, i = rec.Line, 0
	case i < f.n || i-f.n > maxLineGap:
		return // not after the file's last line, or too far past it
	}
	for f.n < i {
		f.push(0)
	}
	f.push(uint64(id+1)<<32 | uint64(sig.msg))
}

// fileCursor remembers the file of the last line looked up: lines come in
// runs from one file. One per goroutine.
type fileCursor struct {
	key  lineKeyCache
	at   string
	file *fileSeqs
}

// file returns rec's file table (nil if none and !create).
func (s *lineSeqs) file(c *fileCursor, rec *pipeline.LogRecord, create bool) *fileSeqs {
	if k := c.key.of(rec); c.file == nil || k != c.at {
		c.at, c.file = k, s.files[k]
		if c.file == nil && create {
			c.file = &fileSeqs{}
			s.files[k] = c.file
		}
	}
	return c.file
}

// mined returns the number pass 1 gave rec's line, if it did and the
// message is the one it read. Safe on many goroutines once the day is
// mined.
func (s *lineSeqs) mined(c *fileCursor, rec *pipeline.LogRecord) (uint32, bool) {
	f := s.file(c, rec, false)
	if f == nil {
		return 0, false
	}
	i := rec.Line - f.first
	if i < 0 || i >= f.n {
		return 0, false
	}
	v := f.at(i)
	if v>>32 == 0 || v>>32 > uint64(len(s.final)) || uint32(v) != s.msgHash(rec.Message) {
		return 0, false // not numbered, or the day not sealed, or another message
	}
	return uint32(v>>32) - 1, true
}

// matched is the day's final cluster of sequence id, computing it with
// match the first time (concurrent first lines compute the same answer).
func (s *lineSeqs) matched(id uint32, match func() *logtemplates.Cluster) *logtemplates.Cluster {
	p := &s.final[id]
	c := p.Load()
	if c == nil {
		if c = match(); c == nil {
			c = noCluster
		}
		p.Store(c)
	}
	if c == noCluster {
		return nil
	}
	return c
}

// seal ends pass 1 of the day: pass 2 may look up its lines.
func (s *lineSeqs) seal() {
	s.final = make([]atomic.Pointer[logtemplates.Cluster], len(s.ids))
	s.ids = map[seqKey]uint32{} // pass 2 needs the numbers only
}
