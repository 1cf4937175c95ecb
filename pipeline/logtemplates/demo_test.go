package logtemplates

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/datasets/demo"
)

// demoTemplates is the ground truth of the demo cluster's log lines: one
// regexp per message format of datasets/demo/logs.go, with the loghub
// loghub convention that the HTTP method heading an access-log line names
// the event (a captured group joins the key; OpenStack's ground truth has
// separate GET and POST events). Inside a sentence ("slow request %s %s")
// the method is a variable, as the simulator's format string says.
// Every demo message must match exactly one.
var demoTemplates = []struct{ name, re string }{
	{"access", `^(GET|POST) /\S* \d+ \d+ms client=\S+$`},
	{"gc", `^gc pause [\d.]+ms heap=\d+MB$`},
	{"resolved", `^resolved \S+ to \S+ \(ttl 30s\)$`},
	{"health", `^health check ok instance=\S+ node=\S+$`},
	{"pool", `^connection pool to \S+:\d+ active=\d+ idle=\d+$`},
	{"cache", `^cache hit ratio [\d.]+% over last 60s$`},
	{"upstream", `^upstream \S+ rtt=[\d.]+ms via \S+$`},
	{"session", `^session refreshed for user "\S+"$`},
	{"export", `^export job started: https://\S+$`},
	{"batch", `^processed batch \d+ items=\d+ in \d+ms$`},
	{"slow", `^slow request (?:GET|POST) /\S* took \d+ms \(threshold 500ms\)$`},
	{"retry", `^retrying call to \S+ attempt=\d+$`},
	{"rendered", `^rendered /\S* in \d+ms for client \S+$`},
	{"order", `^order ORD-\d+ placed total=[\d.]+ EUR user=\S+$`},
	{"payment", `^payment pay_[0-9a-f]+ authorized via \S+ in \d+ms$`},
	{"catalog", `^catalog index refreshed products=\d+ in \d+ms$`},
	{"cart", `^cart \d+ updated items=\d+ user=\S+$`},
	{"reset", `^password reset mail queued for \S+$`},
	{"login", `^login succeeded user=\S+ from \S+$`},
	{"throttled", `^cpu throttled \d+% of periods \(limit 2 cores\)$`},
	{"timeout", `^request timed out after \d+ms calling \S+$`},
	{"query", `^query on \S+:\d+ took \d+ms rows=\d+$`},
	{"panic", `^panic recovered in /\S*: runtime error: invalid memory address or nil pointer dereference$`},
	{"failed", `^(GET|POST) /\S* failed: status=500 err="[^"]*" trace_id=[0-9a-f]+$`},
	{"queue", `^work queue depth \d+ above soft limit 100$`},
	{"lag", `^consumer lag on \S+:\d+ partition=\d+ lag=\d+$`},
	{"oom", `^OOMKill risk: working set \d+MB approaching limit 1024MB$`},
	{"memory", `^memory usage \d+MB of 1024MB limit$`},
	{"refused", `^dial tcp \S+: connect: connection refused$`},
	{"lost", `^lost connection to \S+ on \S+: connection refused$`},
	{"endpoint", `^endpoint \S+ removed from load balancer after 3 failed probes$`},
	{"deploy_start", `^deploy started: \S+ \S+ -> \S+ by user=\S+$`},
	{"deploy_done", `^deploy finished: \S+ \S+ rollout complete \(\d+/\d+ pods ready\)$`},
	{"rollback", `^rollback to \S+ complete, initiated by user=\S+$`},
	{"starting", `^starting \S+ \S+ on \S+ pod=\S+$`},
	{"notready", `^node \S+ \(\S+\) NotReady: kubelet stopped posting node status$`},
}

var demoText = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} [A-Z]+ \[[a-z0-9-]+\] (.*)$`)

// demoMessages reads every well-formed message of a demo log directory in
// file order.
func demoMessages(t testing.TB, dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	sort.Strings(files)
	var out []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasSuffix(f, ".jsonl") {
				var v struct {
					TS  string `json:"ts"`
					Msg string `json:"msg"`
				}
				if json.Unmarshal([]byte(line), &v) != nil || v.TS == "" {
					continue // the demo's deliberately malformed lines
				}
				out = append(out, v.Msg)
			} else if m := demoText.FindStringSubmatch(line); m != nil && !strings.HasPrefix(line, "2026-13") && !strings.HasPrefix(line, "2026-00") {
				out = append(out, m[1])
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func demoTruth(t testing.TB, msgs []string) []string {
	res := make([]*regexp.Regexp, len(demoTemplates))
	for i, d := range demoTemplates {
		res[i] = regexp.MustCompile(d.re)
	}
	truth := make([]string, len(msgs))
	for i, msg := range msgs {
		for k, re := range res {
			if m := re.FindStringSubmatch(msg); m != nil {
				if truth[i] != "" {
					t.Fatalf("message %q matches ground truth %s and %s", msg, truth[i], demoTemplates[k].name)
				}
				truth[i] = demoTemplates[k].name + strings.Join(m[1:], " ")
			}
		}
		if truth[i] == "" {
			t.Fatalf("message %q matches no ground-truth template; update demoTemplates", msg)
		}
	}
	return truth
}

// TestDemoGroupingAccuracy mines the demo cluster's logs (generated here,
// 24 hours with incidents) and scores grouping accuracy against the
// ground truth of the simulator's message formats.
func TestDemoGroupingAccuracy(t *testing.T) {
	dir := os.Getenv("OPSDATA_DEMO_LOGS")
	if dir == "" {
		tmp := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := demo.Generate(ctx, demo.Config{Dir: tmp, Duration: 24 * time.Hour}); err != nil {
			t.Fatalf("demo.Generate: %v", err)
		}
		dir = filepath.Join(tmp, "logs")
	}
	msgs := demoMessages(t, dir)
	if len(msgs) < 10000 {
		t.Fatalf("only %d demo messages", len(msgs))
	}
	truth := demoTruth(t, msgs)
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range msgs {
		m.Add(msg, time.Time{})
	}
	rows, byCluster := m.Templates(nil)
	pred := make([]string, len(msgs))
	for i, msg := range msgs {
		c := m.Match(msg)
		if c == nil {
			t.Fatalf("line %d %q matches no cluster after mining", i, msg)
		}
		pred[i] = rows[byCluster[c]].ID
	}
	ga := GroupingAccuracy(truth, pred)
	t.Logf("%d lines, %d templates, grouping accuracy %.4f", len(msgs), len(rows), ga)
	if ga < 0.98 {
		for _, r := range rows {
			t.Logf("%6d %s", r.Count, r.Template)
		}
		t.Errorf("grouping accuracy %.4f < 0.98", ga)
	}
}

// TestDemoTwoRunsSameIDs: the demo's 24 hours of logs mined as two runs
// (the second resumed from the first's registry, through its CSV form)
// give the lines the ids of one run.
func TestDemoTwoRunsSameIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("generates the demo")
	}
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := demo.Generate(ctx, demo.Config{Dir: tmp, Duration: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	msgs := demoMessages(t, filepath.Join(tmp, "logs"))
	whole, _, _ := mineCorpus(t, Config{}, nil, msgs)
	half := len(msgs) / 2
	first, _, m1 := mineCorpus(t, Config{}, nil, msgs[:half])
	var buf strings.Builder
	if err := WriteRegistryCSV(&buf, m1.Export()); err != nil {
		t.Fatal(err)
	}
	reg, err := ReadRegistryCSV(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	second, _, _ := mineCorpus(t, Config{}, reg, msgs[half:])
	got := append(first, second...)
	same := 0
	for i := range whole {
		if got[i] == whole[i] {
			same++
		}
	}
	share := float64(same) / float64(len(whole))
	t.Logf("%d lines: %.5f keep the one-run id across two runs", len(whole), share)
	if share < 0.999 {
		t.Errorf("only %.5f of lines keep their id", share)
	}
}
