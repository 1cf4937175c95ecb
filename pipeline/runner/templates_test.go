package runner_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/schemas"
)

// readTable reads every file of a published table into rows of T.
func readTplTable[T any](t *testing.T, version, table string) []T {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(version, table, "*.parquet"))
	more, _ := filepath.Glob(filepath.Join(version, table, "date=*", "*.parquet"))
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatalf("%s: no files", table)
	}
	var out []T
	for _, f := range files {
		rows, err := parquet.ReadFile[T](f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, rows...)
	}
	return out
}

type windowKey struct {
	start  int64
	entity string
}

// windowTemplateCounts reads the tpl_* columns of windows:
// (window, entity) -> column name -> count.
func windowTemplateCounts(t *testing.T, version string) (map[windowKey]map[string]int64, []string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(version, schemas.TableWindows, "date=*", "*.parquet"))
	out := map[windowKey]map[string]int64{}
	var cols []string
	for _, path := range files {
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := fh.Stat()
		pf, err := parquet.OpenFile(fh, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		schema := pf.Schema()
		idx := map[int]string{}
		cols = cols[:0]
		for _, p := range schema.Columns() {
			if strings.HasPrefix(p[0], "tpl_") {
				leaf, _ := schema.Lookup(p...)
				idx[leaf.ColumnIndex] = p[0]
				cols = append(cols, p[0])
			}
		}
		startLeaf, _ := schema.Lookup("window_start")
		entLeaf, _ := schema.Lookup("entity")
		r := parquet.NewReader(pf)
		buf := make([]parquet.Row, 256)
		for {
			n, err := r.ReadRows(buf)
			for _, row := range buf[:n] {
				var k windowKey
				counts := map[string]int64{}
				row.Range(func(ci int, vs []parquet.Value) bool {
					switch {
					case ci == startLeaf.ColumnIndex:
						k.start = vs[0].Int64()
					case ci == entLeaf.ColumnIndex:
						k.entity = vs[0].String()
					case idx[ci] != "":
						counts[idx[ci]] = vs[0].Int64()
					}
					return true
				})
				out[k] = counts
			}
			if err != nil {
				break
			}
		}
		r.Close()
		fh.Close()
	}
	return out, cols
}

// TestLogTemplatesTables: log_templates, logs.template_id, log_counts and
// the windows' tpl_* columns agree; templates carry no raw identifier; the
// template tables are byte-identical across two exports.
func TestLogTemplatesTables(t *testing.T) {
	dir := shortDemo(t)
	sp, b := demoSpec(t, dir, nil)
	if sp.LogFeatures.TopTemplates != 10 {
		t.Fatalf("demo.yaml log_features.top_templates = %d, want 10", sp.LogFeatures.TopTemplates)
	}
	outA, outB := t.TempDir(), t.TempDir()
	res, err := export(t, sp, b, outA)
	if err != nil {
		t.Fatal(err)
	}
	version := filepath.Join(outA, "demo-cluster", res.Version)

	tpls := readTplTable[schemas.LogTemplate](t, version, schemas.TableLogTemplates)
	byID := map[string]schemas.LogTemplate{}
	for _, tp := range tpls {
		if _, dup := byID[tp.TemplateID]; dup {
			t.Errorf("template id %s twice in log_templates", tp.TemplateID)
		}
		byID[tp.TemplateID] = tp
		if len(tp.TemplateID) != 12 {
			t.Errorf("template %q: id %q is not 12 hex digits", tp.Template, tp.TemplateID)
		}
		if tp.Count <= 0 || tp.LastSeen.Before(tp.FirstSeen) || len(tp.Sources) == 0 {
			t.Errorf("template %s: bad stats %+v", tp.TemplateID, tp)
		}
	}
	if len(tpls) < 10 || len(tpls) > 2000 {
		t.Fatalf("%d templates from the demo's logs; want a realistic number (10..2000)", len(tpls))
	}

	t.Logf("%d templates", len(tpls))
	// Every log line has a known template; count lines per template and per
	// (window, entity, template).
	logs := readTplTable[schemas.Log](t, version, schemas.TableLogs)
	perTpl := map[string]int64{}
	type cell struct {
		windowKey
		tpl string
	}
	perCell := map[cell]int64{}
	for _, l := range logs {
		if _, ok := byID[l.TemplateID]; !ok {
			t.Fatalf("logs line %s:%d has template_id %q not in log_templates", l.File, l.Line, l.TemplateID)
		}
		perTpl[l.TemplateID]++
		start := l.Timestamp.Truncate(time.Minute).UnixMilli()
		perCell[cell{windowKey{start, l.Entity}, l.TemplateID}]++
	}
	for id, tp := range byID {
		if perTpl[id] != tp.Count {
			t.Errorf("template %s: count %d in log_templates, %d lines in logs", id, tp.Count, perTpl[id])
		}
	}

	counts := readTplTable[schemas.LogCount](t, version, schemas.TableLogCounts)
	fromCounts := map[cell]int64{}
	for _, c := range counts {
		k := cell{windowKey{c.WindowStart.UnixMilli(), c.Entity}, c.TemplateID}
		if _, dup := fromCounts[k]; dup {
			t.Errorf("log_counts key %+v twice", k)
		}
		fromCounts[k] = c.Count
	}
	if len(fromCounts) != len(perCell) {
		t.Errorf("log_counts has %d (window, entity, template) rows, logs has %d", len(fromCounts), len(perCell))
	}
	for k, n := range perCell {
		if fromCounts[k] != n {
			t.Errorf("log_counts %+v = %d, logs has %d lines", k, fromCounts[k], n)
		}
	}

	// The windows' tpl_* columns: the 10 most frequent templates, equal to log_counts.
	wins, cols := windowTemplateCounts(t, version)
	ranked := append([]schemas.LogTemplate(nil), tpls...)
	sort.Slice(ranked, func(a, b int) bool {
		if ranked[a].Count != ranked[b].Count {
			return ranked[a].Count > ranked[b].Count
		}
		return ranked[a].TemplateID < ranked[b].TemplateID
	})
	var want []string
	for _, tp := range ranked[:10] {
		want = append(want, "tpl_"+tp.TemplateID)
	}
	if strings.Join(cols, ",") != strings.Join(want, ",") {
		t.Errorf("windows template columns\n got %v\nwant %v", cols, want)
	}
	if len(wins) != 6*60*6 {
		t.Fatalf("read %d windows rows", len(wins))
	}
	nonzero := 0
	for k, byCol := range wins {
		for _, col := range cols {
			c := cell{k, strings.TrimPrefix(col, "tpl_")}
			if byCol[col] != fromCounts[c] {
				t.Errorf("windows %+v %s = %d, log_counts %d", k, col, byCol[col], fromCounts[c])
			}
			if byCol[col] > 0 {
				nonzero++
			}
		}
	}
	if nonzero == 0 {
		t.Error("every tpl_* count in windows is zero")
	}

	// No raw identifier of the demo in any template.
	var ids map[string][]string
	raw, err := os.ReadFile(filepath.Join(dir, "demo-data", "ground_truth", "identifiers.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ids); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for kind, vals := range ids {
		for _, v := range vals {
			checked++
			for _, tp := range tpls {
				if strings.Contains(tp.Template, v) {
					t.Errorf("template %s contains raw %s %q: %s", tp.TemplateID, kind, v, tp.Template)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("identifiers.json lists no identifiers")
	}

	// The same export again: the template tables are byte-identical.
	resB, err := export(t, sp, b, outB)
	if err != nil {
		t.Fatal(err)
	}
	versionB := filepath.Join(outB, "demo-cluster", resB.Version)
	for _, table := range []string{schemas.TableLogTemplates, schemas.TableLogCounts} {
		files, _ := filepath.Glob(filepath.Join(version, table, "*.parquet"))
		more, _ := filepath.Glob(filepath.Join(version, table, "*", "*.parquet"))
		for _, f := range append(files, more...) {
			rel, _ := filepath.Rel(version, f)
			x, _ := os.ReadFile(f)
			y, err := os.ReadFile(filepath.Join(versionB, rel))
			if err != nil || !bytes.Equal(x, y) {
				t.Errorf("%s differs between two exports (err=%v)", rel, err)
			}
		}
	}
}
