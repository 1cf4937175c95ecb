package anonymize

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/opsdata/opsdata/spec"
)

// resumeCorpus is one night's input, fed through every entry point that
// learns or reads what was learned.
type resumeCorpus struct {
	setup    func(a *Anonymizer) // AddVocabulary, AddWorkloads
	learn    [][2]string         // LearnLabel(name, value)
	labels   []labels.Labels     // Labels
	fields   []map[string]string // Fields
	entities [][3]string         // EntityValue(label, kind, raw)
	texts    []string            // Text
	columns  [][2]string         // Column(column, v)
	batch    []string            // ScrubAhead on two goroutines, then Batch.Settle
	probes   []string            // CoveredScan
}

// feed runs c through a and returns every result, in order.
func feed(a *Anonymizer, c resumeCorpus) []string {
	var out []string
	if c.setup != nil {
		c.setup(a)
	}
	for _, l := range c.learn {
		a.LearnLabel(l[0], l[1])
	}
	for _, l := range c.labels {
		out = append(out, "labels "+a.Labels(l).String())
	}
	for _, f := range c.fields {
		g := a.Fields(f)
		keys := make([]string, 0, len(g))
		for k := range g {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%q ", k, g[k])
		}
		out = append(out, "fields "+b.String())
	}
	for _, e := range c.entities {
		out = append(out, "entity "+a.EntityValue(e[0], e[1], e[2]))
	}
	for _, s := range c.texts {
		out = append(out, "text "+a.Text(s))
	}
	for _, cv := range c.columns {
		out = append(out, "column "+a.Column(cv[0], cv[1]))
	}
	for _, s := range settleAll(a, c.batch, 4, 2) {
		out = append(out, "batch "+s)
	}
	for _, p := range c.probes {
		m, ok := a.CoveredScan([]byte(p))
		out = append(out, fmt.Sprintf("covered %v %s", ok, m))
	}
	return out
}

// stageVersion writes a small staged version: the raw lines of both nights
// (leaks), the outputs (pseudonyms, which are not leaks) and a README.
func stageVersion(t *testing.T, raw, outs []string) string {
	t.Helper()
	dir := t.TempDir()
	var rows []gateRow
	for _, s := range raw {
		rows = append(rows, gateRow{Message: s, Tags: []string{"raw"}})
	}
	for _, s := range outs {
		rows = append(rows, gateRow{Message: s, Tags: []string{"out"}, Count: 1})
	}
	writeParquet(t, filepath.Join(dir, "logs.parquet"), rows)
	readme := "# dataset\n\n" + strings.Join(outs, "\n") + "\n" + strings.Join(raw, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(readme), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func corpusInputs(c resumeCorpus) []string {
	var raw []string
	for _, l := range c.learn {
		raw = append(raw, l[1])
	}
	for _, l := range c.labels {
		raw = append(raw, l.String())
	}
	for _, f := range c.fields {
		for _, v := range f {
			raw = append(raw, v)
		}
	}
	for _, e := range c.entities {
		raw = append(raw, e[2])
	}
	raw = append(raw, c.texts...)
	for _, cv := range c.columns {
		raw = append(raw, cv[1])
	}
	raw = append(raw, c.batch...)
	sort.Strings(raw) // fields come from maps
	return raw
}

func marshal(t *testing.T, a *Anonymizer) []byte {
	t.Helper()
	b, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bulkHosts returns LearnLabel calls of n distinct instance names (not
// found by shape, so each is a text matcher value).
func bulkHosts(from, n int) [][2]string {
	out := make([][2]string, n)
	for i := range out {
		out[i] = [2]string{"instance", fmt.Sprintf("cache%05dx", from+i)}
	}
	return out
}

// A resumed anonymizer (New, then RestoreState of the first night's state)
// gives the second night exactly what the anonymizer that never stopped
// gives: every output, the reports, the inventory, the gate's leaks, and
// at the end the same state bytes.
func TestRestoreStateResumesExactly(t *testing.T) {
	hostPolicy := spec.Anonymize{
		Labels:      map[string]string{"instance": "host", "node": "host", "client": "ip_prefix", "net": "generalize:24:48", "token": "redact", "debug": "drop"},
		LogFields:   map[string]string{"user": "user", "host": "host", "client_ip": "ip_prefix", "session": "redact"},
		HostDomains: []string{"prod.acme.internal", "corp.example.com"},
		Canaries:    []string{"CANARY-7f3a9"},
	}
	cases := []struct {
		name          string
		policy        spec.Anonymize
		first, second resumeCorpus
		// gone are raw values of the first night: the second night's
		// outputs of the resumed anonymizer must not hold them, those of a
		// fresh one (nothing restored) must. The case is then real.
		gone []string
	}{
		{
			name:   "metric labels",
			policy: hostPolicy,
			first: resumeCorpus{
				learn: [][2]string{
					{"instance", "db7.prod.acme.internal:9100"}, {"node", "kube-node-a7.corp.example.com"},
					{"job", "payments-ledger"}, {"client", "10.20.30.40"}, {"client", "10.20.30.41:8443"},
					{"net", "192.168.77.5"}, {"token", "tok-Zq8Wv5Lm2Np"}, {"debug", "dbg-Xk4Rt7Yu1"},
					{"service", "checkout"}, // the entity label: kept
				},
				labels: []labels.Labels{
					labels.FromStrings("__name__", "up", "instance", "db7.prod.acme.internal:9100", "job", "payments-ledger"),
					labels.FromStrings("__name__", "rx", "client", "10.20.30.40", "net", "192.168.77.5", "debug", "x"),
				},
			},
			second: resumeCorpus{
				labels: []labels.Labels{
					labels.FromStrings("__name__", "up", "instance", "db8.prod.acme.internal:9100", "job", "payments-api"),
					labels.FromStrings("__name__", "rx", "client", "10.20.30.40", "net", "192.168.77.6", "token", "tok-Aa1Bb2Cc3Dd"),
				},
				texts: []string{
					"payments-ledger lagging on db7.prod.acme.internal:9100",
					"db7 failover; kube-node-a7 cordoned",
					"retry tok-Zq8Wv5Lm2Np from 10.20.30.40 and 10.20.30.41:8443",
					"scrape of payments-api failed",
				},
				batch: []string{"payments-ledger ok", "kube-node-a7 ready", "db8 is new", "tok-Zq8Wv5Lm2Np again", "dbg-Xk4Rt7Yu1 seen"},
			},
			gone: []string{"payments-ledger", "kube-node-a7", "tok-Zq8Wv5Lm2Np", "dbg-Xk4Rt7Yu1"},
		},
		{
			name:   "log fields",
			policy: hostPolicy,
			first: resumeCorpus{
				fields: []map[string]string{
					{"user": "jdoe42", "host": "api3.corp.example.com", "client_ip": "172.16.9.9", "session": "sess-Hq2Lw9Xc", "level": "info"},
					{"user": "Mallory-Ops", "host": "10.1.1.1", "msg": "hello"},
				},
			},
			second: resumeCorpus{
				fields: []map[string]string{
					{"user": "newbie7", "host": "api4.corp.example.com", "client_ip": "172.16.9.9"},
					{"user": "newbie7", "session": "sess-Pp0Oo9Ii", "host": "10.1.1.2"},
				},
				texts: []string{
					"jdoe42 logged out of api3 (mallory-ops watching)",
					"session sess-Hq2Lw9Xc expired for newbie7",
					"client 172.16.9.9 and 10.1.1.1 again",
				},
				columns: [][2]string{{"tickets.body", "ask jdoe42 about sess-Hq2Lw9Xc"}, {"tickets.title", "api3 down"}},
				batch:   []string{"jdoe42 again", "user=newbie8 joined", "newbie8 left", "Mallory-Ops rebooted api3"},
			},
			gone: []string{"jdoe42", "sess-Hq2Lw9Xc", "Mallory-Ops", "mallory-ops"},
		},
		{
			name:   "entities and workloads",
			policy: spec.Anonymize{Labels: map[string]string{"pod": "pod", "node": "host"}},
			first: resumeCorpus{
				setup: func(a *Anonymizer) { a.AddWorkloads("redis", "fluentd") },
				entities: [][3]string{
					{"node", "host", "worker-node-19"}, {"pod", "pod", "ledger-sync-0"}, {"service", "service", "checkout"},
					{"instance", "host", "edge7.example.net"},
				},
				texts: []string{"OOMKilled search-6b7c9d8f5-k2m4p restarted", "redis-2 is leader", "fluentd-x2x9z lagging"},
			},
			second: resumeCorpus{
				setup:    func(a *Anonymizer) { a.AddWorkloads("redis", "fluentd") },
				entities: [][3]string{{"node", "host", "worker-node-20"}, {"pod", "pod", "ledger-sync-1"}, {"service", "service", "checkout"}},
				texts: []string{
					"search-0 ready on worker-node-19", // search: a workload learned last night
					"ledger-sync-0 evicted; edge7 drained",
					"redis-2 and fluentd-x2x9z and search-6b7c9d8f5-k2m4p",
				},
				batch: []string{"worker-node-19 NotReady", "search-1 started", "ledger-sync-0 ok", "checkout-7d9f8b6c5-x2x9z up", "checkout-0 up"},
			},
			gone: []string{"worker-node-19", "ledger-sync-0", "search-0", "edge7"},
		},
		{
			name:   "host domains and short names",
			policy: spec.Anonymize{HostDomains: []string{"prod.acme.internal", ".corp.example.com"}},
			first: resumeCorpus{
				texts: []string{
					"connect to db7.prod.acme.internal:5432 ok",
					"GET https://api9.corp.example.com/v1 200",
					"see docs.acme.com and build42.ci.example.org",
					"worker-2.prod.acme.internal joined",
				},
			},
			second: resumeCorpus{
				texts: []string{
					"db7 is slow, api9 too; build42 green",
					"peer x_worker-2.prod.acme.internal refused",
					"DB7.PROD.ACME.INTERNAL restarted",
					"db8.prod.acme.internal new",
				},
				batch: []string{"db7 again", "db8 again", "worker-2 idle", "api9 ok", "build42 flaky"},
			},
			gone: []string{"db7", "api9"},
		},
		{
			name:   "addresses and e-mails, ip_prefix in text",
			policy: spec.Anonymize{Text: spec.TextPolicy{IPs: "ip_prefix", UUIDs: "pseudonymize"}},
			first: resumeCorpus{
				texts: []string{
					"client=10.9.8.7 from [2001:db8::5]:443 mail alice@acme.example",
					"dial tcp 10.2.3.4:5432: refused",
					"nic 00:1A:2b:3c:4d:5e up; req 123e4567-e89b-12d3-a456-426614174000",
				},
			},
			second: resumeCorpus{
				texts: []string{
					"again 10.9.8.7 and 10.2.3.4:5432 and 2001:db8::5",
					"mail carol@acme.example and bob@acme.example",
					"mac 00-1a-2b-3c-4d-5e, req 123e4567-e89b-12d3-a456-426614174000",
				},
				batch:  []string{"10.9.8.7 ok", "10.2.3.4 ok", "new 10.7.7.7", "10.7.7.7 again"},
				probes: []string{"leaked 10.9.8.7:443", "ALICE@acme.example", "2001:DB8:0::5", "bob@acme.example", "10.9.8.70"},
			},
		},
		{
			name:   "addresses and e-mails, redacted",
			policy: spec.Anonymize{},
			first: resumeCorpus{
				texts: []string{"client=10.9.8.7 from [2001:db8::5]:443 mail alice@acme.example", "allow 10.0.0.0/8"},
			},
			second: resumeCorpus{
				texts:  []string{"again 10.9.8.7, carol@acme.example"},
				batch:  []string{"10.9.8.7 ok", "dave@acme.example"},
				probes: []string{"leaked 10.9.8.7:443", "ALICE@acme.example", "2001:DB8:0::5", "carol@acme.example", "10.9.8.70"},
			},
		},
		{
			name:   "secrets, weak values and vocabulary",
			policy: spec.Anonymize{LogFields: map[string]string{"user": "user"}},
			first: resumeCorpus{
				setup: func(a *Anonymizer) { a.AddVocabulary("cpu_seconds_total", "queue-depth") },
				fields: []map[string]string{
					{"user": "window"}, {"user": "queue"}, {"user": "depth"}, {"user": "svc_builder9"},
				},
				texts: []string{
					"db_credentials=Zx9Qw8Er7Ty6Ui5Op4 rejected",
					"push with ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5 failed",
					"login with password hunter2!x denied",
					"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
					"aws key AKIAIOSFODNN7EXAMPLE in env",
					"clone https://heidi:s3cr3tpw@git.corp.local/repo.git",
					"session closed user=total",
					"open /home/erin/.ssh/id_rsa: denied",
				},
			},
			second: resumeCorpus{ // the vocabulary is the state's: not declared again
				fields: []map[string]string{{"user": "window"}, {"user": "seconds"}, {"user": "svc_tester3"}},
				texts: []string{
					"retry with Zx9Qw8Er7Ty6Ui5Op4 for svc_builder9",
					"window closed; queue depth 3; total 9 cpu seconds", // weak values stay
					"ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5 and hunter2!x leaked; erin too",
				},
				batch: []string{"Zx9Qw8Er7Ty6Ui5Op4", "api_credential=Q1w2E3r4T5y6U7i8 set", "Q1w2E3r4T5y6U7i8 bare", "svc_builder9 ran"},
			},
			gone: []string{"Zx9Qw8Er7Ty6Ui5Op4", "svc_builder9", "hunter2!x", "erin"},
		},
		{
			name:   "raw values that are not UTF-8",
			policy: spec.Anonymize{LogFields: map[string]string{"user": "user"}},
			first: resumeCorpus{
				fields: []map[string]string{{"user": "op\xff\xfebob9"}},
				texts:  []string{"user=\xaa\xd3carol7 logged in", "db_credentials=Zx9\xffQw8Er7Ty6Ui5 rejected"},
			},
			second: resumeCorpus{
				texts: []string{"op\xff\xfebob9 and \xaa\xd3carol7 again", "retry Zx9\xffQw8Er7Ty6Ui5"},
				batch: []string{"op\xff\xfebob9", "\xaa\xd3carol7 left"},
			},
			gone: []string{"op\xff\xfebob9", "\xaa\xd3carol7", "Zx9\xffQw8Er7Ty6Ui5"},
		},
		{
			name:   "text index across rebuilds",
			policy: spec.Anonymize{Labels: map[string]string{"instance": "host"}},
			first: resumeCorpus{
				learn: bulkHosts(0, 1500), // base 1024, 476 in the trie
				texts: []string{"cache00007x and cache01499x"},
			},
			second: resumeCorpus{
				learn: bulkHosts(1500, 1200), // the next rebuild, at 2048
				texts: []string{"cache00007x cache01100x cache01499x cache02000x cache02699x", "CACHE00123X.cache00124x"},
				batch: []string{"cache01024x", "cache00001x", "cache02600x"},
			},
			gone: []string{"cache00007x", "cache01100x", "cache01499x"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTest(t, tc.policy)
			feed(a, tc.first)
			st := marshal(t, a)
			if again := marshal(t, a); !bytes.Equal(st, again) {
				t.Fatal("MarshalState twice: different bytes")
			}
			b := newTest(t, tc.policy)
			if err := b.RestoreState(st); err != nil {
				t.Fatal(err)
			}
			if got := marshal(t, b); !bytes.Equal(got, st) {
				t.Fatal("MarshalState of the restored anonymizer differs from the state it restored")
			}
			if a.idx.baseN != b.idx.baseN || len(a.idx.pendEntries) != len(b.idx.pendEntries) {
				t.Fatalf("text index: base %d pend %d, restored base %d pend %d", a.idx.baseN, len(a.idx.pendEntries), b.idx.baseN, len(b.idx.pendEntries))
			}
			if g, w := b.Report(), a.Report(); !reflect.DeepEqual(g, w) {
				t.Fatalf("restored report %v, want %v", g, w)
			}

			outA := feed(a, tc.second)
			outB := feed(b, tc.second)
			if len(outA) != len(outB) {
				t.Fatalf("%d outputs, resumed %d", len(outA), len(outB))
			}
			for i := range outA {
				if outA[i] != outB[i] {
					t.Errorf("output %d:\n resumed %q\n    want %q", i, outB[i], outA[i])
				}
			}
			fresh := newTest(t, tc.policy)
			outF := feed(fresh, tc.second)
			if reflect.DeepEqual(outF, outA) {
				t.Error("a fresh anonymizer gives the same outputs: the first night changes nothing, the case is not real")
			}
			for _, g := range tc.gone {
				if !strings.Contains(strings.Join(outF, "\n"), g) {
					t.Errorf("test setup: %q is not in a fresh anonymizer's outputs", g)
				}
				if strings.Contains(strings.Join(outB, "\n"), g) {
					t.Errorf("%q of the first night survived in the resumed outputs", g)
				}
			}

			if g, w := b.Report(), a.Report(); !reflect.DeepEqual(g, w) {
				t.Errorf("report %v, want %v", g, w)
			}
			if g, w := b.ReportDoc(), a.ReportDoc(); !reflect.DeepEqual(g, w) {
				t.Errorf("report doc %+v, want %+v", g, w)
			}
			if g, w := b.Inventory(), a.Inventory(); !reflect.DeepEqual(g, w) {
				t.Errorf("inventory differs: %d values, want %d", len(g), len(w))
			}
			dir := stageVersion(t, append(corpusInputs(tc.first), corpusInputs(tc.second)...), outA)
			leaksA, err := a.ScanDir(context.Background(), dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			leaksB, err := b.ScanDir(context.Background(), dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(leaksA) == 0 {
				t.Error("test setup: the staged version holds no leak")
			}
			if !reflect.DeepEqual(leaksA, leaksB) {
				t.Errorf("ScanDir: resumed %v, want %v", leaksB, leaksA)
			}
			if g, w := marshal(t, b), marshal(t, a); !bytes.Equal(g, w) {
				t.Error("after the second night the states differ")
				diffStates(t, marshal(t, b), marshal(t, a))
			}
			if len(a.matchItems) != len(b.matchItems) || a.idx.baseN != b.idx.baseN || len(a.idx.pendEntries) != len(b.idx.pendEntries) {
				t.Errorf("text index after the second night: %d values, base %d pend %d; resumed %d values, base %d pend %d",
					len(a.matchItems), a.idx.baseN, len(a.idx.pendEntries), len(b.matchItems), b.idx.baseN, len(b.idx.pendEntries))
			}
		})
	}
}

// A new anonymizer's state restores too, and vocabulary and workloads
// declared before the restore join the state's.
func TestRestoreStateEmptyAndDeclaredFirst(t *testing.T) {
	a := newTest(t, spec.Anonymize{})
	st := marshal(t, a)
	b := newTest(t, spec.Anonymize{})
	if err := b.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	if got := marshal(t, b); !bytes.Equal(got, st) {
		t.Fatal("empty state: restored state differs")
	}

	a.AddVocabulary("queue_depth")
	a.AddWorkloads("redis")
	a.Text("user=sentinel7 on redis-0")
	st = marshal(t, a)
	c := newTest(t, spec.Anonymize{})
	c.AddVocabulary("queue_depth")
	c.AddWorkloads("redis")
	if err := c.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	if got := marshal(t, c); !bytes.Equal(got, st) {
		t.Fatal("declaring the state's own words before the restore changes the state")
	}
}

func TestRestoreStateRefuses(t *testing.T) {
	raw := []string{"sentinel7", "db7.prod.acme.internal", "Zx9Qw8Er7Ty6Ui5Op4", "10.9.8.7", "alice@acme.example"}
	policy := spec.Anonymize{HostDomains: []string{"prod.acme.internal"}}
	a := newTest(t, policy)
	a.Text("user=sentinel7 on db7.prod.acme.internal token=Zx9Qw8Er7Ty6Ui5Op4 from 10.9.8.7 alice@acme.example")
	st := marshal(t, a)
	otherKey, err := New([]byte("another-key-of-16-bytes"), policy, "service")
	if err != nil {
		t.Fatal(err)
	}
	used := newTest(t, policy)
	used.Text("user=someone")
	v2 := bytes.Replace(st, []byte(stateMagic+"1\n"), []byte(stateMagic+"2\n"), 1)
	cases := []struct {
		name  string
		into  *Anonymizer
		state []byte
		is    error
		says  []string
	}{
		{"another key", otherKey, st, ErrStateKey, []string{"another key", Epoch(testKey), Epoch([]byte("another-key-of-16-bytes"))}},
		{"another format version", newTest(t, policy), v2, ErrStateVersion, []string{"format version 2", "reads version 1"}},
		{"another policy", newTest(t, spec.Anonymize{HostDomains: []string{"corp.example.com"}}), st, ErrStatePolicy, []string{"policy"}},
		{"another entity label", mustNew(t, policy, "job"), st, ErrStatePolicy, []string{"entity label"}},
		{"used anonymizer", used, st, ErrStateBusy, []string{"new anonymizer"}},
		{"not a state", newTest(t, policy), []byte("hello"), ErrStateFormat, nil},
		{"empty", newTest(t, policy), nil, ErrStateFormat, nil},
		{"truncated", newTest(t, policy), st[:len(st)/2], ErrStateFormat, nil},
		{"trailing bytes", newTest(t, policy), append(append([]byte(nil), st...), 0x01, 0x02), ErrStateFormat, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := marshal(t, tc.into)
			err := tc.into.RestoreState(tc.state)
			if !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			for _, r := range raw {
				if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(r)) {
					t.Errorf("error %q quotes a raw value", err)
				}
			}
			if after := marshal(t, tc.into); !bytes.Equal(before, after) {
				t.Error("a refused restore changed the anonymizer")
			}
		})
	}

	t.Run("open batch", func(t *testing.T) {
		x := newTest(t, policy)
		bt := x.NewBatch()
		defer bt.End()
		if _, err := x.MarshalState(); !errors.Is(err, ErrStateBusy) {
			t.Errorf("MarshalState during a batch: %v, want %v", err, ErrStateBusy)
		}
		if err := x.RestoreState(st); !errors.Is(err, ErrStateBusy) {
			t.Errorf("RestoreState during a batch: %v, want %v", err, ErrStateBusy)
		}
	})
}

func mustNew(t *testing.T, p spec.Anonymize, entityLabel string) *Anonymizer {
	t.Helper()
	a, err := New(testKey, p, entityLabel)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The state is sealed like the template miner's: it opens under the same
// key only, and restores after the round trip.
func TestStateSealRoundTrip(t *testing.T) {
	a := newTest(t, textPolicy)
	a.Text("user=sentinel7 on db7.prod.acme.internal")
	st := marshal(t, a)
	sealed, err := a.Seal("anonymizer-state", st)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("sentinel7")) {
		t.Fatal("sealed state holds a raw value")
	}
	b := newTest(t, textPolicy)
	plain, err := b.Unseal("anonymizer-state", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RestoreState(plain); err != nil {
		t.Fatal(err)
	}
	if got, want := b.Text("sentinel7 and db7 again"), a.Text("sentinel7 and db7 again"); got != want {
		t.Fatalf("resumed %q, want %q", got, want)
	}
}

// diffStates names the parts of two states that differ (never their values).
func diffStates(t *testing.T, x, y []byte) {
	t.Helper()
	decode := func(b []byte) stateV1 {
		var s stateV1
		if p, err := stateBody(b); err != nil || gob.NewDecoder(bytes.NewReader(p)).Decode(&s) != nil {
			t.Fatal("undecodable state")
		}
		return s
	}
	vx, vy := reflect.ValueOf(decode(x)), reflect.ValueOf(decode(y))
	for i := 0; i < vx.NumField(); i++ {
		if !reflect.DeepEqual(vx.Field(i).Interface(), vy.Field(i).Interface()) {
			t.Errorf("state part %s differs", vx.Type().Field(i).Name)
		}
	}
}

// BenchmarkStateRoundTrip: a night's worth of learning (300k hosts found
// by shape, 50k matcher values, 1M redacted addresses) marshalled and
// restored.
func BenchmarkStateRoundTrip(b *testing.B) {
	p := spec.Anonymize{HostDomains: []string{"prod.acme.internal"}}
	a := newTest(b, p)
	for i := 0; i < 300_000; i++ {
		a.learnFound(nil, TypeHost, fmt.Sprintf("checkout-%07d.prod.acme.internal", i))
	}
	for i := 0; i < 50_000; i++ {
		a.Learn("job", fmt.Sprintf("batch-job-%06dx", i))
	}
	for i := 0; i < 1_000_000; i++ {
		a.learnRedacted(nil, fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255), RedactedIP)
	}
	b.ResetTimer()
	var n int
	for i := 0; i < b.N; i++ {
		st, err := a.MarshalState()
		if err != nil {
			b.Fatal(err)
		}
		n = len(st)
		r := newTest(b, p)
		if err := r.RestoreState(st); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/(1<<20), "state-MiB")
}
