package anonymize

// The fast paths of the text scrubber (decision 0040), each against the
// definition it must reproduce.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/spec"
)

// hostFinderOracle is the regexp over the whole line, the definition the
// finder must reproduce.
func hostFinderOracle(re *regexp.Regexp, s string) [][2]int {
	var out [][2]int
	for _, m := range re.FindAllStringIndex(s, -1) {
		out = append(out, [2]int{m[0], m[1]})
	}
	return out
}

func testHostFinder(domains ...string) *hostFinder {
	_, _, _, hf := buildDetectors(domains, rules{}, nil)
	return hf
}

func TestHostFinderEqualsRegexp(t *testing.T) {
	hf := testHostFinder("prod.acme.internal", "acme.internal", "k8s.local")
	cases := []string{
		"",
		"retrying call to db-1.prod.acme.internal:5432 attempt=3",
		"DB-1.PROD.ACME.INTERNAL and db-2.acme.internal, then x_y.acme.internal",
		"a.acme.internal.acme.internal.acme.internalx",
		"-a-.acme.internal a-.acme.internal .acme.internal ..acme.internal",
		"node\u212a.k8s.local and no\u017fde.k8s.local (Kelvin sign, long s)",
		"ns1.\u212a8s.local",
		"héllo.acme.internal wörker-1.prod.acme.internal",
		"https://api.acme.internal/v1?host=w1.acme.internal&x=y.acme.internal.",
		"nothing to see here: acme internal, acme_internal",
	}
	for _, c := range cases {
		if got, want := hf.findAll(c), hostFinderOracle(hf.re, c); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: finder %v, regexp %v", c, got, want)
		}
	}
	// Random lines over an alphabet dense in host bytes and separators.
	alphabet := []string{"a", "B", "k", "0", "9", "-", ".", "_", " ", ":", "/", "=", "\u212a", "é",
		".acme.internal", ".ACME.internal", ".prod.acme.internal", ".k8s.local", "acme", "internal", "db-1", "x."}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.IntN(24); n > 0; n-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		if got, want := hf.findAll(s), hostFinderOracle(hf.re, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: finder %v, regexp %v", s, got, want)
		}
	}
}

func FuzzHostFinder(f *testing.F) {
	for _, s := range []string{"db-1.prod.acme.internal:5432", "a.acme.internal.acme.internalx", "n\u212a.k8s.local"} {
		f.Add(s)
	}
	hf := testHostFinder("prod.acme.internal", "acme.internal", "k8s.local")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hf.findAll(s), hostFinderOracle(hf.re, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: finder %v, regexp %v", s, got, want)
		}
	})
}

// TestMaskDFAEqualsMatcher: the detectors' pre-check as a table gives the
// automaton's bits on every text.
func TestMaskDFAEqualsMatcher(t *testing.T) {
	a, err := New(make([]byte, 32), spec.Anonymize{HostDomains: []string{"acme.internal"}}, "service")
	if err != nil {
		t.Fatal(err)
	}
	if a.preDFA == nil {
		t.Fatal("the pre-check has no table")
	}
	pieces := append(slices.Clone(a.pre.patterns[:40]), "user", "PASSWORD", "Token=", "://", "é", " ", "x", "0", ".acme.internal", "curl", "BEARER")
	rng := rand.New(rand.NewPCG(5, 6))
	hits := 0
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.IntN(12); n > 0; n-- {
			p := pieces[rng.IntN(len(pieces))]
			if rng.IntN(3) == 0 {
				p = p[:rng.IntN(len(p)+1)] // a cut keyword
			}
			b.WriteString(p)
		}
		s := b.String()
		got, want := a.preDFA.mask(s), a.pre.mask(s, a.preBits)
		if got != want {
			t.Fatalf("%q: table %b, automaton %b", s, got, want)
		}
		if want != 0 {
			hits++
		}
	}
	if hits < 1000 {
		t.Fatalf("only %d texts had a keyword: the test shows little", hits)
	}
}

// TestTextShortcutsChangeNothing: skipping the address scan of texts that
// cannot hold an address, and reusing a text's first scan when nothing
// changed, give the bytes of scanning twice, over a stream of lines whose
// learned values (labels, hosts, users, addresses, e-mails) appear bare in
// later lines.
func TestTextShortcutsChangeNothing(t *testing.T) {
	parts := []string{"GET /v1/items/42 200", "client=10.1.2.3", "10.1.2.3:8080", "db1.prod.acme.internal", "db1", "db1:5432",
		"user=alice", "alice", "bob@example.org", "bob", "retry", "in 12ms", "2001:db8::7", "[2001:db8::7]:443",
		"token=abc123def456ghi789", "abc123def456ghi789", "node-7.corp.example.com", "node-7", " ", ", ", "=", "worker-2"}
	rng := rand.New(rand.NewPCG(9, 9))
	lines := make([]string, 3000)
	for i := range lines {
		var b strings.Builder
		for n := rng.IntN(7); n >= 0; n-- {
			b.WriteString(parts[rng.IntN(len(parts))])
			b.WriteByte(' ')
		}
		lines[i] = b.String()
	}
	run := func(off bool) []string {
		noTextShortcuts = off
		defer func() { noTextShortcuts = false }()
		a := newTest(t, textPolicy)
		a.LearnLabel("instance", "10.9.8.7:9100")
		a.LearnLabel("pod", "worker-2")
		out := make([]string, len(lines))
		for i, l := range lines {
			out[i] = a.Text(l)
		}
		return out
	}
	want, got := run(true), run(false)
	changed := 0
	for i := range lines {
		if got[i] != want[i] {
			t.Fatalf("line %d %q: %q with the shortcuts, %q without", i, lines[i], got[i], want[i])
		}
		if got[i] != lines[i] {
			changed++
		}
	}
	if changed < len(lines)/2 {
		t.Fatalf("only %d of %d lines were scrubbed: the test shows little", changed, len(lines))
	}
}

// TestScanCacheSeesNewValues: a text's cached scan is not reused once a
// value was learned (the pattern ids it holds may mean others by then).
func TestScanCacheSeesNewValues(t *testing.T) {
	a := newTest(t, textPolicy)
	a.learn(nil, TypeUser, "alice42")
	var sc scanCache
	if kept, _ := a.idx.find("alice42 met bobby77", nil, &sc); len(kept) != 1 {
		t.Fatalf("first scan: %d matches, want 1", len(kept))
	}
	a.learn(nil, TypeUser, "bobby77")
	if kept, _ := a.idx.find("alice42 met bobby77", nil, &sc); len(kept) != 2 {
		t.Fatalf("after learning bobby77: %d matches, want 2", len(kept))
	}
}

// TestFieldMemoChangesNothing: learning fields with the memo leaves the
// anonymizer in the state, and with the counts, of learning every value.
func TestFieldMemoChangesNothing(t *testing.T) {
	policy := spec.Anonymize{HostDomains: []string{"acme.internal"}, LogFields: map[string]string{"host": "host", "user": "user", "client": "ip_prefix", "token": "redact"}}
	rng := rand.New(rand.NewPCG(8, 8))
	lines := make([][]pipeline.LogField, 20000)
	for i := range lines {
		lines[i] = []pipeline.LogField{
			{Key: "host", Value: fmt.Sprintf("node-%d.prod.acme.internal", (i*3+rng.IntN(40))%9000)}, // more values than the memo has slots
			{Key: "user", Value: fmt.Sprintf("u%d", rng.IntN(300))},
			{Key: "other", Value: "x"},
			{Key: "client", Value: fmt.Sprintf("10.0.%d.%d", rng.IntN(4), rng.IntN(50))},
			{Key: "token", Value: fmt.Sprintf("tok-%d", rng.IntN(20))},
		}
	}
	run := func(memo *FieldMemo) ([]byte, any) {
		a, err := New([]byte("0123456789abcdef0123456789abcdef"), policy, "service")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range lines {
			a.LearnFields(f, memo)
		}
		b, err := a.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		return b, a.Report()
	}
	want, wantReport := run(nil)
	got, gotReport := run(&FieldMemo{})
	if !bytes.Equal(got, want) {
		t.Fatal("the memo changed what was learned")
	}
	if !reflect.DeepEqual(gotReport, wantReport) {
		t.Fatalf("the memo changed the counts:\n%+v\n%+v", gotReport, wantReport)
	}
}

// bytesOf's fast paths (registers, a flag table) hold the set of every byte value, ASCII
// or not, at any position.
func TestBytesOfEveryByte(t *testing.T) {
	plain := func(s string) (b byteSet) {
		for i := 0; i < len(s); i++ {
			b[s[i]>>6] |= 1 << (s[i] & 63)
		}
		return b
	}
	cases := []string{"", "a", "node-7.prod:8080", "\x00\x3f\x40\x7f", "héllo", "\xff", "ascii then \x80"}
	for c := 0; c < 256; c++ {
		cases = append(cases, string([]byte{byte(c)}), "x"+string([]byte{byte(c)})+"y")
	}
	rng := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < 2000; i++ {
		b := make([]byte, rng.IntN(160)) // both sides of the table's threshold
		for j := range b {
			b[j] = byte(rng.IntN(128 + 128*(i%2)))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, want := bytesOf(s), plain(s); got != want {
			t.Fatalf("bytesOf(%q) = %x, want %x", s, got, want)
		}
	}
}

// TestFoundByShape: a learned host counts as found by the host detector
// exactly when the domains' regexp matches it whole.
func TestFoundByShape(t *testing.T) {
	a := newTest(t, spec.Anonymize{HostDomains: []string{"prod.acme.internal", "acme.internal", "k8s.local"}})
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{"db-1.prod.acme.internal", true},
		{"DB-1.PROD.ACME.INTERNAL", true},
		{"node\u212a.k8s.local", true},
		{"wörker-1.prod.acme.internal", false}, // ö is no label byte: the match starts after it
		{"x_y.acme.internal", false},           // the match is y.acme.internal
		{"db-1.prod.acme.internal:5432", false},
		{"a.acme.internal.acme.internalx", false},
		{"acme.internal", false},
		{"db-1", false},
	} {
		m := a.hosts.re.FindStringIndex(tc.raw)
		oracle := m != nil && m[0] == 0 && m[1] == len(tc.raw)
		if oracle != tc.want {
			t.Fatalf("test case %q: the regexp says %v", tc.raw, oracle)
		}
		if got := a.foundByShape(TypeHost, tc.raw); got != tc.want {
			t.Errorf("foundByShape(%q) = %v, want %v", tc.raw, got, tc.want)
		}
		if a.foundByShape(TypeUser, tc.raw) {
			t.Errorf("foundByShape(user, %q): only hosts are found by shape", tc.raw)
		}
	}
}

// BenchmarkFoundByShape: telling whether each of a day's new hosts is one
// the host detector finds (350k of them on the realistic day), by the
// host finder, against the regexp it stands for.
func BenchmarkFoundByShape(b *testing.B) {
	a, err := New([]byte("0123456789abcdef0123456789abcdef"), spec.Anonymize{HostDomains: []string{"acme.internal"}}, "service")
	if err != nil {
		b.Fatal(err)
	}
	hosts := make([]string, 10_000)
	for k := range hosts {
		hosts[k] = fmt.Sprintf("node-%d.prod.acme.internal", k)
	}
	for _, tc := range []struct {
		name  string
		found func(string) bool
	}{
		{"finder", func(h string) bool { return a.foundByShape(TypeHost, h) }},
		{"regexp", func(h string) bool {
			m := a.hosts.re.FindStringIndex(h)
			return m != nil && m[0] == 0 && m[1] == len(h)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				for _, h := range hosts {
					if !tc.found(h) {
						b.Fatal(h)
					}
				}
			}
			b.ReportMetric(float64(len(hosts)*b.N)/b.Elapsed().Seconds(), "hosts/s")
		})
	}
}

// mayBeAddr never turns away a text netip parses as an address or an
// address:port: real shapes, then random strings over the bytes addresses
// and their near misses are made of.
func TestMayBeAddr(t *testing.T) {
	parses := func(v string) bool {
		_, err1 := netip.ParseAddr(v)
		_, err2 := netip.ParseAddrPort(v)
		return err1 == nil || err2 == nil
	}
	cases := []struct {
		v    string
		want bool // mayBeAddr
	}{
		{"10.1.2.3", true},
		{"10.1.2.3:8080", true},
		{"2001:db8::1", true},
		{"[2001:db8::1]:443", true},
		{"fe80::1%eth0", true},
		{"::ffff:10.0.0.1", true},
		{"1.2.3.4%eth0", false}, // netip: an IPv4 address has no zone
		{"node-1.prod.acme.internal", false},
		{"db-7", false},
		{"alice", false},
		{"1234", true}, // digits only: tried (and not an address)
	}
	for _, c := range cases {
		if got := mayBeAddr(c.v); got != c.want {
			t.Errorf("mayBeAddr(%q) = %v, want %v", c.v, got, c.want)
		}
		if parses(c.v) && !mayBeAddr(c.v) {
			t.Errorf("%q parses but mayBeAddr turns it away", c.v)
		}
	}
	rng := rand.New(rand.NewPCG(3, 5))
	// Half the strings from digits and dots alone, where IPv4 lives.
	alphabets := []string{"0123456789.:abcdefx%[]-eth", "0123456789..."}
	parsed := 0
	for k := range 200_000 {
		alphabet := alphabets[k%2]
		b := make([]byte, 1+rng.IntN(16))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		v := string(b)
		if parses(v) {
			parsed++
			if !mayBeAddr(v) {
				t.Fatalf("%q parses but mayBeAddr turns it away", v)
			}
		}
	}
	if parsed < 100 {
		t.Fatalf("test setup: only %d random strings parsed as an address", parsed)
	}
}
