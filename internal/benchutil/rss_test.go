package benchutil

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseRSS(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         RSS
		ok           bool
	}{
		{"all three", "Name:\tx\nVmHWM:\t  9000 kB\nVmRSS:\t  8192 kB\nRssAnon:\t    2048 kB\nRssFile:\t    5120 kB\nRssShmem:\t       1024 kB\n", RSS{Anon: 2, File: 5, Shmem: 1}, true},
		{"missing RssShmem", "RssAnon:\t 1024 kB\nRssFile:\t 1024 kB\n", RSS{Anon: 1, File: 1}, false},
		{"garbage value", "RssAnon:\t x kB\nRssFile:\t 1024 kB\nRssShmem:\t 0 kB\n", RSS{File: 1}, false},
		{"empty", "", RSS{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseRSS(strings.NewReader(tc.status))
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseRSS = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestRSSSamplerSeesFilePages maps a file, touches every page and checks
// that the sampled file-backed peak grew by about the file's size while
// the anonymous peak did not.
func TestRSSSamplerSeesFilePages(t *testing.T) {
	if _, ok := ReadRSS(); !ok {
		t.Skip("no /proc/self/status")
	}
	const size = 64 << 20
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
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
	defer syscall.Munmap(m)
	before, _ := ReadRSS()
	s := StartRSSSampler(time.Millisecond)
	var sum byte
	for i := 0; i < size; i += 4096 {
		sum += m[i]
	}
	peak := s.Stop()
	if grew := peak.File - before.File; grew < 0.9*size/(1<<20) {
		t.Errorf("file-backed peak grew by %.1f MiB after touching a %d MiB mapping (sum %d)", grew, size>>20, sum)
	}
	if grew := peak.Anon - before.Anon; grew > 16 {
		t.Errorf("anonymous peak grew by %.1f MiB reading a file mapping", grew)
	}
}
