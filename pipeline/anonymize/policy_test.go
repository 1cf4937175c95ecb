package anonymize

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/opsdata/opsdata/spec"
)

var rulePolicy = spec.Anonymize{
	Labels: map[string]string{
		"node": "host", "addr": "ip_prefix", "subnet": "generalize", "net16": "generalize:16:32",
		"secret": "redact", "debug": "drop", "owner": "pseudonymize:user", "team": "keep",
	},
	Keep:      []string{"job"},
	LogFields: map[string]string{"client": "ip_prefix", "user": "user", "sess": "drop"},
	Columns:   map[string]string{"tickets.body": "redact", "logs.file": "drop"},
	Text:      spec.TextPolicy{IPs: "ip_prefix", UUIDs: "pseudonymize"},
}

func TestLabelRules(t *testing.T) {
	a := newTest(t, rulePolicy)
	in := labels.FromStrings("__name__", "up", "addr", "10.1.2.3:9100", "debug", "x", "job", "api",
		"node", "Worker-1", "owner", "alice", "secret", "s3cr3t-value", "subnet", "10.1.2.3", "net16", "10.1.2.3",
		"team", "core", "zone", "eu-west-1a")
	got := a.Labels(in)
	cp := a.cpan.Anonymize(netip.MustParseAddr("10.1.2.3")).String()
	want := labels.FromStrings("__name__", "up", "addr", cp+":9100", "job", "api",
		"net16", "10.1.0.0/16", "node", a.Pseudonym("host", "worker-1"), "owner", a.Pseudonym("user", "alice"),
		"secret", RedactedSecret, "subnet", "10.1.2.0/24", "team", "core", "zone", a.Pseudonym("zone", "eu-west-1a"))
	if !labels.Equal(got, want) {
		t.Fatalf("Labels:\n got  %s\n want %s", got, want)
	}
	// The same raw values in free text get the same replacement.
	text := a.Text("scrape 10.1.2.3:9100 on worker-1 by alice; leaked s3cr3t-value")
	for _, w := range []string{cp + ":9100", a.Pseudonym("host", "worker-1"), a.Pseudonym("user", "alice"), RedactedSecret} {
		if !strings.Contains(text, w) {
			t.Errorf("Text = %q, want it to contain %q", text, w)
		}
	}
	// A new address in the same /24 keeps the prefix (ip_prefix in text).
	other := a.Text("peer 10.1.2.77 up")
	o := netip.MustParseAddr(strings.Fields(other)[1])
	if commonPrefix(o, netip.MustParseAddr(cp)) < 24 {
		t.Errorf("10.1.2.77 -> %s does not share the /24 of 10.1.2.3 -> %s", o, cp)
	}
	if again := a.Text(other); again != other {
		t.Errorf("Text not idempotent on its own ip_prefix output: %q -> %q", other, again)
	}
	rep := a.Report()
	for _, k := range []string{"label:host", "label:ip_prefix", "label:generalize/24/48", "label:redact", "label:drop", "label:zone"} {
		if rep[k] == 0 {
			t.Errorf("report lacks %s: %v", k, rep)
		}
	}
}

func TestFieldAndColumnRules(t *testing.T) {
	a := newTest(t, rulePolicy)
	f := a.Fields(map[string]string{"client": "192.0.2.1", "user": "Bobby", "sess": "abc", "other": "x"})
	if f["user"] != a.Pseudonym("user", "bobby") || f["client"] != a.cpan.Anonymize(netip.MustParseAddr("192.0.2.1")).String() {
		t.Errorf("Fields = %v", f)
	}
	if _, ok := f["sess"]; ok || f["other"] != "x" {
		t.Errorf("Fields = %v: sess must be dropped, other untouched", f)
	}
	for _, tc := range []struct{ col, in, want string }{
		{"tickets.body", "anything", RedactedSecret},
		{"logs.file", "/var/log/app.log", ""},
		{"tickets.title", "bobby locked out", a.Pseudonym("user", "bobby") + " locked out"},
		{"logs.message", "req 123e4567-e89b-12d3-a456-426614174000", "req " + a.Pseudonym("uuid", "123e4567-e89b-12d3-a456-426614174000")},
	} {
		if got := a.Column(tc.col, tc.in); got != tc.want {
			t.Errorf("Column(%s, %q) = %q, want %q", tc.col, tc.in, got, tc.want)
		}
	}
	if got := a.EntityValue("node", "host", "worker-9"); got != a.Pseudonym("host", "worker-9") {
		t.Errorf("EntityValue = %q", got)
	}
}

func TestParseRuleErrors(t *testing.T) {
	for _, s := range []string{"generalize:33", "generalize:8:200", "keep:x", "pseudonymize:Bad Type", "no such!"} {
		if _, err := spec.ParseRule("l", s); err == nil {
			t.Errorf("ParseRule(%q) accepted", s)
		}
	}
	if _, err := New([]byte("0123456789abcdef"), spec.Anonymize{Labels: map[string]string{"x": "generalize:99"}}, ""); err == nil {
		t.Error("New accepted a bad rule")
	}
}

// FuzzPolicy: any label value under any rule never comes out raw (unless
// kept), and the same value always gets the same replacement.
func FuzzPolicy(f *testing.F) {
	for _, s := range []string{"10.1.2.3", "10.1.2.3:80", "[2001:db8::1]:443", "worker-1", "", " x ", "::ffff:1.2.3.4", "1.2.3.4.5"} {
		f.Add(s, "ip_prefix")
		f.Add(s, "generalize:8:16")
		f.Add(s, "host")
		f.Add(s, "redact")
	}
	f.Fuzz(func(t *testing.T, v, rule string) {
		if _, err := spec.ParseRule("l", rule); err != nil {
			return
		}
		a, err := New([]byte("0123456789abcdef"), spec.Anonymize{Labels: map[string]string{"l": rule}}, "")
		if err != nil {
			t.Fatal(err)
		}
		l := labels.FromStrings("l", v)
		out1, out2 := a.Labels(l), a.Labels(l)
		if !labels.Equal(out1, out2) {
			t.Fatalf("rule %q: %q -> %s then %s", rule, v, out1, out2)
		}
		if got := out1.Get("l"); worthMatching(strings.TrimSpace(v)) && rule != "keep" && strings.Contains(strings.ToLower(got), strings.ToLower(strings.TrimSpace(v))) {
			t.Fatalf("rule %q: %q published as %q", rule, v, got)
		}
	})
}

// FuzzSecrets: a planted secret never survives Text, whatever surrounds it.
func FuzzSecrets(f *testing.F) {
	secrets := []string{"AKIAIOSFODNN7EXAMPLE", "ghp_R2d2C3poX9k4LmNoPqRsTuVwXyZ0123456aB", "glpat-xK9mP2vQ7wR4tY8uZ1aB",
		"xoxb-2048576-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r",
		"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----"}
	for i := range secrets {
		f.Add("token ", " end", uint8(i))
		f.Add("", "", uint8(i))
		f.Add("x=", "\n", uint8(i))
	}
	f.Fuzz(func(t *testing.T, pre, post string, which uint8) {
		sec := secrets[int(which)%len(secrets)]
		// A glued alphanumeric neighbour makes it another word; the
		// detectors match on word boundaries by design.
		if pre != "" && isWordByte(pre[len(pre)-1]) || post != "" && (isWordByte(post[0]) || post[0] == '-') {
			return
		}
		a := newTest(t, corpusPolicy)
		in := pre + sec + post
		out := a.Text(in)
		if strings.Contains(out, sec) {
			t.Fatalf("secret survived: Text(%q) = %q", in, out)
		}
	})
}
