package runner

import (
	"fmt"
	"os"
	"testing"

	"github.com/opsdata/opsdata/spec"
)

func TestEntityShardable(t *testing.T) {
	cases := []struct {
		expr string
		ok   bool
	}{
		{`sum by (service) (rate(http_requests_total[5m]))`, true},
		{`histogram_quantile(0.99, sum by (service, le) (rate(h_bucket[5m])))`, true},
		{`sum by (service) (rate(e[5m])) / sum by (service) (rate(r[5m]))`, true},
		{`avg by (service) (cpu) > 0.5`, true},
		{`rate(http_requests_total[5m])`, true}, // no aggregation: labels kept
		{`max_over_time(sum by (service) (rate(x[5m]))[1h:5m])`, true},
		{`sum(rate(x[5m]))`, false},           // over every entity
		{`sum by (job) (rate(x[5m]))`, false}, // another grouping
		{`sum without (instance) (rate(x[5m]))`, false},
		{`x / on (job) group_left y`, false}, // matching drops the entity
		{`x / on (service) group_left y`, true},
		{`x / ignoring (service) y`, false},
		{`x / ignoring (instance) y`, true},
		{`x * 2`, true},
		{`scalar(sum(x)) * x`, false},
		{`absent(x{service="a"})`, false},
		{`label_replace(x, "service", "$1", "job", "(.*)")`, false},
		{`vector(1)`, false},
		{`1`, false}, // a scalar, no selector
		{`topk by (service) (3, x)`, true},
		{`topk(3, x)`, false},
	}
	for _, c := range cases {
		if got := entityShardable(c.expr, "service"); got != c.ok {
			t.Errorf("%s: shardable by service %v, want %v", c.expr, got, c.ok)
		}
	}
	// Every feature of the demo spec is.
	b, err := os.ReadFile("../../datasets/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse("demo.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range s.Metrics.Features {
		if !entityShardable(f.Expr, s.Entity.Label) {
			t.Errorf("demo feature %s (%s) is not split by entity", f.Name, f.Expr)
		}
	}
}

// TestEntityPartitionCoversEverySeries: whatever the values, every series
// (of a listed value, an unlisted one, or without the label) is selected
// by exactly one bucket's matcher.
func TestEntityPartitionCoversEverySeries(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 16} {
		var values []string
		for i := range 50 {
			values = append(values, fmt.Sprintf("svc-%d.example", i))
		}
		values = append(values, `odd|value`, `a.b*c`, `(x)`)
		p := newEntityPartition("service", values, n)
		probes := append(append([]string{}, values...), "", "unlisted", "svc-1", "svc-1.example.more")
		for _, v := range probes {
			hits := 0
			for b := range n {
				m, none := p.matcher(b)
				if none {
					continue
				}
				if m == nil || m.Matches(v) {
					hits++
				}
			}
			if hits != 1 {
				t.Fatalf("n=%d: %q is selected by %d buckets", n, v, hits)
			}
		}
		if q := newEntityPartition("service", append([]string{"zz"}, values...), n); n > 1 && q.digest() == p.digest() {
			t.Fatalf("n=%d: another listing gave the same partition digest", n)
		}
	}
}
