package demo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if shortDir != "" {
			os.RemoveAll(filepath.Dir(shortDir))
		}
		os.Exit(code)
	}))
}

const shortRange = 6 * time.Hour

var (
	shortOnce sync.Once
	shortDir  string
	shortSum  Summary
	shortErr  error
)

// short generates the 6 h dataset once for the tests that only read it;
// TestMain removes it.
func short(t *testing.T) (string, Summary) {
	t.Helper()
	shortOnce.Do(func() {
		dir, err := os.MkdirTemp("", "demo-short-")
		if err != nil {
			shortErr = err
			return
		}
		shortDir = filepath.Join(dir, "out")
		shortSum, shortErr = Generate(context.Background(), Config{Dir: shortDir, Duration: shortRange, OpenMetrics: true})
	})
	if shortErr != nil {
		t.Fatalf("Generate: %v", shortErr)
	}
	return shortDir, shortSum
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestDeterminism(t *testing.T) {
	dir, _ := short(t)
	other := filepath.Join(t.TempDir(), "again")
	if _, err := Generate(context.Background(), Config{Dir: other, Duration: shortRange, OpenMetrics: true}); err != nil {
		t.Fatal(err)
	}
	a, b := treeFiles(t, dir), treeFiles(t, other)
	if len(a) != len(b) {
		t.Fatalf("file lists differ: %v vs %v", keys(a), keys(b))
	}
	for name, h := range a {
		if b[name] != h {
			t.Errorf("%s differs between two runs with the same config", name)
		}
	}
	for _, must := range []string{"metrics.om", "tickets.json", "ground_truth/incidents.json", "logs/checkout.jsonl", "logs/cart.log", "tsdb/wal"} {
		if _, ok := a[must]; !ok {
			t.Errorf("missing %s", must)
		}
	}

	// A different seed changes the data.
	third := filepath.Join(t.TempDir(), "seed2")
	if _, err := Generate(context.Background(), Config{Dir: third, Seed: 2, Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	c := treeFiles(t, third)
	if c["logs/frontend.jsonl"] == a["logs/frontend.jsonl"] || c["anonymization.key"] == a["anonymization.key"] {
		t.Error("seed 2 produced the same logs or key as seed 1")
	}
}

// treeFiles maps each path under root to its contents (directories to "dir").
func treeFiles(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

type sample struct {
	t int64
	v float64
}

// readTSDB returns every sample in the TSDB by series.
func readTSDB(t *testing.T, dir string) map[string][]sample {
	t.Helper()
	db, err := tsdb.OpenDBReadOnly(filepath.Join(dir, "tsdb"), t.TempDir(), nil)
	if err != nil {
		t.Fatalf("open TSDB read-only: %v", err)
	}
	defer db.Close()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	out := map[string][]sample{}
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		var l []sample
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			l = append(l, sample{ts, v})
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		out[s.Labels().String()] = l
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func readOpenMetrics(t *testing.T, path string) map[string][]sample {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, []byte("# EOF\n")) {
		t.Fatal("metrics.om does not end with # EOF")
	}
	p := textparse.NewOpenMetricsParser(b, labels.NewSymbolTable())
	out := map[string][]sample{}
	var lset labels.Labels
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse metrics.om: %v", err)
		}
		if e != textparse.EntrySeries {
			continue
		}
		_, ts, v := p.Series()
		if ts == nil {
			t.Fatal("metrics.om sample without timestamp")
		}
		p.Labels(&lset)
		k := lset.String()
		out[k] = append(out[k], sample{*ts, v})
	}
	return out
}

func TestTSDBMatchesOpenMetrics(t *testing.T) {
	dir, sum := short(t)
	db := readTSDB(t, dir)
	om := readOpenMetrics(t, filepath.Join(dir, "metrics.om"))

	wantSeries := 6 * 3 * seriesPerInstance
	if sum.Series != wantSeries || len(db) != wantSeries || len(om) != wantSeries {
		t.Fatalf("series: summary %d, tsdb %d, openmetrics %d, want %d", sum.Series, len(db), len(om), wantSeries)
	}
	nDB, nOM := 0, 0
	for k, a := range db {
		b := om[k]
		nDB += len(a)
		nOM += len(b)
		if len(a) != len(b) {
			t.Errorf("%s: %d samples in TSDB, %d in OpenMetrics", k, len(a), len(b))
			continue
		}
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s sample %d: TSDB %v, OpenMetrics %v", k, i, a[i], b[i])
				break
			}
		}
	}
	if nDB != sum.Samples || nOM != sum.Samples {
		t.Errorf("samples: summary %d, tsdb %d, openmetrics %d", sum.Samples, nDB, nOM)
	}
	// up is scraped at every step, even while its node is down.
	steps := int(shortRange / DefaultScrape)
	for k, s := range db {
		if strings.HasPrefix(k, `{__name__="up"`) && len(s) != steps {
			t.Errorf("%s: %d samples, want %d", k, len(s), steps)
		}
	}
	// Counters only go down at the one deliberate restart after a node outage.
	for k, s := range db {
		if !strings.Contains(k, "_total") && !strings.Contains(k, "_bucket") {
			continue
		}
		for i := 1; i < len(s); i++ {
			if s[i].v < s[i-1].v && s[i].t-s[i-1].t == DefaultScrape.Milliseconds() {
				t.Errorf("%s: counter drops at %d without a gap", k, s[i].t)
				break
			}
		}
	}
}

type gtIncident struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Entities []string `json:"entities"`
	Nodes    []string `json:"nodes"`
	Start    string   `json:"start"`
	End      *string  `json:"end"`
	Ticket   *string  `json:"ticket"`
}

func TestTicketsMatchGroundTruth(t *testing.T) {
	dir, sum := short(t)
	var incs []gtIncident
	var tickets []ticketJSON
	readJSON(t, filepath.Join(dir, "ground_truth/incidents.json"), &incs)
	readJSON(t, filepath.Join(dir, "tickets.json"), &tickets)
	if len(incs) != sum.Incidents || len(tickets) != sum.Tickets {
		t.Fatalf("summary says %d incidents, %d tickets; files hold %d, %d", sum.Incidents, sum.Tickets, len(incs), len(tickets))
	}
	// The 6 h range keeps the first CPU saturation, the deploy error burst and the leak.
	var types []string
	for _, in := range incs {
		types = append(types, in.Type)
	}
	if got, want := strings.Join(types, ","), "cpu_saturation,error_burst_after_deploy,memory_leak"; got != want {
		t.Fatalf("6 h incidents %s, want %s", got, want)
	}
	byID := map[string]ticketJSON{}
	for _, tk := range tickets {
		byID[tk.ID] = tk
	}
	parse := func(tk ticketJSON, s string) time.Time {
		t.Helper()
		if tk.Timezone == "" {
			x, err := time.Parse(time.RFC3339, s)
			if err != nil {
				t.Fatalf("%s: %v", tk.ID, err)
			}
			return x
		}
		loc, err := time.LoadLocation(tk.Timezone)
		if err != nil {
			t.Fatal(err)
		}
		x, err := time.ParseInLocation(time.DateTime, s, loc)
		if err != nil {
			t.Fatalf("%s: naive time %q: %v", tk.ID, s, err)
		}
		return x
	}
	naive := 0
	for _, in := range incs {
		start, _ := time.Parse(time.RFC3339, in.Start)
		if start.Second() == 0 {
			t.Errorf("%s starts on a minute boundary", in.ID)
		}
		if in.Ticket == nil {
			continue
		}
		tk, ok := byID[*in.Ticket]
		if !ok {
			t.Fatalf("%s names ticket %s, not in tickets.json", in.ID, *in.Ticket)
		}
		if tk.Timezone != "" {
			naive++
			if strings.Contains(tk.ImpactStart, "Z") || strings.Contains(tk.ImpactStart, "T") {
				t.Errorf("%s has a zone but impact_start %q is not naive", tk.ID, tk.ImpactStart)
			}
		}
		if got := parse(tk, tk.ImpactStart); !got.Equal(start) {
			t.Errorf("%s impact_start %v, ground truth %v", tk.ID, got, start)
		}
		created := parse(tk, tk.Created)
		if d := created.Sub(start); d < 3*time.Minute || d > 20*time.Minute {
			if in.End != nil || d <= 0 {
				t.Errorf("%s created %v after impact start", tk.ID, d)
			}
		}
		switch {
		case in.End == nil:
			if tk.Resolved != nil || tk.Status != "open" {
				t.Errorf("%s: ongoing incident, ticket resolved=%v status=%s", tk.ID, tk.Resolved, tk.Status)
			}
		case tk.Resolved == nil:
			t.Errorf("%s: resolved is null, ground truth ends %s", tk.ID, *in.End)
		default:
			end, _ := time.Parse(time.RFC3339, *in.End)
			if got := parse(tk, *tk.Resolved); !got.Equal(end) || tk.Status != "resolved" {
				t.Errorf("%s resolved %v (%s), ground truth %v", tk.ID, got, tk.Status, end)
			}
		}
		if strings.Join(tk.Services, ",") != strings.Join(in.Entities, ",") {
			t.Errorf("%s services %v, ground truth %v", tk.ID, tk.Services, in.Entities)
		}
		if !strings.Contains(tk.Body, "@acme-corp.example") || !strings.Contains(tk.Body, ".prod.acme.internal") || !strings.Contains(tk.Body, "10.42.") {
			t.Errorf("%s body lacks the raw identifiers it should quote: %q", tk.ID, tk.Body)
		}
	}
	if naive != 1 {
		t.Errorf("%d tickets with naive local times, want 1", naive)
	}
	if incs[len(incs)-1].End != nil || incs[len(incs)-1].Type != typeLeak {
		t.Errorf("last incident should be the ongoing memory leak: %+v", incs[len(incs)-1])
	}
}

func TestIdentifiersOccurInInputs(t *testing.T) {
	dir, _ := short(t)
	var ids map[string][]string
	readJSON(t, filepath.Join(dir, "ground_truth/identifiers.json"), &ids)
	var corpus []byte
	for _, p := range []string{"metrics.om", "tickets.json"} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		corpus = append(corpus, b...)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*"))
	var logText []byte
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		logText = append(logText, b...)
	}
	corpus = append(corpus, logText...)
	for _, kind := range identifierKinds {
		if len(ids[kind]) == 0 {
			t.Errorf("identifiers.json: no %s planted", kind)
		}
		for _, v := range ids[kind] {
			if !bytes.Contains(corpus, []byte(v)) {
				t.Errorf("identifiers.json %s %q occurs in no input", kind, v)
			}
		}
	}
	// Usernames appear in text only as user=NAME, user "NAME" or the JSON user field.
	for _, u := range ids["usernames"] {
		all := bytes.Count(logText, []byte(u))
		forms := bytes.Count(logText, []byte("user="+u)) + bytes.Count(logText, []byte(`user \"`+u+`\"`)) +
			bytes.Count(logText, []byte(`user "`+u+`"`)) + bytes.Count(logText, []byte(`"user":"`+u+`"`))
		if all != forms {
			t.Errorf("username %q: %d occurrences, only %d in the allowed forms", u, all, forms)
		}
	}
	// Tokens sit in the export URL.
	for _, tok := range ids["tokens"] {
		if len(tok) != 40 || !bytes.Contains(logText, []byte("https://api.acme.internal/v1/export?token="+tok)) {
			t.Errorf("token %q not 40 characters in the export URL", tok)
		}
	}
}

// The pipeline's own pattern for the plain-text logs.
var textLine = regexp.MustCompile(`^(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}) (?P<level>[A-Z]+) \[(?P<entity>[a-z0-9-]+)\] (?P<message>.*)$`)

type logLine struct {
	t     time.Time
	level string
	msg   string
}

// readLogs parses one service's file the way the pipeline would, counting
// lines it cannot use.
func readLogs(t *testing.T, dir, svc string) (lines []logLine, bad int) {
	t.Helper()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	path := filepath.Join(dir, "logs", svc+".log")
	jsonl := false
	if _, err := os.Stat(path); err != nil {
		path, jsonl = filepath.Join(dir, "logs", svc+".jsonl"), true
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if jsonl {
			var m map[string]string
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m["ts"] == "" {
				bad++
				continue
			}
			ts, err := time.Parse(time.RFC3339Nano, m["ts"])
			if err != nil || m["service"] != svc || m["host"] == "" || m["pod"] == "" {
				t.Fatalf("%s: bad line %s", path, sc.Text())
			}
			lines = append(lines, logLine{ts, m["level"], m["msg"]})
			continue
		}
		g := textLine.FindStringSubmatch(sc.Text())
		if g == nil {
			t.Fatalf("%s: line does not match the pipeline pattern: %s", path, sc.Text())
		}
		ts, err := time.ParseInLocation("2006-01-02 15:04:05.000", g[1], berlin)
		if err != nil {
			bad++
			continue
		}
		if g[3] != svc {
			t.Fatalf("%s: entity %q", path, g[3])
		}
		lines = append(lines, logLine{ts.UTC(), strings.ToLower(g[2]), g[4]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines, bad
}

func TestLogs(t *testing.T) {
	dir, sum := short(t)
	var malformed map[string]int
	readJSON(t, filepath.Join(dir, "ground_truth/malformed.json"), &malformed)
	if malformed["cart.log"] != 2 || malformed["checkout.jsonl"] != 2 || len(malformed) != 2 {
		t.Errorf("malformed.json = %v", malformed)
	}
	total := 0
	levels := map[string]bool{"debug": true, "info": true, "warn": true, "error": true}
	for _, svc := range []string{"frontend", "checkout", "payments", "catalog", "cart", "auth"} {
		t.Run(svc, func(t *testing.T) {
			lines, bad := readLogs(t, dir, svc)
			want := malformed[svc+".log"] + malformed[svc+".jsonl"]
			if bad != want {
				t.Errorf("%d malformed lines, ground truth says %d", bad, want)
			}
			total += len(lines) + bad
			// About one line per 15-30 s per instance, plus incident lines.
			base := 3 * int(shortRange/(30*time.Second))
			if len(lines) < base || len(lines) > 3*base {
				t.Errorf("%d lines, want between %d and %d", len(lines), base, 3*base)
			}
			for i, l := range lines {
				if !levels[l.level] {
					t.Fatalf("line %d: level %q", i, l.level)
				}
				if i > 0 && l.t.Before(lines[i-1].t) {
					t.Fatalf("line %d at %v is before the previous line %v", i, l.t, lines[i-1].t)
				}
				if l.t.Before(sum.Start) || !l.t.Before(sum.End) {
					t.Fatalf("line %d at %v outside the range", i, l.t)
				}
			}
		})
	}
	if total != sum.LogLines {
		t.Errorf("summary counts %d log lines, files hold %d", sum.LogLines, total)
	}
}

// TestIncidentsVisible checks each injected incident shows in both the
// metrics and the logs of the services it names.
func TestIncidentsVisible(t *testing.T) {
	dir, sum := short(t)
	checkIncidentsVisible(t, dir, sum.End, 3)
}

// TestIncidentsVisible3Days runs the same checks over the full default
// schedule (two instances per service, one-minute scrapes, to keep it quick).
func TestIncidentsVisible3Days(t *testing.T) {
	if testing.Short() {
		t.Skip("3-day dataset")
	}
	dir := filepath.Join(t.TempDir(), "o")
	sum, err := Generate(context.Background(), Config{Dir: dir, Instances: 2, Scrape: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Incidents != len(schedule) || sum.Tickets != len(schedule)-1 {
		t.Errorf("3 days: %d incidents, %d tickets", sum.Incidents, sum.Tickets)
	}
	checkIncidentsVisible(t, dir, sum.End, 2)
}

func checkIncidentsVisible(t *testing.T, dir string, rangeEnd time.Time, instances int) {
	db := readTSDB(t, dir)
	var incs []gtIncident
	readJSON(t, filepath.Join(dir, "ground_truth/incidents.json"), &incs)
	logs := map[string][]logLine{}

	// each visits a service's series of one metric whose labels contain extra.
	each := func(metric, svc, extra string, fn func(k string, s []sample)) {
		for k, s := range db {
			if strings.HasPrefix(k, `{__name__="`+metric+`"`) && strings.Contains(k, `service="`+svc+`"`) && strings.Contains(k, extra) {
				fn(k, s)
			}
		}
	}
	in := func(x sample, from, to time.Time) bool { return x.t >= from.UnixMilli() && x.t < to.UnixMilli() }
	mean := func(metric, svc, extra string, from, to time.Time) float64 {
		sum, n := 0.0, 0
		each(metric, svc, extra, func(_ string, s []sample) {
			for _, x := range s {
				if in(x, from, to) {
					sum += x.v
					n++
				}
			}
		})
		return sum / float64(max(n, 1))
	}
	maxOf := func(metric, svc string, from, to time.Time) float64 {
		m := 0.0
		each(metric, svc, "", func(_ string, s []sample) {
			for _, x := range s {
				if in(x, from, to) {
					m = math.Max(m, x.v)
				}
			}
		})
		return m
	}
	// increase of a counter summed over series, ignoring resets.
	increase := func(metric, svc, extra string, from, to time.Time) float64 {
		total := 0.0
		each(metric, svc, extra, func(_ string, s []sample) {
			for i := 1; i < len(s); i++ {
				if in(s[i], from, to) && in(s[i-1], from, to) && s[i].v >= s[i-1].v {
					total += s[i].v - s[i-1].v
				}
			}
		})
		return total
	}
	share := func(svc, code string, from, to time.Time) float64 {
		return increase("http_requests_total", svc, `code="`+code+`"`, from, to) / math.Max(increase("http_request_duration_seconds_count", svc, "", from, to), 1)
	}
	avgLatency := func(svc string, from, to time.Time) float64 {
		return increase("http_request_duration_seconds_sum", svc, "", from, to) / math.Max(increase("http_request_duration_seconds_count", svc, "", from, to), 1)
	}
	// warn and error lines per minute for svc in [from, to).
	problems := func(svc string, from, to time.Time) float64 {
		if logs[svc] == nil {
			logs[svc], _ = readLogs(t, dir, svc)
		}
		n := 0
		for _, l := range logs[svc] {
			if (l.level == "warn" || l.level == "error") && !l.t.Before(from) && l.t.Before(to) {
				n++
			}
		}
		return float64(n) / to.Sub(from).Minutes()
	}

	for _, inc := range incs {
		start, _ := time.Parse(time.RFC3339, inc.Start)
		end := rangeEnd
		if inc.End != nil {
			end, _ = time.Parse(time.RFC3339, *inc.End)
		}
		// A quiet hour before the lead-in effects start.
		before, beforeEnd := start.Add(-80*time.Minute), start.Add(-20*time.Minute)
		mid := start.Add(2 * time.Minute)
		t.Run(inc.ID+"-"+inc.Type, func(t *testing.T) {
			for _, svc := range inc.Entities {
				if pb, pi := problems(svc, before, beforeEnd), problems(svc, start, end); pi < 3*pb || pi < 1 {
					t.Errorf("%s: warn/error lines per minute %.2f before, %.2f during", svc, pb, pi)
				}
			}
			svc := inc.Entities[0]
			switch inc.Type {
			case typeCPU:
				if c := mean("cpu_utilization_ratio", svc, "", mid, end); c < 0.9 {
					t.Errorf("cpu during saturation %.2f", c)
				}
				if lb, li := avgLatency(svc, before, beforeEnd), avgLatency(svc, mid, end); li < 2*lb {
					t.Errorf("latency %.3fs before, %.3fs during", lb, li)
				}
			case typeLatency:
				if lb, li := avgLatency(svc, before, beforeEnd), avgLatency(svc, mid, end); li < 5*lb {
					t.Errorf("latency %.3fs before, %.3fs during", lb, li)
				}
				// The histogram shifts: most requests now land above 250 ms.
				slow := func(from, to time.Time) float64 {
					return 1 - increase("http_request_duration_seconds_bucket", svc, `le="0.25"`, from, to)/math.Max(increase("http_request_duration_seconds_count", svc, "", from, to), 1)
				}
				if sb, si := slow(before, beforeEnd), slow(mid, end); sb > 0.05 || si < 0.5 {
					t.Errorf("share of requests over 250 ms: %.3f before, %.3f during", sb, si)
				}
			case typeDeploy:
				if eb, ei := share(svc, "500", before, beforeEnd), share(svc, "500", mid, end); ei < 10*eb || ei < 0.1 {
					t.Errorf("500 share %.4f before, %.4f during", eb, ei)
				}
				deploy := false
				for _, l := range logs[svc] {
					if strings.HasPrefix(l.msg, "deploy finished") && l.t.Before(start) && start.Sub(l.t) < 2*time.Minute {
						deploy = true
					}
				}
				if !deploy {
					t.Error("no deploy line right before the error burst")
				}
			case typeQueue:
				if qb, qi := maxOf("work_queue_depth", svc, before, beforeEnd), maxOf("work_queue_depth", svc, start, end); qi < 300 || qb > 50 {
					t.Errorf("queue depth max %.0f before, %.0f during", qb, qi)
				}
			case typeLeak:
				m0 := mean("memory_working_set_bytes", svc, "", before, beforeEnd)
				m1 := mean("memory_working_set_bytes", svc, "", end.Add(-3*time.Minute), end)
				if m1 < 1.5*m0 {
					t.Errorf("memory %.0f before, %.0f at the end of the leak", m0, m1)
				}
			case typeOutage:
				down, survivors := 0, 0
				for _, s := range inc.Entities {
					each("up", s, "", func(k string, ss []sample) {
						if mean("up", s, `pod="`+podOf(k)+`"`, mid, end) == 0 {
							down++
							if !strings.Contains(k, inc.Nodes[0]) {
								t.Errorf("%s down but not on %s", k, inc.Nodes[0])
							}
							// Its other series have no samples while the node is down.
							each("cpu_utilization_ratio", s, `pod="`+podOf(k)+`"`, func(_ string, cs []sample) {
								for _, x := range cs {
									if in(x, mid, end) {
										t.Fatalf("%s has a cpu sample at %d during the outage", podOf(k), x.t)
									}
								}
							})
						} else {
							survivors++
						}
					})
					if sb, si := share(s, "503", before, beforeEnd), share(s, "503", mid, end); si < 5*sb {
						t.Errorf("%s: 503 share %.4f before, %.4f during", s, sb, si)
					}
				}
				if down == 0 || survivors == 0 {
					t.Errorf("outage: %d instances down, %d survivors", down, survivors)
				}
				for _, other := range []string{"catalog", "auth"} {
					each("up", other, "", func(k string, _ []sample) {
						if mean("up", other, `pod="`+podOf(k)+`"`, mid, end) != 1 {
							t.Errorf("%s should be untouched by the outage", k)
						}
					})
				}
			}
		})
	}
}

var podLabel = regexp.MustCompile(`pod="([^"]+)"`)

func podOf(series string) string { return podLabel.FindStringSubmatch(series)[1] }

func TestNodeOutageAndFullSchedule(t *testing.T) {
	c := newCluster(1, 6, 3)
	incs := planIncidents(c, DefaultStart, DefaultDuration)
	var outage *incident
	for _, in := range incs {
		if in.typ == typeOutage {
			outage = in
		}
	}
	if outage == nil {
		t.Fatal("no node outage in the 3-day schedule")
	}
	if got := strings.Join(serviceNames(outage.services), ","); got != "frontend,checkout,payments,cart" {
		t.Errorf("outage hits %s", got)
	}
	mid := outage.start.Add(10 * time.Minute)
	for _, inst := range c.insts {
		e := effectAt(incs, inst, mid, DefaultStart.Add(DefaultDuration))
		if e.down != (inst.node == outageNode) {
			t.Errorf("%s on node %d: down=%v during the outage", inst.pod, inst.node, e.down)
		}
	}
	// Down instances: no samples but up=0; survivors keep reporting.
	vals := simulateInstance(c.service("cart").insts[0], incs, grid{startMs: DefaultStart.UnixMilli(), stepMs: 15000, n: 17280}, 1, DefaultStart.Add(DefaultDuration).UnixMilli())
	k := int(mid.Sub(DefaultStart) / (15 * time.Second))
	if vals[sUp][k] != 0 || !math.IsNaN(vals[sCPU][k]) || !math.IsNaN(vals[sReq][k]) {
		t.Errorf("cart-0 during outage: up=%v cpu=%v req=%v", vals[sUp][k], vals[sCPU][k], vals[sReq][k])
	}
	after := int(outage.end.Sub(DefaultStart)/(15*time.Second)) + 2
	if vals[sUp][after] != 1 || vals[sReq][after] >= vals[sReq][k-int(outage.length/(15*time.Second))-4] {
		t.Errorf("cart-0 after the outage: up=%v, counter should restart from zero", vals[sUp][after])
	}
}

func TestPlanIncidents(t *testing.T) {
	tests := []struct {
		dur   time.Duration
		types string
	}{
		{72 * time.Hour, "cpu_saturation,latency_spike,node_outage,error_burst_after_deploy,queue_backlog,cpu_saturation,memory_leak"},
		{6 * time.Hour, "cpu_saturation,error_burst_after_deploy,memory_leak"},
		{24 * time.Hour, "cpu_saturation,latency_spike,node_outage,error_burst_after_deploy,queue_backlog,cpu_saturation,memory_leak"},
		{12 * time.Hour, "cpu_saturation,node_outage,queue_backlog,memory_leak"},
		{100 * time.Hour, "cpu_saturation,latency_spike,node_outage,error_burst_after_deploy,queue_backlog,cpu_saturation,memory_leak"},
		{time.Hour, "memory_leak"},
		{30 * time.Minute, ""},
	}
	for _, tc := range tests {
		t.Run(tc.dur.String(), func(t *testing.T) {
			c := newCluster(1, 6, 3)
			incs := planIncidents(c, DefaultStart, tc.dur)
			var types []string
			end := DefaultStart.Add(tc.dur)
			for i, in := range incs {
				types = append(types, in.typ)
				if in.start.Second() == 0 {
					t.Errorf("%s starts on a minute: %v", in.id, in.start)
				}
				if in.start.Sub(DefaultStart) < edgeMargin {
					t.Errorf("%s starts %v after the range start", in.id, in.start.Sub(DefaultStart))
				}
				if in.ongoing() != (in.typ == typeLeak) {
					t.Errorf("%s ongoing=%v", in.id, in.ongoing())
				}
				if !in.ongoing() && end.Sub(in.end) < edgeMargin {
					t.Errorf("%s ends %v before the range end", in.id, end.Sub(in.end))
				}
				if i > 0 && in.start.Sub(incs[i-1].end) < minGap {
					t.Errorf("%s starts %v after %s ends", in.id, in.start.Sub(incs[i-1].end), incs[i-1].id)
				}
				if (in.ticketID == "") != (in.typ == typeQueue) {
					t.Errorf("%s ticket %q", in.id, in.ticketID)
				}
			}
			if got := strings.Join(types, ","); got != tc.types {
				t.Errorf("types %s, want %s", got, tc.types)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{}, "Config.Dir is required"},
		{"dir not empty", Config{Dir: full}, "not empty"},
		{"negative services", Config{Dir: "x", Services: -1}, "Config.Services"},
		{"duration below scrape", Config{Dir: "x", Duration: time.Second}, "at least one scrape"},
		{"sub-millisecond scrape", Config{Dir: "x", Scrape: time.Microsecond}, "whole number of milliseconds"},
		{"too big", Config{Dir: "x", Services: 600, Duration: 30 * 24 * time.Hour}, "shorten Duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := Generate(context.Background(), Config{Dir: full}); !errors.Is(err, ErrDirNotEmpty) {
		t.Errorf("err = %v, want ErrDirNotEmpty", err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Config{Dir: filepath.Join(t.TempDir(), "o"), Duration: time.Hour}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestScaledServices(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "o")
	sum, err := Generate(context.Background(), Config{Dir: dir, Duration: time.Hour, Services: 8, Instances: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Series != 8*2*seriesPerInstance {
		t.Errorf("series %d", sum.Series)
	}
	for _, f := range []string{"logs/frontend-2.jsonl", "logs/checkout-2.jsonl", "logs/auth.log"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	key, err := os.ReadFile(filepath.Join(dir, "anonymization.key"))
	if err != nil || len(key) != 65 || key[64] != '\n' {
		t.Errorf("anonymization.key %q: %v", key, err)
	}
}

// BenchmarkGenerate3Days times the default dataset (no OpenMetrics text).
func BenchmarkGenerate3Days(b *testing.B) {
	for b.Loop() {
		dir := filepath.Join(b.TempDir(), "o")
		sum, err := Generate(context.Background(), Config{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(sum.Samples), "samples")
		b.ReportMetric(float64(sum.LogLines), "loglines")
	}
}

// BenchmarkGenerate3DaysOpenMetrics adds the OpenMetrics text (about 1 GB).
func BenchmarkGenerate3DaysOpenMetrics(b *testing.B) {
	for b.Loop() {
		dir := filepath.Join(b.TempDir(), "o")
		if _, err := Generate(context.Background(), Config{Dir: dir, OpenMetrics: true}); err != nil {
			b.Fatal(err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "metrics.om")); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-om")
		}
	}
}
