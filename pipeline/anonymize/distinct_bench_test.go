package anonymize

import (
	"fmt"
	"testing"

	"github.com/opsdata/opsdata/spec"
	"github.com/opsdata/opsdata/internal/benchutil"
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
