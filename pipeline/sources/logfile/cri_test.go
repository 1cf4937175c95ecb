package logfile

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/pipeline"
)

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// writeTree writes files at paths relative to a temporary root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const (
	checkoutPod = "var/log/pods/shop_checkout-7d9f8b6c5-x2x9z_0c6b5b9e-2f1a-4c7e-9d1a-5b2e8f3c4d21/app/0.log"
	ctrID       = "4f8a2c9e1b7d3f6a0c5e8b2d9f1a4c7e3b6d0f9a2c5e8b1d4f7a0c3e6b9d2f5a"
)

func TestCRI(t *testing.T) {
	long := strings.Repeat("x", 40)
	// Entries begin with the application's own date (multiline).
	dated := Config{Multiline: Multiline{Start: `^\d{4}-\d{2}-\d{2} `}}
	tests := []struct {
		name    string
		cfg     Config
		files   map[string]string
		glob    string
		want    []string
		reasons map[string]int64
	}{
		{
			name: "full lines: text, JSON and klog content",
			files: map[string]string{checkoutPod: "" +
				"2026-01-05T10:00:00.000000001Z stdout F plain text line\n" +
				`2026-01-05T10:00:01.5Z stderr F {"level":"error","msg":"payment failed","time":"2020-01-01T00:00:00Z"}` + "\n" +
				"2026-01-05T10:00:02+00:00 stderr F W0105 10:00:02.123456       1 reflector.go:424] watch closed\n" +
				"2026-01-05T10:00:03Z stdout F \n" +
				"2026-01-05T10:00:04Z stdout F {not json\n"},
			want: []string{
				`2026-01-05T10:00:00.000000001Z checkout other 0.log:1 "plain text line"`,
				`2026-01-05T10:00:01.5Z checkout error 0.log:2 "payment failed"`,
				`2026-01-05T10:00:02Z checkout warn 0.log:3 "watch closed"`,
				`2026-01-05T10:00:03Z checkout other 0.log:4 ""`,
				`2026-01-05T10:00:04Z checkout other 0.log:5 "{not json"`,
			},
		},
		{
			name: "partial lines joined per stream",
			files: map[string]string{checkoutPod: "" +
				"2026-01-05T10:00:00Z stdout P first half " + long + "\n" +
				"2026-01-05T10:00:00.1Z stderr F complete on stderr\n" +
				"2026-01-05T10:00:00.2Z stdout P , more\n" +
				"2026-01-05T10:00:00.3Z stdout F , end\n" +
				"2026-01-05T10:00:01Z stdout P:x tagged\n" +
				"2026-01-05T10:00:01Z stdout F:x  too\n" +
				"2026-01-05T10:00:02Z stderr P ends with an empty full line\n" +
				"2026-01-05T10:00:02Z stderr F\n"},
			want: []string{
				`2026-01-05T10:00:00.1Z checkout other 0.log:2 "complete on stderr"`,
				`2026-01-05T10:00:00.3Z checkout other 0.log:1 "first half ` + long + `, more, end"`,
				`2026-01-05T10:00:01Z checkout other 0.log:5 "tagged too"`,
				`2026-01-05T10:00:02Z checkout other 0.log:7 "ends with an empty full line"`,
			},
		},
		{
			name: "file ends inside a partial line",
			files: map[string]string{checkoutPod: "" +
				"2026-01-05T10:00:00Z stdout F done\n" +
				"2026-01-05T10:00:01Z stdout P cut by rotation\n"},
			want: []string{
				`2026-01-05T10:00:00Z checkout other 0.log:1 "done"`,
				`2026-01-05T10:00:01Z checkout other 0.log:2 "cut by rotation"`,
			},
			reasons: map[string]int64{reasonUnfinishedCRI: 1},
		},
		{
			name: "malformed lines are counted",
			files: map[string]string{checkoutPod: "" +
				"2026-01-05T10:00:00Z stdout F ok\n" +
				"2026-01-05T10:00:01Z stdin F wrong stream\n" +
				"2026-01-05T10:00:02Z stdout X wrong tag\n" +
				"yesterday stdout F bad time\n" +
				"no header at all\n"},
			want:    []string{`2026-01-05T10:00:00Z checkout other 0.log:1 "ok"`},
			reasons: map[string]int64{reasonInvalidCRI: 3, reasonBadTime: 1},
		},
		{
			name: "rotated and compressed files beside the live one",
			files: map[string]string{
				checkoutPod:                         "2026-01-05T10:00:02Z stdout F live\n",
				checkoutPod + ".20260105-100001.gz": gzipped(t, "2026-01-05T10:00:00Z stdout F rotated\n"),
			},
			glob: "var/log/pods/*/*/*.log*",
			want: []string{
				`2026-01-05T10:00:00Z checkout other 0.log.20260105-100001.gz:1 "rotated"`,
				`2026-01-05T10:00:02Z checkout other 0.log:1 "live"`,
			},
		},
		{
			name:  "entity from the path: namespace",
			cfg:   Config{EntityFromPath: "namespace"},
			files: map[string]string{checkoutPod: "2026-01-05T10:00:00Z stdout F a\n"},
			want:  []string{`2026-01-05T10:00:00Z shop other 0.log:1 "a"`},
		},
		{
			name: "containers layout: pod, the directories the glob matches skipped",
			cfg:  Config{EntityFromPath: "pod"},
			files: map[string]string{
				"var/log/containers/web-0_shop_nginx-" + ctrID + ".log": "2026-01-05T10:00:01Z stdout F b\n",
				"var/log/containers/old/x.log":                          "",
			},
			glob: "var/log/containers/*",
			want: []string{`2026-01-05T10:00:01Z web-0 other web-0_shop_nginx-` + ctrID + `.log:1 "b"`},
		},
		{
			name: "containers layout: workload of a StatefulSet pod",
			files: map[string]string{
				"var/log/containers/web-0_shop_nginx-" + ctrID + ".log": "2026-01-05T10:00:01Z stdout F b\n",
			},
			glob: "var/log/containers/*.log",
			want: []string{`2026-01-05T10:00:01Z web other web-0_shop_nginx-` + ctrID + `.log:1 "b"`},
		},
		{
			name: "multiline: a stack trace over full lines, ended by the other stream",
			cfg:  dated,
			files: map[string]string{checkoutPod: "" +
				"2026-01-05T10:00:00Z stdout F 2026-01-05 10:00:00 ERROR request failed\n" +
				"2026-01-05T10:00:00.1Z stdout F java.lang.IllegalStateException: cart 42 is locked\n" +
				"2026-01-05T10:00:00.2Z stdout F \tat com.shop.cart.CartService.lock(CartService.java:118)\n" +
				"2026-01-05T10:00:00.3Z stdout F \n" +
				"2026-01-05T10:00:00.4Z stderr F 2026-01-05 10:00:00 WARN on stderr\n" +
				"2026-01-05T10:00:00.5Z stdout F \tat com.shop.checkout.Checkout.run(Checkout.java:57)\n" +
				"2026-01-05T10:00:01Z stdout F 2026-01-05 10:00:01 INFO next entry\n"},
			want: []string{
				`2026-01-05T10:00:00Z checkout other 0.log:1 ` + quote("2026-01-05 10:00:00 ERROR request failed\njava.lang.IllegalStateException: cart 42 is locked\n\tat com.shop.cart.CartService.lock(CartService.java:118)"),
				`2026-01-05T10:00:00.4Z checkout other 0.log:5 "2026-01-05 10:00:00 WARN on stderr"`,
				`2026-01-05T10:00:00.5Z checkout other 0.log:6 ` + quote("\tat com.shop.checkout.Checkout.run(Checkout.java:57)"),
				`2026-01-05T10:00:01Z checkout other 0.log:7 "2026-01-05 10:00:01 INFO next entry"`,
			},
		},
		{
			name: "multiline: a partial line inside a trace, a partial line at the end",
			cfg:  dated,
			files: map[string]string{checkoutPod: "" +
				"2026-01-05T10:00:00Z stdout F 2026-01-05 10:00:00 ERROR boom\n" +
				"2026-01-05T10:00:00.1Z stdout P \tat com.shop.Very\n" +
				"2026-01-05T10:00:00.2Z stdout F Long.method(X.java:1)\n" +
				"2026-01-05T10:00:01Z stdout F 2026-01-05 10:00:01 INFO next\n" +
				"2026-01-05T10:00:02Z stdout P 2026-01-05 10:00:02 INFO cut\n"},
			want: []string{
				`2026-01-05T10:00:00Z checkout other 0.log:1 ` + quote("2026-01-05 10:00:00 ERROR boom\n\tat com.shop.VeryLong.method(X.java:1)"),
				`2026-01-05T10:00:01Z checkout other 0.log:4 "2026-01-05 10:00:01 INFO next"`,
				`2026-01-05T10:00:02Z checkout other 0.log:5 "2026-01-05 10:00:02 INFO cut"`,
			},
			reasons: map[string]int64{reasonUnfinishedCRI: 1},
		},
		{
			name:  "container",
			cfg:   Config{EntityFromPath: "container"},
			files: map[string]string{checkoutPod: "2026-01-05T10:00:00Z stdout F a\n"},
			want:  []string{`2026-01-05T10:00:00Z app other 0.log:1 "a"`},
		},
		{
			name:  "a JSON entity field wins over the path",
			cfg:   Config{Fields: LogFields{Entity: "svc"}},
			files: map[string]string{checkoutPod: `2026-01-05T10:00:00Z stdout F {"svc":"payments","message":"m"}` + "\n" + `2026-01-05T10:00:01Z stdout F {"message":"n"}` + "\n"},
			want: []string{
				`2026-01-05T10:00:00Z payments other 0.log:1 "m"`,
				`2026-01-05T10:00:01Z checkout other 0.log:2 "n"`,
			},
		},
		{
			name:    "not a pod log path, no entity",
			files:   map[string]string{"logs/app.log": "2026-01-05T10:00:00Z stdout F a\n"},
			glob:    "logs/*.log",
			reasons: map[string]int64{reasonMissingEntity: 1},
		},
		{
			name:    "a directory with two '_' in its name is not a pod's",
			files:   map[string]string{"srv/billing_api_v2/worker/app.log": "2026-01-05T10:00:00Z stdout F a\n"},
			glob:    "srv/*/*/*.log",
			reasons: map[string]int64{reasonMissingEntity: 1},
		},
		{
			name:  "a static pod's config hash as its uid",
			cfg:   Config{EntityFromPath: "pod"},
			files: map[string]string{"var/log/pods/kube-system_etcd-node-1_9f1b2c3d4e5f60718293a4b5c6d7e8f9/etcd/0.log": "2026-01-05T10:00:00Z stderr F a\n"},
			want:  []string{`2026-01-05T10:00:00Z etcd-node-1 other 0.log:1 "a"`},
		},
		{
			name:  "not a pod log path, fixed entity",
			cfg:   Config{Entity: "edge"},
			files: map[string]string{"logs/app.log": "2026-01-05T10:00:00Z stdout F a\n"},
			glob:  "logs/*.log",
			want:  []string{`2026-01-05T10:00:00Z edge other app.log:1 "a"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := writeTree(t, tc.files)
			cfg := tc.cfg
			cfg.Name, cfg.Format = "pods", FormatCRI
			glob := tc.glob
			if glob == "" {
				glob = "var/log/pods/*/*/*.log"
			}
			cfg.Path = filepath.Join(root, filepath.FromSlash(glob))
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, ex := range expectRecords(t, cfg, tc.want, tc.reasons) {
				if strings.Contains(ex, "wrong") || strings.Contains(ex, "yesterday") {
					t.Errorf("example %q quotes the line", ex)
				}
			}
		})
	}
}

// TestCRIPartialOverMaxLine: joined partials stop at MaxLineBytes, at a
// character boundary, and the cut is counted.
func TestCRIPartialOverMaxLine(t *testing.T) {
	var b strings.Builder
	chunk := strings.Repeat("é", 8<<10) // 16 KiB, the runtime's usual split
	n := 0
	for ; n*len(chunk) <= MaxLineBytes; n++ {
		b.WriteString("2026-01-05T10:00:00Z stdout P " + chunk + "\n")
	}
	b.WriteString("2026-01-05T10:00:00Z stdout F x!\n2026-01-05T10:00:01Z stdout F next\n")
	root := writeTree(t, map[string]string{checkoutPod: b.String()})
	problems := &pipeline.Problems{}
	recs := readAll(t, Config{Name: "pods", Format: FormatCRI, Path: filepath.Join(root, checkoutPod)}, problems)
	if len(recs) != 2 || recs[1].Message != "next" || recs[1].Line != int64(n+2) {
		t.Fatalf("got %d records, want the joined one and the next at line %d", len(recs), n+2)
	}
	m := recs[0].Message
	if len(m) > MaxLineBytes || len(m) < MaxLineBytes-1 || !strings.HasPrefix(m, "éé") || strings.ContainsRune(m, '\uFFFD') {
		t.Errorf("joined message of %d bytes, want %d cut between characters", len(m), MaxLineBytes)
	}
	if got := problems.Report()["log:pods"].Reasons[reasonTooLong]; got != 1 {
		t.Errorf("line_too_long = %d, want 1", got)
	}
}

func TestWorkloadOf(t *testing.T) {
	for pod, want := range map[string]string{
		"checkout-7d9f8b6c5-x2x9z":    "checkout",
		"cart-api-5f6b7c8d9b-q7wzt":   "cart-api",
		"fluentd-x2x9z":               "fluentd",
		"web-0":                       "web",
		"kafka-broker-12":             "kafka-broker",
		"redis-cache":                 "redis-cache", // vowels: a name, not a suffix
		"etcd-master-1a":              "etcd-master-1a",
		"coredns":                     "coredns",
		"kube-apiserver-ip-10-0-1-23": "kube-apiserver-ip-10-0-1-23", // a static pod, named after its node
	} {
		if got := workloadOf(pod); got != want {
			t.Errorf("workloadOf(%q) = %q, want %q", pod, got, want)
		}
	}
}

func TestCRIConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Format: FormatCRI, Path: "*", EntityFromPath: "node"}, "entity_from_path: \"node\" must be one of workload, namespace, pod, container"},
		{Config{Format: FormatJSONL, Path: "*", EntityFromPath: "pod"}, "entity_from_path: only for format cri"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
