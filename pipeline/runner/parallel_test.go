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

	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/spec"
)

// writeLearningLogs writes lines in which a value found by its shape or
// form (a host under the host domain, user=NAME, token=SECRET) appears
// bare a few lines later, in the same scrub batch and across batches.
func writeLearningLogs(t *testing.T, path string, n int) {
	var b strings.Builder
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		ts := start.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
		var msg string
		switch k := i / 4; i % 4 {
		case 0:
			msg = fmt.Sprintf("user=u%dx logged in via node%d.prod.acme.internal", k, k%500)
		case 1:
			msg = fmt.Sprintf("u%dx opened a session on node%d", k, k%500)
		case 2:
			msg = fmt.Sprintf("token=Qz%dWx8Er7Ty6Ui5Op4 issued to client=10.0.%d.%d", k, k%256, i%256)
		default:
			msg = fmt.Sprintf("retry with Qz%dWx8Er7Ty6Ui5Op4 for u%dx", k-1, k)
		}
		fmt.Fprintf(&b, `{"ts":%q,"level":"info","service":"svc-%d","host":"node%d.prod.acme.internal","msg":%q}`+"\n", ts, i%3, i%7, msg)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// learningSpec is a one-day spec of dataset name over the JSON lines of
// logGlob (as writeLearningLogs writes them), with a key beside them.
func learningSpec(t *testing.T, name, logGlob string) (*spec.Spec, string) {
	t.Helper()
	keyPath := filepath.Join(filepath.Dir(logGlob), "key")
	if err := os.WriteFile(keyPath, []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`dataset: %s
licence: CC-BY-4.0
range: {from: 2026-01-05T00:00:00Z, to: 2026-01-06T00:00:00Z}
logs:
  - {name: app, path: %q, format: jsonl, fields: {time: ts, level: level, message: msg, entity: service}}
log_features: {top_templates: 3}
anonymize:
  key: {file: %q}
  log_fields: {host: host}
  host_domains: [acme.internal]
`, name, logGlob, keyPath)
	sp, err := spec.Parse(name+".yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return sp, src
}

func TestParallelScrubIsByteIdentical(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.jsonl")
	writeLearningLogs(t, logPath, 5000) // about five scrub batches
	sp, src := learningSpec(t, "par", logPath)
	files := map[int]map[string][]byte{}
	for _, workers := range []int{1, 2, 4} {
		out := filepath.Join(dir, fmt.Sprintf("out-%d", workers))
		res, err := runner.Export(context.Background(), runner.Options{Spec: sp, SpecBytes: []byte(src), Output: "file://" + out, CodeVersion: "test", Components: components(), LogWorkers: workers})
		if err != nil {
			t.Fatalf("workers=%d: %v", workers, err)
		}
		if res.Rows["logs"] != 5000 {
			t.Fatalf("workers=%d: %d log rows", workers, res.Rows["logs"])
		}
		if len(res.Stages) == 0 {
			t.Errorf("workers=%d: no stage times", workers)
		}
		files[workers] = readTree(t, filepath.Join(out, "par", res.Version))
	}
	logs := files[1][filepath.Join("logs", "date=2026-01-05", "part-00000.parquet")]
	if len(logs) == 0 {
		t.Fatal("no logs file")
	}
	for _, w := range []int{2, 4} {
		if len(files[w]) != len(files[1]) {
			t.Errorf("workers=%d: %d files, workers=1: %d", w, len(files[w]), len(files[1]))
		}
		for name, want := range files[1] {
			if !bytes.Equal(files[w][name], want) {
				t.Errorf("workers=%d: %s differs from workers=1", w, name)
			}
		}
	}
}

// readTree reads every regular file under dir, by relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSharedScrubsAreByteIdentical: lines of a batch with the same message
// (or file) settle with one scrub ahead, and the dataset is the one of
// scrubbing every line. A value learned in one batch is mentioned in
// repeated lines right after it, in the same batch or the next one
// (scrubbed ahead while the first settles), and two files' lines
// interleave.
func TestSharedScrubsAreByteIdentical(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var files [2]strings.Builder
	for i := 0; i < 4000; i++ {
		k := i / 6
		msg := [...]string{
			fmt.Sprintf("user=u%dx logged in via node%d.prod.acme.internal", k, k%500),
			fmt.Sprintf("u%dx opened a session on node%d", k, k%500),
			fmt.Sprintf("u%dx opened a session on node%d", k, k%500),
			"GET /healthz 200",
			fmt.Sprintf("token=Qz%dWx8Er7Ty6Ui5Op4 issued to client=10.0.%d.%d", k%40, k%256, i%3),
			fmt.Sprintf("retry with Qz%dWx8Er7Ty6Ui5Op4 for u%dx", (k+1)%40, k%50),
		}[i%6]
		ts := start.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
		fmt.Fprintf(&files[i/3%2], `{"ts":%q,"level":"info","service":"svc-%d","host":"node%d.prod.acme.internal","msg":%q}`+"\n", ts, i%3, i%7, msg)
	}
	for f, b := range files {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("app-%d.jsonl", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sp, src := learningSpec(t, "shared", filepath.Join(dir, "app-*.jsonl"))
	trees := map[bool]map[string][]byte{}
	for _, share := range []bool{false, true} {
		restore := runner.SetShareScrubs(share)
		out := filepath.Join(dir, fmt.Sprintf("out-%v", share))
		res, err := runner.Export(context.Background(), runner.Options{Spec: sp, SpecBytes: []byte(src), Output: "file://" + out, CodeVersion: "test", Components: components(), LogWorkers: 2})
		restore()
		if err != nil {
			t.Fatalf("share=%v: %v", share, err)
		}
		if res.Rows["logs"] != 4000 {
			t.Fatalf("share=%v: %d log rows", share, res.Rows["logs"])
		}
		trees[share] = readTree(t, filepath.Join(out, "shared", res.Version))
	}
	if len(trees[true]) != len(trees[false]) || len(trees[false]) == 0 {
		t.Fatalf("%d files shared, %d not", len(trees[true]), len(trees[false]))
	}
	for name, want := range trees[false] {
		if !bytes.Equal(trees[true][name], want) {
			t.Errorf("%s differs when scrubs are shared", name)
		}
	}
}
