//go:build linux

package raw

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// releaseMapped drops from this process's resident set the pages of the
// TSDB block files mapped read-only into it (<block>/chunks/NNNNNN and the
// <block>/index beside them). Prometheus maps them with PROT_READ and
// MAP_SHARED (tsdb/fileutil) and has no option to release them, so a
// block read from end to end stays resident (file-backed RSS as large as
// its chunks: 150 MB a day for 10k series) until the kernel needs the
// memory. MADV_DONTNEED on a read-only shared file mapping loses nothing:
// a later access faults the page in again from the page cache or the file.
// Anonymous and writable mappings are never touched.
//
// It also advises MADV_NOHUGEPAGE: on a kernel whose page cache holds
// large folios (ext4 on Linux 6.x), a read of one series' chunks would
// otherwise map the whole 2 MiB folio around it, so a few hundred series
// scattered over the segment map a hundred MB. It returns how many
// mappings it released.
func releaseMapped() (int, error) {
	var b blockPages
	return b.release()
}

// blockPages is releaseMapped for repeated use: reading /proc/self/maps
// costs ~130 µs with a block open (the kernel formats every mapping), so
// it is read only every rescanEvery releases. In between, the mappings the
// last read found are released again, each only if
// /proc/self/map_files/LO-HI (a few µs) still names its file: a range
// that was unmapped, or now holds other memory, is never advised. Where
// map_files cannot be read, every release reads /proc/self/maps.
type blockPages struct {
	ms         []mapping
	releases   int
	noMapFiles bool
}

// rescanEvery is how many releases reuse one read of /proc/self/maps:
// mappings of blocks opened since (a bucket source opens them as they are
// queried) are released from the next read on.
const rescanEvery = 16

func (b *blockPages) release() (int, error) {
	defer func() { b.releases++ }()
	if b.noMapFiles || b.releases%rescanEvery == 0 {
		f, err := os.Open("/proc/self/maps")
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if b.ms, err = blockMappings(f); err != nil {
			return 0, err
		}
		for _, m := range b.ms {
			if err := madvise(m, syscall.MADV_NOHUGEPAGE); err != nil {
				return 0, err
			}
			if err := madvise(m, syscall.MADV_DONTNEED); err != nil {
				return 0, err
			}
		}
		return len(b.ms), nil
	}
	n := 0
	for _, m := range b.ms {
		target, err := os.Readlink(fmt.Sprintf("/proc/self/map_files/%x-%x", m.lo, m.hi))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // unmapped, or its range changed: read the maps next time
		case err != nil:
			b.noMapFiles = true
			return n, nil
		case target != m.path:
			continue
		}
		if err := madvise(m, syscall.MADV_DONTNEED); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func madvise(m mapping, advice uintptr) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, m.lo, m.hi-m.lo, advice); e != 0 {
		return fmt.Errorf("madvise(%d) %s: %w", advice, m.path, e)
	}
	return nil
}

type mapping struct {
	lo, hi uintptr
	path   string
}

// blockMappings parses /proc/self/maps for the read-only shared mappings
// of TSDB block files: chunk segments, and the index of a block one of
// whose chunk segments is mapped.
func blockMappings(r io.Reader) ([]mapping, error) {
	var chunks, index []mapping
	blocks := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// 7f..-7f.. r--s 00000000 08:03 3807908   /data/01D7…/chunks/000001
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "r--s" {
			continue
		}
		path := strings.Join(fields[5:], " ")
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		l, err1 := strconv.ParseUint(lo, 16, 64)
		h, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || h <= l {
			continue
		}
		m := mapping{uintptr(l), uintptr(h), path}
		dir, base := filepath.Split(path)
		switch {
		case isSegment(base) && filepath.Base(dir) == "chunks":
			chunks = append(chunks, m)
			blocks[filepath.Dir(filepath.Clean(dir))] = true
		case base == "index":
			index = append(index, m)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, m := range index {
		if blocks[filepath.Dir(m.path)] {
			chunks = append(chunks, m)
		}
	}
	return chunks, nil
}

// isSegment is a chunk segment's name: six decimal digits.
func isSegment(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
