package benchutil

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RSS is resident memory in MiB as /proc/self/status splits it: Anon is
// the process's own memory (heap, stacks; what must stay flat), File the
// pages of memory-mapped files (the TSDB's chunk and index files: clean,
// the kernel may drop them and read them again), Shmem shared memory.
type RSS struct {
	Anon, File, Shmem float64
}

// parseRSS reads RssAnon, RssFile and RssShmem from a /proc/<pid>/status.
func parseRSS(r io.Reader) (RSS, bool) {
	var out RSS
	found := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *float64
		switch key {
		case "RssAnon":
			dst = &out.Anon
		case "RssFile":
			dst = &out.File
		case "RssShmem":
			dst = &out.Shmem
		default:
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		*dst = kb / 1024
		found++
	}
	return out, found == 3
}

// ReadRSS is the process's current RSS split, false where /proc is not
// available.
func ReadRSS() (RSS, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return RSS{}, false
	}
	defer f.Close()
	return parseRSS(f)
}

// RSSSampler polls ReadRSS and keeps the peak of each part (the kernel
// keeps only the peak of the total, VmHWM). The peaks need not be
// simultaneous; a spike shorter than the interval can be missed.
type RSSSampler struct {
	mu   sync.Mutex
	peak RSS
	stop chan struct{}
	done chan struct{}
}

// StartRSSSampler samples every interval until Stop.
func StartRSSSampler(every time.Duration) *RSSSampler {
	s := &RSSSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *RSSSampler) sample() {
	r, ok := ReadRSS()
	if !ok {
		return
	}
	s.mu.Lock()
	s.peak.Anon = max(s.peak.Anon, r.Anon)
	s.peak.File = max(s.peak.File, r.File)
	s.peak.Shmem = max(s.peak.Shmem, r.Shmem)
	s.mu.Unlock()
}

// Stop ends the sampling (after one last sample) and returns the peaks.
func (s *RSSSampler) Stop() RSS {
	close(s.stop)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// ReportRSSSplit adds the sampled peaks as peak-anon-MiB and peak-file-MiB.
func ReportRSSSplit(b *testing.B, p RSS) {
	b.Helper()
	b.ReportMetric(p.Anon, "peak-anon-MiB")
	b.ReportMetric(p.File, "peak-file-MiB")
}

// CPUSeconds is the user+system CPU time this process has used so far (0
// where getrusage fails): unlike wall time, it barely moves when other
// work shares the cores.
func CPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
