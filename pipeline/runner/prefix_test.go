package runner_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/datasets/demo"
)

// labelColumns are the windows columns a later day may legitimately change
// (a later incident is the next one, or makes the day's end pre_incident).
var labelColumns = map[string]bool{"incident_active": true, "incident_ids": true, "severity": true, "phase": true,
	"minutes_to_next_incident": true, "label_sources": true, "split": true}

// TestLongerRangeKeepsEarlierDays is the property that makes a dataset
// that grows by days possible (decision 0033): exporting more days never
// changes an earlier day's files. A day's logs, log_counts and metrics are
// byte for byte those of the shorter export; its windows differ in the
// label columns at most, and then only because the longer range knows the
// next incident.
func TestLongerRangeKeepsEarlierDays(t *testing.T) {
	dir := t.TempDir()
	if _, err := demo.Generate(context.Background(), demo.Config{Dir: filepath.Join(dir, "demo-data"), Duration: 30 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Day 2 brings a statement day 1 never saw, loud enough to lead a
	// ranking of the whole range's templates.
	var extra strings.Builder
	for i := 0; i < 60000; i++ {
		at := time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 300 * time.Millisecond)
		fmt.Fprintf(&extra, `{"ts":%q,"level":"info","service":"checkout","msg":"cache warmup shard %d of 64 done"}`+"\n", at.Format(time.RFC3339Nano), i%64)
	}
	if err := os.WriteFile(filepath.Join(dir, "demo-data", "logs", "zz-warmup.jsonl"), []byte(extra.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	day1 := "2026-01-05"
	exportTo := func(to string) string {
		sp, b := demoSpec(t, dir, func(s string) string {
			return strings.Replace(s, "to: 2026-01-05T06:00:00Z", "to: "+to, 1)
		})
		out := t.TempDir()
		res, err := export(t, sp, b, out)
		if err != nil {
			t.Fatalf("export to %s: %v", to, err)
		}
		return filepath.Join(out, "demo-cluster", res.Version)
	}
	short, long := exportTo("2026-01-06T00:00:00Z"), exportTo("2026-01-06T06:00:00Z")
	for _, table := range []string{"logs", "log_counts", "metrics"} {
		rel := filepath.Join(table, "date="+day1, "part-00000.parquet")
		a, errA := os.ReadFile(filepath.Join(short, rel))
		b, errB := os.ReadFile(filepath.Join(long, rel))
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v %v", rel, errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the longer export changed an earlier day's file", rel)
		}
	}
	rel := filepath.Join("windows", "date="+day1, "part-00000.parquet")
	a, b := columnsOf(t, filepath.Join(short, rel)), columnsOf(t, filepath.Join(long, rel))
	if len(a) != len(b) {
		t.Fatalf("%s: %d columns, then %d", rel, len(a), len(b))
	}
	compared := 0
	for name, vals := range a {
		if labelColumns[name] {
			continue
		}
		if got := b[name]; strings.Join(got, "|") != strings.Join(vals, "|") {
			t.Errorf("%s column %s: the longer export changed it", rel, name)
		}
		compared++
	}
	if compared < 10 || !hasPrefixed(a, "tpl_") {
		t.Fatalf("%s: only %d non-label columns compared (template columns: %v)", rel, compared, hasPrefixed(a, "tpl_"))
	}
}

// columnsOf reads a Parquet file's leaf columns as strings, by name.
func columnsOf(t *testing.T, path string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	eachParquetValue(t, path, func(column string, _ parquet.Kind, v parquet.Value) {
		out[column] = append(out[column], v.String())
	})
	return out
}

func hasPrefixed(m map[string][]string, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
