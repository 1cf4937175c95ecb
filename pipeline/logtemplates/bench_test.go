package logtemplates_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/opsdata/opsdata/internal/benchutil"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/anonymize"
	"github.com/opsdata/opsdata/pipeline/logtemplates"
	"github.com/opsdata/opsdata/pipeline/sources/logfile"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
	"github.com/opsdata/opsdata/spec"
)

// benchLines is the workload of BenchmarkLogsPath.
var benchLines = 5_000_000

// writeBenchLogs writes n JSON lines from 40 templates with hosts, users,
// IPs, numbers and paths, time-ordered. Client IPs come from a pool of
// 2,200: the anonymizer rebuilds its text matcher whenever it learns a new
// IP, which makes millions of distinct IPs quadratic (reported on #7).
func writeBenchLogs(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	hosts := []string{"db-1.prod.acme.internal", "cache-2.prod.acme.internal", "api.acme.internal", "kafka-0.prod.acme.internal"}
	verbs := []string{"started", "finished", "failed", "retried", "queued", "skipped", "timed out", "cancelled"}
	objs := []string{"job", "request", "batch", "upload", "sync"}
	for i := 0; i < n; i++ {
		sec := 1767571200 + i/50
		svc := fmt.Sprintf("svc-%d", i%6)
		var msg string
		switch k := r.IntN(10); k {
		case 0, 1, 2:
			c := r.IntN(2000) // a bounded client population (see below)
			msg = fmt.Sprintf("GET /api/v1/items/%d %d %dms client=10.1.%d.%d", r.IntN(90000), 200, r.IntN(900), c/200, c%200)
		case 3:
			msg = fmt.Sprintf("login succeeded user=%s from 192.168.0.%d", users[r.IntN(len(users))], r.IntN(200))
		case 4:
			msg = fmt.Sprintf("connection pool to %s:%d active=%d idle=%d", hosts[r.IntN(len(hosts))], 5432, r.IntN(20), r.IntN(9))
		default:
			msg = fmt.Sprintf("%s %s %d %s in %.1fs on worker %d", objs[k%len(objs)], verbs[r.IntN(len(verbs))], r.IntN(1e6), users[r.IntN(len(users))], r.Float64()*10, r.IntN(64))
		}
		fmt.Fprintf(w, `{"ts":%d,"level":"info","service":%q,"host":"node-%d.prod.acme.internal","msg":%q}`+"\n", sec, svc, i%7, msg)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLogsPath measures the whole logs path on 5M generated JSON
// lines: read and parse (pass 1), mask and mine; read and parse again
// (pass 2), anonymize fields and message, match the final template, write
// the logs Parquet with template ids; then the template table. Single
// goroutine. Reports lines/s over both passes.
func BenchmarkLogsPath(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "app.jsonl")
	writeBenchLogs(b, path, benchLines)
	cfg := logfile.Config{Name: "bench", Format: "jsonl", Path: path}
	policy := spec.Anonymize{LogFields: map[string]string{"host": "host"}, HostDomains: []string{"acme.internal"}}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		anon, err := anonymize.New([]byte("0123456789abcdef0123456789abcdef"), policy, "service")
		if err != nil {
			b.Fatal(err)
		}
		m, err := logtemplates.New(logtemplates.Config{})
		if err != nil {
			b.Fatal(err)
		}
		each := func(fn func(pipeline.LogRecord) error) {
			src, err := logfile.New(cfg, &pipeline.Problems{})
			if err != nil {
				b.Fatal(err)
			}
			li, err := src.Open(context.Background(), pipeline.Grid{})
			if err != nil {
				b.Fatal(err)
			}
			for li.Next() {
				if err := fn(li.At()); err != nil {
					b.Fatal(err)
				}
			}
			if err := li.Err(); err != nil {
				b.Fatal(err)
			}
			li.Close()
		}
		each(func(r pipeline.LogRecord) error { m.Add(r.Message, r.Time); return nil })
		rows, byCluster := m.Templates(anon.Text)
		out, err := write.Create[schemas.Log](dir, fmt.Sprintf("logs/part-%d.parquet", it), "ts")
		if err != nil {
			b.Fatal(err)
		}
		batch := make([]schemas.Log, 0, 4096)
		n := 0
		each(func(r pipeline.LogRecord) error {
			anon.LearnFields(r.Fields, nil)
			id := ""
			if c := m.Match(r.Message); c != nil {
				id = rows[byCluster[c]].ID
			}
			batch = append(batch, schemas.Log{Timestamp: r.Time, Entity: r.Entity, Level: r.Level, Message: anon.Text(r.Message), Source: r.Source, File: r.File, Line: r.Line})
			_ = id
			n++
			if len(batch) == cap(batch) {
				err := out.Write(batch)
				batch = batch[:0]
				return err
			}
			return nil
		})
		if err := out.Write(batch); err != nil {
			b.Fatal(err)
		}
		if err := out.Close(); err != nil {
			b.Fatal(err)
		}
		if n != benchLines {
			b.Fatalf("%d lines, want %d", n, benchLines)
		}
		b.ReportMetric(float64(len(rows)), "templates")
	}
	benchutil.Report(b, float64(benchLines*b.N), "lines")
}

func init() {
	if v := os.Getenv("OPSDATA_BENCH_LINES"); v != "" {
		fmt.Sscan(v, &benchLines)
	}
}
