package runner_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// planted are realistic secrets and identifiers an operator's data holds,
// in the shapes the safety review found leaking. None may reach a published
// byte, in any field they are planted in.
var planted = []string{
	"AKIAIOSFODNN7EXAMPLQ",                                      // AWS access key id
	"AIzaSyD3mo9xQk7Vb2nL5pR8tU1wY4zC6eF0gH-",                   // Google API key ending in '-'
	"sk-proj-Xa8Jk3Lm9Qp2Rt7Vw4Yz6Bc1De5Fg0Hi3Jk8Lm2Np7Qr",      // OpenAI
	"sk-ant-api03-Zx9Cv8Bn7Mq6Wa5Sd4Fg3Hj2Kl1Po0Iu9Yt8Re7Wq6Aa", // Anthropic
	"hf_QwErTyUiOpAsDfGhJkLzXcVbNmQwErTy12",                     // Hugging Face
	"P@ssw0rd!x9Zq",                                             // curl -u elastic:<this>
	"ghp_0123456789abcdefghijABCDEFGHIJ0123ab",                  // GitHub token
	"carol.k@acme-corp.example",                                 // e-mail
	"checkout-7d9f8b6c5-x2x9z",                                  // a ReplicaSet pod named only in text
	"db1.corp.acme.internal",                                    // an FQDN under a host domain
}

// TestPlantedSecretsNeverPublished plants every shape in every input field
// that reaches output (log messages, other JSON fields, malformed log
// timestamps, ticket title, body, status, type, created and timezone) and
// adds the lines that used to teach a common word as a user name. The
// export must publish, and no planted value may be in any published byte:
// every file's raw bytes and every decoded Parquet string are searched.
func TestPlantedSecretsNeverPublished(t *testing.T) {
	dir := shortDemo(t)
	work := t.TempDir()
	copyDir(t, filepath.Join(dir, "demo-data"), filepath.Join(work, "demo-data"))
	logs := filepath.Join(work, "demo-data", "logs")
	var jl bytes.Buffer
	line := func(ts, msg string, extra map[string]string) {
		m := map[string]string{"ts": ts, "level": "warn", "service": "checkout", "host": "worker-1.prod.acme.internal", "msg": msg}
		for k, v := range extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		jl.Write(append(b, '\n'))
	}
	line("2026-01-05T02:00:00Z", "login failed for user metrics", nil)
	line("2026-01-05T02:00:01Z", "session closed user=window", nil)
	line("2026-01-05T02:00:02Z", "password reset by user: entity", nil)
	line("2026-01-05T02:00:03Z", "aws creds AKIAIOSFODNN7EXAMPLQ and key AIzaSyD3mo9xQk7Vb2nL5pR8tU1wY4zC6eF0gH- leaked", nil)
	line("2026-01-05T02:00:04Z", "calling llm with sk-proj-Xa8Jk3Lm9Qp2Rt7Vw4Yz6Bc1De5Fg0Hi3Jk8Lm2Np7Qr then sk-ant-api03-Zx9Cv8Bn7Mq6Wa5Sd4Fg3Hj2Kl1Po0Iu9Yt8Re7Wq6Aa", nil)
	line("2026-01-05T02:00:05Z", "model pulled with token hf_QwErTyUiOpAsDfGhJkLzXcVbNmQwErTy12", nil)
	line("2026-01-05T02:00:06Z", "ran curl -u elastic:P@ssw0rd!x9Zq https://es:9200/_cat", nil)
	line("2026-01-05T02:00:07Z", "pod checkout-7d9f8b6c5-x2x9z restarted on db1.corp.acme.internal, home ~carol/ and /Users/carol/x", nil)
	line("2026-01-05T02:00:08Z", "mail to carol.k@acme-corp.example", map[string]string{"detail": "ghp_0123456789abcdefghijABCDEFGHIJ0123ab"})
	line("AKIAIOSFODNN7EXAMPLQ carol.k@acme-corp.example", "bad timestamp line", nil)
	if err := os.WriteFile(filepath.Join(logs, "zz-planted.jsonl"), jl.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tickets := filepath.Join(work, "demo-data", "tickets.json")
	b, err := os.ReadFile(tickets)
	if err != nil {
		t.Fatal(err)
	}
	var ts []map[string]any
	if err := json.Unmarshal(b, &ts); err != nil {
		t.Fatal(err)
	}
	ts = append(ts,
		map[string]any{"id": "OPS-900", "title": "key AKIAIOSFODNN7EXAMPLQ in config", "body": "reported by carol.k@acme-corp.example from db1.corp.acme.internal; token hf_QwErTyUiOpAsDfGhJkLzXcVbNmQwErTy12",
			"status": "escalated to carol.k@acme-corp.example", "severity": "major", "type": "db1.corp.acme.internal outage",
			"created": "2026-01-05T03:00:00Z", "resolved": "2026-01-05T03:30:00Z", "services": []string{"checkout"}},
		map[string]any{"id": "OPS-901", "title": "bad times", "status": "resolved", "severity": "minor",
			"created": "AKIAIOSFODNN7EXAMPLQ", "timezone": "carol.k@acme-corp.example", "services": []string{"cart"}},
	)
	nb, _ := json.Marshal(ts)
	if err := os.WriteFile(tickets, nb, 0o644); err != nil {
		t.Fatal(err)
	}
	sp, sb := demoSpec(t, work, nil)
	out := t.TempDir()
	res, err := export(t, sp, sb, out)
	if err != nil {
		t.Fatalf("the export must publish: %v", err)
	}
	v := filepath.Join(out, "demo-cluster", res.Version)
	var files int
	err = filepath.WalkDir(filepath.Join(out, "demo-cluster"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		texts := []string{string(raw)}
		if strings.HasSuffix(p, ".parquet") {
			texts = append(texts, parquetStrings(t, p)...)
		}
		for _, s := range texts {
			for _, secret := range planted {
				if strings.Contains(s, secret) {
					t.Errorf("%s: planted value %.6s… published", strings.TrimPrefix(p, out), secret)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("scanned %d files", files)
	}
	if _, err := os.Stat(filepath.Join(v, "windows")); err != nil {
		t.Fatal("no windows table published")
	}
}

// parquetStrings decodes every string value of every column of a file.
func parquetStrings(t *testing.T, p string) []string {
	t.Helper()
	var out []string
	eachParquetValue(t, p, func(_ string, kind parquet.Kind, v parquet.Value) {
		if kind == parquet.ByteArray && !v.IsNull() {
			out = append(out, v.String())
		}
	})
	return out
}

// eachParquetValue calls f with every value of every leaf column of a
// file, column by column, row group by row group.
func eachParquetValue(t *testing.T, p string, f func(column string, kind parquet.Kind, v parquet.Value)) {
	t.Helper()
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	pf, err := parquet.OpenFile(fh, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	cols := pf.Schema().Columns()
	for _, rg := range pf.RowGroups() {
		for i, cc := range rg.ColumnChunks() {
			name, kind := strings.Join(cols[i], "."), cc.Type().Kind()
			pages := cc.Pages()
			for {
				pg, err := pages.ReadPage()
				if err != nil {
					break
				}
				vals := make([]parquet.Value, pg.NumValues())
				n, _ := pg.Values().ReadValues(vals)
				for _, v := range vals[:n] {
					f(name, kind, v)
				}
			}
			pages.Close()
		}
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
