package write

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

type row struct {
	A int64  `parquet:"a"`
	B string `parquet:"b"`
}

// A failed Create leaves a nil file that callers abort on their error
// path (the logs stage does): that must be safe, and nothing is left.
func TestCreateFailsAbortNil(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "logs")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create[row](dir, PartPath("logs", "2026-01-05", 0))
	if err == nil {
		t.Fatal("Create under a file succeeded")
	}
	f.Abort() // must not panic
	var d *Dynamic
	d.Abort()
}

// Nothing is visible under the final name until Close; Abort leaves nothing.
func TestStagedVisibility(t *testing.T) {
	dir := t.TempDir()
	rel := PartPath("t", "", 0)
	f, err := Create[row](dir, rel, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write([]row{{1, "x"}, {2, "y"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, rel)); !os.IsNotExist(err) {
		t.Fatalf("final file visible before Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	g, err := Create[row](dir, PartPath("u", "", 0))
	if err != nil {
		t.Fatal(err)
	}
	g.Abort()
	entries, _ := os.ReadDir(filepath.Join(dir, "u"))
	if len(entries) != 0 {
		t.Fatalf("Abort left %d files", len(entries))
	}
}

// profileRow has a column of every kind the published tables use, with the
// tags the schemas carry.
type profileRow struct {
	TS     time.Time  `parquet:"ts,timestamp(millisecond)"`
	Entity string     `parquet:"entity,dict"`
	Text   string     `parquet:"text"`
	N      int64      `parquet:"n"`
	V      *float64   `parquet:"v,optional"`
	OK     bool       `parquet:"ok"`
	IDs    []string   `parquet:"ids,list"`
	Closed *time.Time `parquet:"closed,optional,timestamp(microsecond)"`
}

// The compatible profile (decision 0028): version 1 data pages, no DELTA_*
// encodings, and a pandas footer entry naming every timestamp's zone.
func TestCompatibleProfile(t *testing.T) {
	dir := t.TempDir()
	rel := PartPath("t", "", 0)
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	rows := make([]profileRow, 1000)
	for i := range rows {
		rows[i] = profileRow{TS: now.Add(time.Duration(i) * time.Minute), Entity: "e", Text: "line", N: int64(i), IDs: []string{"a"}}
	}
	if _, err := Table(dir, rel, rows, "ts"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			name := strings.Join(c.MetaData.PathInSchema, ".")
			for _, enc := range c.MetaData.Encoding {
				switch enc {
				case format.Plain, format.RLE, format.RLEDictionary, format.PlainDictionary:
				default:
					t.Errorf("%s: encoding %s, which Spark 3.2's vectorized reader refuses", name, enc)
				}
			}
			for _, s := range c.MetaData.EncodingStats {
				if s.PageType == format.DataPageV2 {
					t.Errorf("%s: version 2 data page, which fastparquet refuses", name)
				}
			}
		}
	}
	md, ok := pf.Lookup("pandas")
	if !ok {
		t.Fatal("no pandas footer entry")
	}
	var got pandasMetadata
	if err := json.Unmarshal([]byte(md), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ts": "datetimetz datetime64[ms] UTC", "entity": "unicode object ", "text": "unicode object ",
		"n": "int64 int64 ", "v": "float64 float64 ", "ok": "bool bool ", "ids": "list[unicode] object ",
		"closed": "datetimetz datetime64[us] UTC",
	}
	if len(got.Columns) != len(want) {
		t.Fatalf("pandas metadata has %d columns, want %d", len(got.Columns), len(want))
	}
	for _, c := range got.Columns {
		if s := c.PandasType + " " + c.NumpyType + " " + c.Metadata["timezone"]; s != want[c.Name] {
			t.Errorf("pandas metadata of %s: %q, want %q", c.Name, s, want[c.Name])
		}
	}
}
