//go:build linux

package raw

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

func TestBlockMappings(t *testing.T) {
	maps := strings.Join([]string{
		"7e5bf06e7000-7e5bf1734000 r--s 00000000 08:03 3807907    /data/01D73N/index",
		"7e5bf1734000-7e5bf2882000 r--s 00000000 08:03 3807908    /data/01D73N/chunks/000001",
		"7e5bf2882000-7e5bf2900000 r--s 00000000 08:03 3807909    /data/01D73N/chunks/000002",
		"7e5c00000000-7e5c00001000 rw-s 00000000 08:03 3807910    /data/01D73P/chunks/000001", // writable: never
		"7e5c00001000-7e5c00002000 r--p 00000000 08:03 3807911    /data/01D73Q/chunks/000001", // private: never
		"7e5c00002000-7e5c00003000 r--s 00000000 08:03 3807912    /data/other/index",          // no chunks mapped beside it
		"7e5c00003000-7e5c00004000 r--s 00000000 08:03 3807913    /data/x/chunks/00001",       // not a segment name
		"7e5c00004000-7e5c00005000 r--s 00000000 08:03 3807914    /data/x/blobs/000001",       // not under chunks/
		"7e5c00005000-7e5c00006000 rw-p 00000000 00:00 0          [heap]",
		"7e5c00006000-7e5c00007000 r--s 00000000 08:03 3807915    /data/my block/chunks/000003", // a space in the path
		"garbage",
	}, "\n")
	got, err := blockMappings(strings.NewReader(maps))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, m := range got {
		paths = append(paths, fmt.Sprintf("%x-%x %s", m.lo, m.hi, m.path))
	}
	want := []string{
		"7e5bf1734000-7e5bf2882000 /data/01D73N/chunks/000001",
		"7e5bf2882000-7e5bf2900000 /data/01D73N/chunks/000002",
		"7e5c00006000-7e5c00007000 /data/my block/chunks/000003",
		"7e5bf06e7000-7e5bf1734000 /data/01D73N/index",
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("blockMappings =\n%s\nwant\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
}

// TestReleaseMapped maps a block's chunk segment and another file the
// same way Prometheus does (PROT_READ, MAP_SHARED), touches every page of
// both, and checks that releaseMapped drops the segment's pages from the
// resident set, leaves the other file's resident, and that the segment
// still reads the same afterwards.
func TestReleaseMapped(t *testing.T) {
	const size = 8 << 20
	dir := t.TempDir()
	mapFile := func(rel string, fill byte) []byte {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = fill + byte(i%251)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Munmap(m) })
		return m
	}
	seg := mapFile("01BLOCK/chunks/000001", 1)
	other := mapFile("01BLOCK/notes", 2)
	touch := func(m []byte) (sum int) {
		for i := 0; i < len(m); i += 512 {
			sum += int(m[i])
		}
		return sum
	}
	sumSeg, sumOther := touch(seg), touch(other)
	cases := []struct {
		name string
		m    []byte
		// residentAfter is whether the mapping's pages stay resident.
		residentAfter bool
	}{
		{"chunk segment", seg, false},
		{"other file", other, true},
	}
	for _, tc := range cases {
		before := residentKiB(t, tc.m)
		if before < size/1024*9/10 {
			t.Fatalf("%s: %d KiB resident after touching every page of %d KiB", tc.name, before, size/1024)
		}
	}
	n, err := releaseMapped()
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Fatalf("released %d mappings, want the chunk segment's", n)
	}
	for _, tc := range cases {
		after := residentKiB(t, tc.m)
		if resident := after > size/1024/2; resident != tc.residentAfter {
			t.Errorf("%s: %d KiB of %d resident after releaseMapped; want resident = %v", tc.name, after, size/1024, tc.residentAfter)
		}
	}
	if got := touch(seg); got != sumSeg {
		t.Errorf("the released segment reads %d, before %d", got, sumSeg)
	}
	if got := touch(other); got != sumOther {
		t.Errorf("the other file reads %d, before %d", got, sumOther)
	}
}

// residentKiB is the Rss of the mapping starting at m's first byte, from
// /proc/self/smaps.
func residentKiB(t *testing.T, m []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps")
	}
	defer f.Close()
	start := strconv.FormatUint(uint64(uintptr(unsafe.Pointer(&m[0]))), 16) + "-"
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(strings.Fields(line)[0], "-") && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			in = strings.HasPrefix(line, start)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return kb
		}
	}
	t.Fatalf("mapping %s not found in /proc/self/smaps", start)
	return 0
}

// TestReleasesKeepBytes: releasing the mapped block pages while reading
// (here after every series) changes no byte of the output, and happens.
func TestReleasesKeepBytes(t *testing.T) {
	dir := orderBlock(t, "m", "n")
	defer func(old int64) { releaseEvery = old }(releaseEvery)
	for _, tc := range []struct {
		name     string
		every    int64
		released bool
	}{
		{"never", 0, false},
		{"after every series", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			releaseEvery = tc.every
			n := releases.Load()
			out := writeBlock(t, dir, testKey, nil)
			if got := releases.Load() > n+1; got != tc.released { // +1: the listing's final release
				t.Errorf("released %d times, want released = %v", releases.Load()-n, tc.released)
			}
			releaseEvery = 0
			want := writeBlock(t, dir, testKey, nil)
			if a, b := dirSums(t, out), dirSums(t, want); len(a) == 0 || !maps.Equal(a, b) {
				t.Errorf("output with releases %v, without %v", a, b)
			}
		})
	}
}

// TestBlockPagesReusesMaps: between two reads of /proc/self/maps a
// release advises the mappings the last read found, and only while
// /proc/self/map_files still names their file: a range remapped to
// another file, or unmapped, is left alone.
func TestBlockPagesReusesMaps(t *testing.T) {
	const size = 4 << 20
	dir := t.TempDir()
	write := func(rel string, fill byte) *os.File {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{fill}, size), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	seg, notes := write("01BLOCK/chunks/000001", 1), write("01BLOCK/notes", 2)
	m, err := syscall.Mmap(int(seg.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	addr := uintptr(unsafe.Pointer(&m[0]))
	touch := func() (sum int) {
		for i := 0; i < size; i += 4096 {
			sum += int(m[i])
		}
		return sum
	}
	var b blockPages
	steps := []struct {
		name     string
		before   func()
		released int
		resident bool // m's pages after the release
		sum      int  // what m reads
	}{
		{"first release reads the maps", func() {}, 1, false, size / 4096},
		{"cached mapping, same file", func() {}, 1, false, size / 4096},
		{"range remapped to another file", func() {
			// MAP_FIXED over the same range: the cached entry's range now holds notes.
			if _, _, e := syscall.Syscall6(syscall.SYS_MMAP, addr, size, syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_FIXED, notes.Fd(), 0); e != 0 {
				t.Fatal(e)
			}
		}, 0, true, 2 * size / 4096},
	}
	for _, st := range steps {
		st.before()
		if got := touch(); got != st.sum {
			t.Fatalf("%s: the mapping reads %d, want %d", st.name, got, st.sum)
		}
		n, err := b.release()
		if err != nil {
			t.Fatal(err)
		}
		if n != st.released {
			t.Errorf("%s: released %d mappings, want %d", st.name, n, st.released)
		}
		if resident := residentKiB(t, m) > size/1024/2; resident != st.resident {
			t.Errorf("%s: resident = %v, want %v", st.name, resident, st.resident)
		}
	}
	if err := syscall.Munmap(m); err != nil {
		t.Fatal(err)
	}
	if n, err := b.release(); n != 0 || err != nil {
		t.Errorf("after munmap: released %d, %v; want 0, nil", n, err)
	}
	if b.noMapFiles {
		t.Error("map_files unreadable here: the test checked full reads only")
	}
}
