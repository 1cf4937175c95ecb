package promblocks

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/pipeline/sources/sourcetest"
	"github.com/opsdata/opsdata/spec"
)

// TestConformance runs the metric source suite (the one promtsdb runs, on
// the same generated data) over the demo's blocks uploaded twice, as two
// HA replicas holding identical samples: deduplicated, they must read
// exactly as the one TSDB directory does.
func TestConformance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	sum, err := demo.Generate(context.Background(), demo.Config{Dir: dir, Duration: 26 * time.Hour, Scrape: 30 * time.Second, Services: 2, Instances: 2})
	if err != nil {
		t.Fatal(err)
	}
	tsdbDir := filepath.Join(dir, "tsdb")
	entries, err := os.ReadDir(tsdbDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			st := be.open(t)
			n := 0
			for _, e := range entries {
				id, err := ulid.ParseStrict(e.Name())
				if err != nil {
					continue
				}
				for _, r := range []string{"r0", "r1"} {
					upload(t, st.bkt, "demo", filepath.Join(tsdbDir, e.Name()), blockID(t, r+e.Name(), int64(id.Time())),
						uploadOpts{ext: map[string]string{"replica": r}, listFiles: r == "r1"})
					n++
				}
			}
			if n < 4 {
				t.Fatalf("uploaded %d blocks, want two replicas of at least two", n)
			}
			cfg := st.cfg("demo")
			cfg.ReplicaLabels = []string{"replica", "prometheus_replica"}
			sourcetest.Run(t, sourcetest.Case{Factory: Factory(), Config: cfg}, sourcetest.Data{
				Blocks: tsdbDir, From: sum.Start, To: sum.End, Series: sum.Series, Samples: sum.Samples, Label: "service",
				Feature: spec.Feature{Name: "rps", Expr: "sum by (service) (rate(http_requests_total[5m]))"},
			})
		})
	}
}
