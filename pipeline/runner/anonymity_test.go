package runner_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// readTable reads every Parquet file of a table in a version.
func readTable[T any](t *testing.T, version, table string) []T {
	t.Helper()
	var out []T
	filepath.Walk(filepath.Join(version, table), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		rows, err := parquet.ReadFile[T](p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, rows...)
		return nil
	})
	return out
}

// TestPseudonymsConsistentAcrossTablesAndKeys: one raw value has one
// pseudonym in metric labels and log text; the same key gives the same
// pseudonyms and epoch (byte-identical versions are checked by
// TestExportIsDeterministicAndIdempotent); another key gives other
// pseudonyms and another epoch. The anonymization report is a checksummed
// file of the version.
func TestPseudonymsConsistentAcrossTablesAndKeys(t *testing.T) {
	dir := shortDemo(t)
	sp, b := demoSpec(t, dir, nil)
	out1 := t.TempDir()
	r1, err := export(t, sp, b, out1)
	if err != nil {
		t.Fatal(err)
	}
	key2 := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(key2, []byte(strings.Repeat("5a", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	sp2, b2 := demoSpec(t, dir, func(s string) string {
		return strings.Replace(s, filepath.Join(dir, "demo-data", "anonymization.key"), key2, 1)
	})
	out2 := t.TempDir()
	r2, err := export(t, sp2, b2, out2)
	if err != nil {
		t.Fatal(err)
	}
	v1 := filepath.Join(out1, "demo-cluster", r1.Version)
	v2 := filepath.Join(out2, "demo-cluster", r2.Version)

	if r1.Manifest.KeyEpoch == r2.Manifest.KeyEpoch {
		t.Errorf("two keys share the epoch %s", r1.Manifest.KeyEpoch)
	}
	// The demo's nodes are learned from the metric label node (type host)
	// and named in log text: the same raw name has the same pseudonym,
	// under key 1 in export 1 and under key 2 in export 2 only.
	const node = "worker-1.prod.acme.internal"
	pseudo := func(keyFile string) string {
		k1, err := anonymize.LoadKey(spec.Key{File: keyFile})
		if err != nil {
			t.Fatal(err)
		}
		a, err := anonymize.New(k1, sp.Anonymize, sp.Entity.Label)
		if err != nil {
			t.Fatal(err)
		}
		return a.Pseudonym("host", node)
	}
	p1, p2 := pseudo(sp.Anonymize.Key.File), pseudo(key2)
	if p1 == p2 {
		t.Fatalf("two keys give the same pseudonym %s", p1)
	}
	count := func(v, p string) (n int) {
		for _, l := range readTable[schemas.Log](t, v, schemas.TableLogs) {
			if strings.Contains(l.Message, p) {
				n++
			}
			if strings.Contains(l.Message, node) {
				t.Errorf("raw %s in a log message", node)
			}
		}
		return n
	}
	if n1, n2 := count(v1, p1), count(v2, p2); n1 == 0 || n1 != n2 {
		t.Errorf("pseudonym of %s: %d log lines under key 1, %d under key 2; want equal and > 0", node, n1, n2)
	}
	if n := count(v1, p2); n != 0 {
		t.Errorf("key 2's pseudonym in export 1: %d lines", n)
	}
	// The report is in the version, checksummed, and holds the epoch.
	rb, err := os.ReadFile(filepath.Join(v1, anonymize.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	var rep anonymize.ReportDoc
	if err := json.Unmarshal(rb, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.KeyEpoch != r1.Manifest.KeyEpoch || rep.Counts["pseudonymize:host"] == 0 || rep.InventorySize == 0 {
		t.Errorf("report = %+v", rep)
	}
	sums, err := os.ReadFile(filepath.Join(v1, "SHA256SUMS"))
	if err != nil || !strings.Contains(string(sums), anonymize.ReportFile) {
		t.Errorf("SHA256SUMS does not list %s (err %v)", anonymize.ReportFile, err)
	}
}
