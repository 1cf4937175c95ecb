//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// TestArrowReadsEveryTable reads every published Parquet file with
// arrow-go's own Parquet implementation (independent of the parquet-go
// writer): row counts equal the manifest's and every timestamp column is a
// UTC timestamp. (No CheckedAllocator here: arrow-go v18.8.0's
// DELTA_BINARY_PACKED decoder keeps a small scratch buffer from the
// allocator after its column is read, so a zero-size assertion reports the
// library, not us.)
func TestArrowReadsEveryTable(t *testing.T) {
	e := setup(t)
	b, err := os.ReadFile(filepath.Join(e.versionDir(), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Files []struct {
			Path  string `json:"path"`
			Rows  *int64 `json:"rows"`
			Table string `json:"table"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	tables := map[string]bool{}
	timestamps := 0
	for _, f := range m.Files {
		if !strings.HasSuffix(f.Path, ".parquet") {
			continue
		}
		tables[f.Table] = true
		pf, err := file.OpenParquetFile(filepath.Join(e.versionDir(), filepath.FromSlash(f.Path)), false)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, mem)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if f.Rows == nil || tbl.NumRows() != *f.Rows {
			t.Errorf("%s: arrow reads %d rows, manifest says %v", f.Path, tbl.NumRows(), f.Rows)
		}
		for _, field := range tbl.Schema().Fields() {
			if ts, ok := field.Type.(*arrow.TimestampType); ok {
				timestamps++
				if ts.TimeZone != "UTC" {
					t.Errorf("%s: column %s is %s, want a UTC timestamp", f.Path, field.Name, ts)
				}
			}
		}
		tbl.Release()
		pf.Close()
	}
	for _, want := range []string{"windows", "metrics", "series", "logs", "tickets", "incidents", "log_templates", "log_counts"} {
		if !tables[want] {
			t.Errorf("table %s missing from the manifest", want)
		}
	}
	if timestamps < 10 {
		t.Fatalf("only %d timestamp columns seen", timestamps)
	}
}
