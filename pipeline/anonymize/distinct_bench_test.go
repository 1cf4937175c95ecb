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
