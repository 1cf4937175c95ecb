package promtsdb_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsdata/opsdata/datasets/demo"
	"github.com/opsdata/opsdata/pipeline/sources/promtsdb"
	"github.com/opsdata/opsdata/pipeline/sources/sourcetest"
	"github.com/opsdata/opsdata/spec"
)

// TestConformance runs the metric source suite on a demo TSDB; promblocks
// runs the same suite on the same generated data from a bucket.
func TestConformance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	sum, err := demo.Generate(context.Background(), demo.Config{Dir: dir, Duration: 26 * time.Hour, Scrape: 30 * time.Second, Services: 2, Instances: 2})
	if err != nil {
		t.Fatal(err)
	}
	tsdbDir := filepath.Join(dir, "tsdb")
	sourcetest.Run(t, sourcetest.Case{Factory: promtsdb.Factory(), Config: &promtsdb.Config{Path: tsdbDir}}, sourcetest.Data{
		Blocks: tsdbDir, From: sum.Start, To: sum.End, Series: sum.Series, Samples: sum.Samples, Label: "service",
		Feature: spec.Feature{Name: "rps", Expr: "sum by (service) (rate(http_requests_total[5m]))"},
	})
}
