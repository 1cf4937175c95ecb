package anonymize

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"go.uber.org/goleak"

	"github.com/opsdata/opsdata/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testKey = []byte("0123456789abcdef-test-key")

func newTest(t testing.TB, p spec.Anonymize) *Anonymizer {
	t.Helper()
	a, err := New(testKey, p, "service")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var pseudoRe = regexp.MustCompile(`^[a-z_]+-[0-9a-f]{12}$`)

func TestPseudonym(t *testing.T) {
	a := newTest(t, spec.Anonymize{})
	b, err := New([]byte("another-key-of-16-bytes"), spec.Anonymize{}, "service")
	if err != nil {
		t.Fatal(err)
	}
	p := a.Pseudonym("host", "worker-1.x")
	if !pseudoRe.MatchString(p) || !strings.HasPrefix(p, "host-") {
		t.Fatalf("pseudonym %q is not host-<12 hex>", p)
	}
	tests := []struct {
		name  string
		x, y  string
		equal bool
	}{
		{"stable", a.Pseudonym("host", "worker-1.x"), p, true},
		{"host case and space", a.Pseudonym("host", "  WORKER-1.x "), p, true},
		{"user case", a.Pseudonym("user", "Alice"), a.Pseudonym("user", "alice"), true},
		{"email case", a.Pseudonym("email", "Bob@Example.com"), a.Pseudonym("email", "bob@example.com"), true},
		{"pod case", a.Pseudonym("pod", "API-0"), a.Pseudonym("pod", "api-0"), true},
		{"ip canonical v6", a.Pseudonym("ip", "2001:DB8:0:0::1"), a.Pseudonym("ip", "2001:db8::1"), true},
		{"ip mapped v4", a.Pseudonym("ip", "::ffff:10.0.0.1"), a.Pseudonym("ip", "10.0.0.1"), true},
		{"other types keep case", a.Pseudonym("job", "API"), a.Pseudonym("job", "api"), false},
		{"type separation", a.Pseudonym("user", "worker-1.x"), a.Pseudonym("host", "worker-1.x"), false},
		{"key sensitivity", b.Pseudonym("host", "worker-1.x"), p, false},
		{"different values", a.Pseudonym("host", "worker-2.x"), p, false},
	}
	for _, tc := range tests {
		if (tc.x == tc.y) != tc.equal {
			t.Errorf("%s: %q vs %q, want equal=%v", tc.name, tc.x, tc.y, tc.equal)
		}
	}
	if got := a.Pseudonym("host", "  "); got != "" {
		t.Errorf("empty value: got %q", got)
	}
}

func TestEpoch(t *testing.T) {
	e := Epoch(testKey)
	if len(e) != 16 || strings.Contains(e, string(testKey)) {
		t.Fatalf("epoch %q", e)
	}
	if Epoch(testKey) != e || Epoch([]byte("another-key-of-16-bytes")) == e {
		t.Fatal("epoch must be stable per key and differ between keys")
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hexKey := strings.Repeat("ab", 32)
	rawKey := "a-long-enough-raw-secret"
	t.Setenv("OPSDATA_TEST_KEY", "  "+rawKey+"\n")
	t.Setenv("OPSDATA_TEST_EMPTY", " ")
	t.Setenv("OPSDATA_TEST_SHORT", "short-secret")
	tests := []struct {
		name    string
		k       spec.Key
		want    []byte
		wantErr string
	}{
		{"hex file", spec.Key{File: write("hex", hexKey+"\n")}, []byte(strings.Repeat("\xab", 32)), ""},
		{"raw file", spec.Key{File: write("raw", rawKey)}, []byte(rawKey), ""},
		{"short hex is raw", spec.Key{File: write("h2", "abababababababababab")}, []byte("abababababababababab"), ""},
		{"env", spec.Key{Env: "OPSDATA_TEST_KEY"}, []byte(rawKey), ""},
		{"both", spec.Key{File: "x", Env: "Y"}, nil, "not both"},
		{"neither", spec.Key{}, nil, "set file or env"},
		{"missing file", spec.Key{File: filepath.Join(dir, "nope")}, nil, "no such file"},
		{"empty file", spec.Key{File: write("empty", "\n")}, nil, "is empty"},
		{"unset env", spec.Key{Env: "OPSDATA_TEST_UNSET_XYZ"}, nil, "is not set"},
		{"empty env", spec.Key{Env: "OPSDATA_TEST_EMPTY"}, nil, "is empty"},
		{"short env", spec.Key{Env: "OPSDATA_TEST_SHORT"}, nil, "need at least 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadKey(tc.k)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrKey) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				for _, secret := range []string{rawKey, "short-secret"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error leaks the key: %v", err)
					}
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestNewRejectsShortKey(t *testing.T) {
	if _, err := New([]byte("short"), spec.Anonymize{}, "service"); !errors.Is(err, ErrKey) {
		t.Fatalf("err = %v", err)
	}
}

func TestLabels(t *testing.T) {
	a := newTest(t, spec.Anonymize{
		Labels: map[string]string{"instance": "instance", "node": "host"},
		Keep:   []string{"job", "le"},
	})
	in := labels.FromStrings(
		"__name__", "http_requests_total", "service", "checkout", "job", "api",
		"le", "0.5", "instance", "10.1.2.3:9100", "node", "Worker-1.prod",
		"pod", "checkout-7d9f", "team", "", "region", "eu-west-1",
	)
	got := a.Labels(in)
	want := map[string]string{
		"__name__": "http_requests_total", "service": "checkout", "job": "api", "le": "0.5",
		"instance": a.Pseudonym("instance", "10.1.2.3:9100"),
		"node":     a.Pseudonym("host", "worker-1.prod"),
		"pod":      a.Pseudonym("pod", "checkout-7d9f"),
		"team":     "",
		"region":   a.Pseudonym("region", "eu-west-1"), // unmentioned: own name as type
	}
	if got.Len() != len(want) {
		t.Fatalf("got %d labels: %s", got.Len(), got)
	}
	for k, v := range want {
		if g := got.Get(k); g != v {
			t.Errorf("%s = %q, want %q", k, g, v)
		}
	}
	if !strings.HasPrefix(got.Get("region"), "region-") {
		t.Errorf("region pseudonym %q", got.Get("region"))
	}
	inv := a.Inventory()
	for _, v := range []string{"10.1.2.3:9100", "Worker-1.prod", "checkout-7d9f", "eu-west-1"} {
		if !contains(inv, v) {
			t.Errorf("inventory lacks %q: %q", v, inv)
		}
	}
	for _, v := range []string{"checkout", "api", "0.5"} {
		if contains(inv, v) {
			t.Errorf("inventory holds kept value %q", v)
		}
	}
	// The learned pod name is scrubbed from free text from now on.
	if got := a.Text("restarting checkout-7d9f now"); got != "restarting "+a.Pseudonym("pod", "checkout-7d9f")+" now" {
		t.Errorf("Text = %q", got)
	}
	rep := a.Report()
	if rep["label:region"] != 1 || rep["label:host"] != 1 || rep["pseudonymize:pod"] != 1 {
		t.Errorf("report %v", rep)
	}
}

func TestFields(t *testing.T) {
	a := newTest(t, spec.Anonymize{LogFields: map[string]string{"hostname": "host", "uid": "user"}})
	in := map[string]string{"hostname": "DB-1", "uid": "", "msg": "hello DB-1"}
	got := a.Fields(in)
	want := map[string]string{"hostname": a.Pseudonym("host", "db-1"), "uid": "", "msg": "hello DB-1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if in["hostname"] != "DB-1" {
		t.Fatal("input map modified")
	}
	if a.Fields(nil) != nil {
		t.Fatal("nil map")
	}
	// Case-insensitive in text for hosts.
	if got := a.Text("connect to db-1 failed"); got != "connect to "+want["hostname"]+" failed" {
		t.Fatalf("Text = %q", got)
	}
}

func TestInventory(t *testing.T) {
	a := newTest(t, spec.Anonymize{Canaries: []string{"CANARY-7f3a", "CANARY-7f3a", "zz"}})
	a.Learn("host", "zeta.example")
	a.Learn("host", "alpha.example")
	a.Learn("code", "200")    // numeric: not an identity
	a.Learn("job", "abc")     // too short
	a.Learn("svc", "beef")    // short hex: occurs in digests
	a.Learn("job", "host")    // a pseudonym type prefix
	a.Learn("x", "redacted")  // part of a placeholder
	a.Learn("ip", "10.0.0.1") // addresses count
	a.Learn("host", "  ")     // empty: ignored
	a.learnRedacted(nil, "bob@example.com", RedactedEmail)
	// Detector-redacted e-mails and addresses are checked by CoveredScan,
	// not listed in the inventory (there may be millions).
	want := []string{"10.0.0.1", "CANARY-7f3a", "alpha.example", "zeta.example", "zz"}
	if got := a.Inventory(); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if _, ok := a.CoveredScan([]byte("mail to BOB@example.com now")); !ok {
		t.Fatal("CoveredScan misses a redacted e-mail")
	}
	// The inventory is remembered from the last build and follows every
	// change after it, including a word that makes a value weak.
	for i, change := range []func(){
		func() {},
		func() { a.Learn("host", "omega.example") },
		func() { a.learnRedacted(nil, "secret-token-value", RedactedSecret) },
		func() { a.AddVocabulary("omega.example") },
	} {
		before := len(a.Inventory())
		change()
		want, _ := a.buildInventory()
		if got := a.Inventory(); !reflect.DeepEqual(got, want) {
			t.Errorf("change %d: Inventory = %q, want %q (%d before)", i, got, want, before)
		}
	}
}

func TestConcurrent(t *testing.T) {
	a := newTest(t, spec.Anonymize{HostDomains: []string{"acme.internal"}})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				name := string(rune('a'+i%26)) + "-node.acme.internal"
				a.Learn("pod", "pod-"+name)
				if out := a.Text("ping " + name + " user=u" + name[:1] + "xx from 10.0.0.1"); strings.Contains(out, name) {
					t.Errorf("raw host in %q", out)
					return
				}
			}
		}()
	}
	wg.Wait()
	if a.Report()["redact:ip"] != 1600 {
		t.Fatalf("report %v", a.Report())
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// A learned address (an instance label host:port) keeps its keyed
// pseudonym in free text, the same as in the labels, instead of the IP
// detector's <ip>; secrets after it are still found.
func TestLearnedAddressBeforeDetectors(t *testing.T) {
	a, err := New([]byte("0123456789abcdef0123456789abcdef"), spec.Anonymize{Labels: map[string]string{"instance": "instance"}}, "service")
	if err != nil {
		t.Fatal(err)
	}
	a.LearnLabel("instance", "10.42.1.7:8080")
	want := a.Pseudonym("instance", "10.42.1.7:8080")
	got := a.Text("health check ok instance=10.42.1.7:8080 token=ghp_" + strings.Repeat("a1B2", 9))
	if !strings.Contains(got, "instance="+want) || strings.Contains(got, "10.42.1.7") || strings.Contains(got, "a1B2a1B2") {
		t.Errorf("Text = %q; want the instance as %s and the token redacted", got, want)
	}
	if got := a.Text("from 10.42.1.9 port 22"); strings.Contains(got, "10.42.1.9") {
		t.Errorf("an address not learned must still be redacted: %q", got)
	}
}

func TestShapeSet(t *testing.T) {
	var s shapeSet
	added := []string{"", "h", "host-07ab12cd34ef", "10.1.2.3", strings.Repeat("x", 63), strings.Repeat("y", 200)}
	for _, p := range added {
		s.add(p)
	}
	for _, p := range added {
		if !s.mayHold(p) {
			t.Errorf("mayHold(%q) = false after add", p)
		}
	}
	for _, c := range []struct {
		p    string
		want bool
	}{
		{"host-ffffffffffff", true},      // same first byte and length
		{"hosts", false},                 // same first byte, another length
		{"10.9.9.9", true},               // same shape as 10.1.2.3
		{"192.168.1.1", false},           // another first byte
		{strings.Repeat("y", 64), true},  // lengths past 62 share a bit
		{strings.Repeat("x", 62), false}, // ...those below do not
		{"g", false},                     // a one-byte string of another byte
	} {
		if got := s.mayHold(c.p); got != c.want {
			t.Errorf("mayHold(%q) = %v, want %v", c.p, got, c.want)
		}
	}
}

// Every pseudonym the anonymizer issues is still recognised as its own
// output with the shape table in front of the map.
func TestIsIssuedAfterShapeFilter(t *testing.T) {
	a := newTest(t, spec.Anonymize{HostDomains: []string{"acme.internal"}})
	for i := 0; i < 500; i++ {
		for _, typ := range []string{"host", "user", "pod", "instance"} {
			raw := typ + "-raw-" + strings.Repeat("z", i%7) + string(rune('a'+i%26)) + strconv.Itoa(i)
			p := a.learn(nil, typ, raw)
			if !a.isIssued(p) {
				t.Fatalf("isIssued(%q) = false for the pseudonym of %s %q", p, typ, raw)
			}
			if a.isIssued(raw) {
				t.Fatalf("isIssued(%q) = true for a raw value", raw)
			}
		}
	}
	if a.isIssued("192.168.7.7") {
		t.Fatal("an address never issued is issued")
	}
}
