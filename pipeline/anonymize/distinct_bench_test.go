package anonymize

import (
	"fmt"
	"testing"

	"github.com/opsdata/opsdata/internal/benchutil"
	"github.com/opsdata/opsdata/spec"
)

// BenchmarkTextDistinctIPs: 200k access-log lines, each from a different
// client address (real logs look like this). Detector-found addresses must
// not grow or rebuild the text matcher, or Text turns quadratic.
func BenchmarkTextDistinctIPs(b *testing.B) {
	const lines = 200_000
	msgs := make([]string, lines)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("GET /v1/cart/%d 200 12ms client=10.%d.%d.%d user=jdoe42", i, i>>16&255, i>>8&255, i&255)
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		a, err := New([]byte("0123456789abcdef0123456789abcdef"), spec.Anonymize{HostDomains: []string{"acme.internal"}}, "service")
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			a.Text(m)
		}
	}
	benchutil.Report(b, float64(lines*b.N), "lines")
}

// BenchmarkTextDistinctHosts is the distinct-identifier sweep: the
// anonymizer already knows d distinct hostnames (learned earlier in the
// day: setup, not timed), then scrubs 200k log lines naming a known host
// (93%) or a new one (7%, the churn of a real day: ~350k new hosts in 5M
// lines), each learned by the host detector. Learning a value costs
// O(its length) and matching does not grow with the inventory, so lines/s
// stays flat from 1k to 1M distinct.
func BenchmarkTextDistinctHosts(b *testing.B) {
	const lines = 200_000
	host := func(k int) string {
		return fmt.Sprintf("ip-10-%d-%d-%d.node.acme.internal", k>>16&255, k>>8&255, k&255)
	}
	for _, d := range []int{1_000, 10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("distinct=%d", d), func(b *testing.B) {
			msgs := make([]string, lines)
			next := d
			for i := range msgs {
				k := (i * 7919) % d
				if i%100 < 7 {
					k, next = next, next+1
				}
				msgs[i] = fmt.Sprintf("GET /v1/cart/%d 200 12ms from %s user=jdoe%d", i, host(k), i%3000)
			}
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				b.StopTimer()
				a, err := New([]byte("0123456789abcdef0123456789abcdef"), spec.Anonymize{HostDomains: []string{"acme.internal"}}, "service")
				if err != nil {
					b.Fatal(err)
				}
				for k := 0; k < d; k++ {
					a.Learn(TypeHost, host(k))
				}
				b.StartTimer()
				for _, m := range msgs {
					a.Text(m)
				}
			}
			benchutil.Report(b, float64(lines*b.N), "lines")
		})
	}
}

// BenchmarkMatcherScan is the learned-value scan alone: an automaton of
// 350k host names (a realistic day's churn) over lines that name one of
// them, or none. It reports the automaton's states per pattern byte
// and scanned MB/s.
func BenchmarkMatcherScan(b *testing.B) {
	const hosts, lines = 350_000, 100_000
	host := func(k int) string { return fmt.Sprintf("node-%d.prod.acme.internal", k) }
	pats := make([]string, hosts)
	for k := range pats {
		pats[k] = host(k)
	}
	m := newMatcher(pats)
	texts := make([]string, lines)
	size := 0
	for i := range texts {
		texts[i] = fmt.Sprintf("retrying call to %s attempt=%d from pod checkout-%d", host((i*7919)%hosts), i%5, i%100)
		if i%3 == 0 {
			texts[i] = fmt.Sprintf("GET /v1/items/%d 200 %dms client=10.0.%d.%d", i, i%500, i%256, i%200)
		}
		size += len(texts[i])
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	found := 0
	for n := 0; n < b.N; n++ {
		for _, t := range texts {
			m.each(t, func(match) bool { found++; return true })
		}
	}
	if found == 0 {
		b.Fatal("no host found")
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
}
