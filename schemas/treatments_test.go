package schemas_test

import (
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/schemas"
)

// TestEveryStringColumnHasATreatment: default deny for published text. A
// string column (or list of strings) without a declared treatment fails,
// and a declaration for a column that no longer exists fails too.
func TestEveryStringColumnHasATreatment(t *testing.T) {
	tables := map[string]*parquet.Schema{
		schemas.TableWindows:      parquet.SchemaOf(align.NewWindowTableTemplates([]string{"feature"}, []string{"tpl_0123456789ab"}).NewRow()),
		schemas.TableMetrics:      parquet.SchemaOf(new(schemas.Metric)),
		schemas.TableSeries:       parquet.SchemaOf(new(schemas.Series)),
		schemas.TableLogs:         parquet.SchemaOf(new(schemas.Log)),
		schemas.TableLogTemplates: parquet.SchemaOf(new(schemas.LogTemplate)),
		schemas.TableLogCounts:    parquet.SchemaOf(new(schemas.LogCount)),
		schemas.TableTickets:      parquet.SchemaOf(new(schemas.Ticket)),
		schemas.TableIncidents:    parquet.SchemaOf(new(schemas.Incident)),
		"samples":                 parquet.SchemaOf(new(schemas.Sample)),
		"raw_series":              parquet.SchemaOf(new(schemas.RawSeries)),
	}
	seen := map[string]bool{}
	for table, s := range tables {
		for _, path := range s.Columns() {
			leaf, ok := s.Lookup(path...)
			if !ok || leaf.Node.Type().Kind() != parquet.ByteArray {
				continue
			}
			key := table + "." + path[0]
			seen[key] = true
			if _, ok := schemas.StringColumns[key]; !ok {
				t.Errorf("%s is a published string column without a treatment: declare it in schemas.StringColumns (and make the writer apply it)", key)
			}
		}
	}
	for key := range schemas.StringColumns {
		if !seen[key] {
			t.Errorf("schemas.StringColumns declares %s, which no table has", key)
		}
	}
}
