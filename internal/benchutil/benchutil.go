// Package benchutil helps benchmarks report what BENCHMARKS.md tabulates:
// throughput and the process's peak resident memory.
package benchutil

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// PeakRSSMiB is the process's peak resident set size (VmHWM) in MiB, or 0
// where /proc is not available. Run one benchmark per process (`make bench`
// does) for the figure to belong to that benchmark.
func PeakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmHWM:") {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				kb, _ := strconv.ParseFloat(fields[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// Report adds a throughput metric (items per second, named unit+"/s") and
// the peak RSS to a benchmark's result.
func Report(b *testing.B, items float64, unit string) {
	b.Helper()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(items/s, unit+"/s")
	}
	b.ReportMetric(PeakRSSMiB(), "peak-RSS-MiB")
}
