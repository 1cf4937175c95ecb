package promfile

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sample struct {
	line   int
	labels string
	t      int64
	v      float64
}

func collect(got *[]sample) func(int, labels.Labels, int64, float64) error {
	return func(line int, ls labels.Labels, t int64, v float64) error {
		*got = append(*got, sample{line, ls.String(), t, v})
		return nil
	}
}

func same(a, b []sample) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.line != y.line || x.labels != y.labels || x.t != y.t || !(x.v == y.v || math.IsNaN(x.v) && math.IsNaN(y.v)) {
			return false
		}
	}
	return true
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

func TestParseTimestamp(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tc := range []struct {
		in   string
		loc  *time.Location
		want int64
		err  string
	}{
		{"2026-03-01T00:00:00Z", nil, t0, ""},
		{"2026-03-01T01:00:00.250+01:00", nil, t0 + 250, ""},
		{"2026-03-01 00:00:00Z", nil, t0, ""},
		{"1772323200", nil, t0, ""},
		{"1772323200.5", nil, t0 + 500, ""},
		{"1772323200123", nil, t0 + 123, ""},
		{"2026-03-01 01:00:00", berlin, t0, ""},
		{"2026-03-01T01:00:00.5", berlin, t0 + 500, ""},
		{"2026-03-01 01:00:00", nil, 0, "set metrics.file.timezone"},
		{"yesterday", nil, 0, "neither RFC 3339"},
		{"", nil, 0, "neither RFC 3339"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTimestamp(tc.in, tc.loc)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestReadCSV(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		name string
		in   string
		loc  *time.Location
		want []sample
		err  string
	}{
		{name: "good", in: "timestamp,__name__,service,instance,value\n" +
			"2026-03-01T00:00:00Z,load,api,api-0:80,0.25\n" +
			"1772323215,load,api,,NaN\n",
			want: []sample{
				{2, `{__name__="load", instance="api-0:80", service="api"}`, t0, 0.25},
				{3, `{__name__="load", service="api"}`, t0 + 15000, math.NaN()},
			}},
		{name: "metric and labels columns", in: "value,metric,labels,timestamp\n" +
			"1.5,up,job=node;zone=a,1772323200000\n",
			want: []sample{{2, `{__name__="up", job="node", zone="a"}`, t0, 1.5}}},
		{name: "naive time with timezone", loc: ny, in: "timestamp,__name__,value\n2026-02-28 19:00:00,x,1\n",
			want: []sample{{2, `{__name__="x"}`, t0, 1}}},
		{name: "naive time without timezone", in: "timestamp,__name__,value\n2026-02-28 19:00:00,x,1\n",
			err: "f.csv:2: timestamp: \"2026-02-28 19:00:00\" has no zone offset"},
		{name: "bad value", in: "timestamp,__name__,value\n1772323200,x,1\n1772323215,x,lots\n",
			err: `f.csv:3: value "lots" is not a number`},
		{name: "unknown column", in: "timestamp,__name__,host name,value\n",
			err: `f.csv:1: column 3 "host name" is not a label name`},
		{name: "reserved column", in: "timestamp,__name__,__tmp,value\n",
			err: `column 3 "__tmp" is not a label name`},
		{name: "no value column", in: "timestamp,__name__,service\n",
			err: "f.csv:1: header has no value column"},
		{name: "two name columns", in: "timestamp,__name__,metric,value\n",
			err: "may each appear once"},
		{name: "ragged row", in: "timestamp,__name__,value\n1772323200,x\n",
			err: "f.csv:2: wrong number of fields"},
		{name: "label twice", in: "timestamp,__name__,job,labels,value\n1772323200,x,a,job=b,1\n",
			err: `f.csv:2: label "job" is set twice`},
		{name: "bad labels cell", in: "timestamp,__name__,labels,value\n1772323200,x,job,1\n",
			err: `f.csv:2: labels: "job" is not name=value`},
		{name: "empty", in: "", err: "f.csv: empty file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []sample
			err := ReadCSV(context.Background(), "f.csv", strings.NewReader(tc.in), tc.loc, collect(&got))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !same(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestReadOpenMetrics(t *testing.T) {
	// A file long enough to span several parser chunks, with an error far in.
	var long strings.Builder
	long.WriteString("# TYPE lat histogram\n")
	var longWant []sample
	for i := 0; i < 2*chunkLines+10; i++ {
		fmt.Fprintf(&long, "lat_bucket{le=\"1\"} %d %d\n", i, 1772323200+i)
		longWant = append(longWant, sample{i + 2, `{__name__="lat_bucket", le="1.0"}`, t0 + int64(i)*1000, float64(i)})
	}
	for _, tc := range []struct {
		name string
		in   string
		want []sample
		err  string
	}{
		{name: "good", in: "# HELP load Load.\n# TYPE load gauge\n" +
			"load{service=\"api\",instance=\"a:80\"} 0.5 1772323200\n" +
			"load{service=\"api\",instance=\"a:80\"} 0.75 1772323215.5\n# EOF\n",
			want: []sample{
				{3, `{__name__="load", instance="a:80", service="api"}`, t0, 0.5},
				{4, `{__name__="load", instance="a:80", service="api"}`, t0 + 15500, 0.75},
			}},
		{name: "no EOF tolerated", in: "up 1 1772323200\n", want: []sample{{1, `{__name__="up"}`, t0, 1}}},
		{name: "type carried across chunks", in: long.String(), want: longWant},
		{name: "missing timestamp", in: "# TYPE up gauge\nup 1 1772323200\nup{job=\"x\"} 1\n# EOF\n",
			err: "m.om:3: sample up{job=\"x\"} has no timestamp"},
		{name: "bad value", in: "up 1 1772323200\nup one 1772323215\n",
			err: "m.om:2: "},
		{name: "error after chunks", in: long.String() + "lat_bucket{le=\"1\"} x 1\n",
			err: fmt.Sprintf("m.om:%d: ", 2*chunkLines+12)},
		{name: "data after EOF", in: "up 1 1772323200\n# EOF\nup 2 1772323215\n",
			err: "m.om:3: data after # EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []sample
			err := ReadOpenMetrics(context.Background(), "m.om", strings.NewReader(tc.in), collect(&got))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !same(got, tc.want) {
				n := min(3, len(got))
				t.Fatalf("got %d samples %v...\nwant %d %v", len(got), got[:n], len(tc.want), tc.want[:min(3, len(tc.want))])
			}
		})
	}
}

// TestOpenEvaluates loads the same samples from CSV and OpenMetrics files
// and checks that both sources evaluate a feature to the same known values.
func TestOpenEvaluates(t *testing.T) {
	dir := t.TempDir()
	var csv, om strings.Builder
	csv.WriteString("timestamp,__name__,service,value\n")
	om.WriteString("# TYPE reqs counter\n")
	for i := 0; i <= 40; i++ { // a counter rising 15/15 s = 1/s, two services
		for k, svc := range []string{"api", "db"} {
			ts := t0/1000 + int64(i)*15
			v := float64(i * 15 * (k + 1))
			fmt.Fprintf(&csv, "%d,reqs_total,%s,%g\n", ts, svc, v)
			fmt.Fprintf(&om, "reqs_total{service=%q} %g %d\n", svc, v, ts)
		}
	}
	om.WriteString("# EOF\n")
	os.WriteFile(filepath.Join(dir, "m.csv"), []byte(csv.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "m.om"), []byte(om.String()), 0o644)
	// Exports kept compressed: zstd named so, gzip found by its bytes alone.
	var zb, gb bytes.Buffer
	zw, _ := zstd.NewWriter(&zb)
	zw.Write([]byte(csv.String()))
	zw.Close()
	gw := gzip.NewWriter(&gb)
	gw.Write([]byte(om.String()))
	gw.Close()
	os.WriteFile(filepath.Join(dir, "m.csv.zst"), zb.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "m-om"), gb.Bytes(), 0o644)
	grid := pipeline.Grid{Start: time.UnixMilli(t0).Add(2 * time.Minute), End: time.UnixMilli(t0).Add(8 * time.Minute), Step: time.Minute}
	for _, tc := range []struct {
		format Format
		file   string
	}{{CSV, "m.csv"}, {OpenMetrics, "m.om"}, {CSV, "m.csv.zst"}, {OpenMetrics, "m-om"}} {
		t.Run(tc.file, func(t *testing.T) {
			src, err := Open(context.Background(), tc.format, Config{Path: filepath.Join(dir, tc.file)}, 5*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			tmp := src.dir
			if src.Samples != 82 || src.Series != 2 {
				t.Errorf("loaded %d samples of %d series, want 82 of 2", src.Samples, src.Series)
			}
			var got []string
			err = src.Evaluate(context.Background(), grid, spec.Feature{Name: "rps", Expr: "sum by (service) (rate(reqs_total[1m]))"}, func(fs pipeline.FeatureSeries) error {
				var vs []string
				for _, v := range fs.Values {
					vs = append(vs, fmt.Sprintf("%.9g", v))
				}
				got = append(got, fmt.Sprintf("%s=%v", fs.Labels.Get("service"), vs))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"api=[1 1 1 1 1 1]", "db=[2 2 2 2 2 2]"}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("rate = %v, want %v", got, want)
			}
			vals, err := src.LabelValues(context.Background(), grid, "service")
			if err != nil || strings.Join(vals, ",") != "api,db" {
				t.Errorf("LabelValues = %v, %v", vals, err)
			}
			if err := src.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tmp); !os.IsNotExist(err) {
				t.Errorf("temporary TSDB %s not deleted: %v", tmp, err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	for _, tc := range []struct {
		name, path, err string
	}{
		{"out of order", write("ooo.csv", "timestamp,__name__,value\n1772323215,x,1\n1772323200,x,2\n"), "ooo.csv:3: sample at 2026-03-01T00:00:00Z is out of order (previous sample"},
		{"duplicate", write("dup.csv", "timestamp,__name__,value\n1772323200,x,1\n1772323200,x,2\n"), "dup.csv:3: sample at 2026-03-01T00:00:00Z is a duplicate timestamp"},
		{"no samples", write("empty.csv", "timestamp,__name__,value\n"), "no samples"},
		{"no file", filepath.Join(dir, "none-*.csv"), "no file matches"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := filepath.Glob(filepath.Join(os.TempDir(), "opsdata-promfile-*"))
			src, err := Open(context.Background(), CSV, Config{Path: tc.path}, 0)
			if err == nil {
				src.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			after, _ := filepath.Glob(filepath.Join(os.TempDir(), "opsdata-promfile-*"))
			if len(after) > len(before) {
				t.Errorf("temporary TSDB left behind: %v", after)
			}
		})
	}
}

// TestDuplicatePolicies: refuse reports every early sample, not only the
// first; keep_first and keep_last keep one sample per timestamp and count
// the others in bad_input; out-of-order samples are dropped under both.
func TestDuplicatePolicies(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dup.csv")
	os.WriteFile(p, []byte("timestamp,__name__,value\n"+
		"1772323200,x,1\n1772323200,x,2\n1772323260,x,3\n1772323260,x,4\n1772323230,x,9\n1772323320,x,5\n"), 0o644)
	for _, tc := range []struct {
		policy  string
		want    []float64 // values at 00:00, 00:01, 00:02
		dropped int64
	}{
		{DuplicatesKeepFirst, []float64{1, 3, 5}, 3},
		{DuplicatesKeepLast, []float64{2, 4, 5}, 3},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			problems := &pipeline.Problems{}
			src, err := Open(context.Background(), CSV, Config{Path: p, Duplicates: tc.policy, problems: problems}, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			q, err := src.Queryable().Querier(0, 1<<62)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "x"))
			var got []float64
			for set.Next() {
				it := set.At().Iterator(nil)
				for it.Next() != chunkenc.ValNone {
					_, v := it.At()
					got = append(got, v)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("values %v, want %v", got, tc.want)
			}
			if n := problems.Report()["metrics:file"].Count; n != tc.dropped {
				t.Errorf("%d samples counted, want %d", n, tc.dropped)
			}
		})
	}
	_, err := Open(context.Background(), CSV, Config{Path: p}, 0)
	if err == nil || !strings.Contains(err.Error(), "3 samples at or before") || !strings.Contains(err.Error(), "dup.csv:5") {
		t.Fatalf("refuse: err = %v, want all three early samples reported", err)
	}
}
