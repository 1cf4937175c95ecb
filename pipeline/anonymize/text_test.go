package anonymize

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opsdata/opsdata/internal/benchutil"
	"github.com/opsdata/opsdata/spec"
)

var textPolicy = spec.Anonymize{HostDomains: []string{"prod.acme.internal", ".corp.example.com"}}

func TestText(t *testing.T) {
	a := newTest(t, textPolicy)
	a.Learn("host", "worker-17")
	a.Learn("pod", "checkout-7d9f8c")
	a.Learn("job", "payments")
	a.Learn("job", "payments-eu") // longest match wins
	P := a.Pseudonym
	host := func(v string) string { return P("host", v) }
	user := func(v string) string { return P("user", v) }
	tests := []struct {
		name, in, want string
	}{
		// 1. learned values, longest first, case-insensitive
		{"learned", "worker-17 restarted checkout-7d9f8c", host("worker-17") + " restarted " + P("pod", "checkout-7d9f8c")},
		{"learned case-insensitive", "WORKER-17 down", host("worker-17") + " down"},
		{"learned longest first", "queue payments-eu full, payments ok", "queue " + P("job", "payments-eu") + " full, " + P("job", "payments") + " ok"},
		{"learned substring", "xworker-17y", "x" + host("worker-17") + "y"},
		// 2. hostnames under the policy's domains
		{"host", "conn to db-primary.prod.acme.internal refused", "conn to " + host("db-primary.prod.acme.internal") + " refused"},
		{"host in URL", "GET https://API.corp.example.com:8443/v1/x", "GET https://" + host("api.corp.example.com") + ":8443/v1/x"},
		{"host deep", "a.b-c.prod.acme.internal.", host("a.b-c.prod.acme.internal") + "."},
		{"host by shape", "see docs.acme.com", "see " + host("docs.acme.com")},
		{"host public", "see docs.github.com and app.kubernetes.io/name", "see docs.github.com and app.kubernetes.io/name"},
		{"host reverse-dns", "at com.acme.internal.Foo.bar(Foo.java:3)", "at com.acme.internal.Foo.bar(Foo.java:3)"},
		{"host glued", "x.prod.acme.internalz", "x.prod.acme.internalz"},
		// 3. emails
		{"email", "mail alice.smith+ops@example.org now", "mail <email> now"},
		{"email two", "a@b.io,c@d.co", "<email>,<email>"},
		// 4. secrets
		{"query token", "GET /cb?code=1&access_token=abc.DEF-123&x=1", "GET /cb?code=1&access_token=<redacted>&x=1"},
		{"kv password", "login password=hunter2 ok", "login password=<redacted> ok"},
		{"kv prefixed", "DB_PASSWORD='s3cr3t' AWS_SECRET_ACCESS_KEY=AKIAxyz", "DB_PASSWORD='<redacted>' AWS_SECRET_ACCESS_KEY=<redacted>"},
		{"kv apikey sig", "apikey=1 sig=ab%2F signature=zz pwd=p auth=a key=k", "apikey=<redacted> sig=<redacted> signature=<redacted> pwd=<redacted> auth=<redacted> key=<redacted>"},
		{"json secret", `{"password":"p@ss w","token": "t1"}`, `{"password":"<redacted> w","token": "<redacted>"}`},
		{"yaml secret", "secret: abc123", "secret: <redacted>"},
		{"userinfo", "clone https://bob:hunter2@git.example.com/r.git", "clone https://<redacted>@git.example.com/r.git"},
		{"userinfo user only", "redis://admin@cache:6379/0", "redis://<redacted>@cache:6379/0"},
		{"bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x.y", "Authorization: Bearer <redacted>"},
		// 5. IP addresses
		{"ipv4", "from 10.0.0.1 to 192.168.1.254", "from <ip> to <ip>"},
		{"ipv4 port", "dial tcp 10.2.3.4:5432: refused", "dial tcp <ip>:5432: refused"},
		{"ipv4 after colon", "peer:10.9.8.7, bad:172.16.0.1.", "peer:<ip>, bad:<ip>."},
		{"ipv6 compressed", "from 2001:db8::1 ok", "from <ip> ok"},
		{"ipv6 brackets port", "listen [2001:db8:0:1::42]:443", "listen <ip>:443"},
		{"ipv6 full", "fe80:0:0:0:202:b3ff:fe1e:8329", "<ip>"},
		{"ipv6 loopback", "bind ::1 port", "bind <ip> port"},
		{"ipv6 mapped", "client ::ffff:10.0.0.9", "client <ip>"},
		{"ip cidr", "allow 10.0.0.0/8", "allow <ip>/8"},
		// 6. usernames
		{"user=", "login failed user=jdoe attempt=3", "login failed user=" + user("jdoe") + " attempt=3"},
		{"user:", "user: Mallory logged in", "user: " + user("mallory") + " logged in"},
		{"user dq", `session for user "Ann Lee" expired`, `session for user "` + user("ann lee") + `" expired`},
		{"user sq", "user 'root' denied", "user '" + user("root") + "' denied"},
		{"for user", "Accepted publickey for user deploy.", "Accepted publickey for user " + user("deploy") + "."},
		{"json user", `{"user":"carol","n":1}`, `{"user":"` + user("carol") + `","n":1}`},
		{"db_user", "db_user=svc_app", "db_user=" + user("svc_app")},
		{"user email", "user=dave@example.com", "user=<email>"},
		// false positives: ordinary lines unchanged
		{"fp api version", "GET /api/v1.2/items 200 12.5ms", "GET /api/v1.2/items 200 12.5ms"},
		{"fp time", "took 12:30:45", "took 12:30:45"},
		{"fp timestamp", "2024-03-01T12:30:45.123Z level=info", "2024-03-01T12:30:45.123Z level=info"},
		{"fp version", "version 1.2.3", "version 1.2.3"},
		{"fp v version", "running v1.2.3.4", "running v1.2.3.4"},
		{"fp file line", "checkout.go:42: panic recovered", "checkout.go:42: panic recovered"},
		{"mac", "nic 00:1A:2b:3c:4d:5e up, 00-1a-2b-3c-4d-5e", "nic " + P("mac", "00:1a:2b:3c:4d:5e") + " up, " + P("mac", "00:1a:2b:3c:4d:5e")},
		{"fp cpp", "std::vector and dead::beef", "std::vector and dead::beef"},
		{"fp float", "ratio 0.25 of 3.14159", "ratio 0.25 of 3.14159"},
		{"fp auth word", "auth: failed for request", "auth: failed for request"},
		{"fp user_id", "user_id=42 users=3", "user_id=42 users=3"},
		{"fp monkey", "monkey=banana", "monkey=banana"},
		{"fp plain", "cache miss ratio high on shard 7", "cache miss ratio high on shard 7"},
		{"fp at", "retry @ 5s", "retry @ 5s"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := a.Text(tc.in)
			if got != tc.want {
				t.Fatalf("Text(%q)\n got  %q\n want %q", tc.in, got, tc.want)
			}
			if again := a.Text(got); again != got {
				t.Fatalf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}

// Values found by a detector are learned: the next line without the
// detector's context still gets them scrubbed, and so does the rest of the
// same line.
func TestTextLearnsFromDetectors(t *testing.T) {
	a := newTest(t, textPolicy)
	p := a.Pseudonym("user", "jdoe")
	if got := a.Text("user=jdoe; home of jdoe"); got != "user="+p+"; home of "+p {
		t.Fatalf("same line: %q", got)
	}
	if got := a.Text("JDoe logged out"); got != p+" logged out" {
		t.Fatalf("later line: %q", got)
	}
	a.Text("mail eve@example.org")
	if got := a.Text("<eve@example.org>"); got != "<<email>>" {
		t.Fatalf("learned email: %q", got)
	}
	a.Text("from 10.0.0.1")
	if got := a.Text("x 10.0.0.12 and 10.0.0.1"); got != "x <ip> and <ip>" {
		t.Fatalf("learned ip boundary: %q", got)
	}
	h := a.Pseudonym("host", "db.prod.acme.internal")
	a.Text("to db.prod.acme.internal")
	for _, k := range []string{"db.prod.acme.internal", "jdoe"} {
		if !contains(a.Inventory(), k) {
			t.Errorf("inventory lacks %q", k)
		}
	}
	for _, k := range []string{"eve@example.org", "10.0.0.1"} {
		if _, ok := a.CoveredScan([]byte("x " + k + " y")); !ok {
			t.Errorf("CoveredScan misses %q", k)
		}
	}
	rep := a.Report()
	if rep["pseudonymize:user"] != 3 || rep["redact:email"] != 2 || rep["redact:ip"] != 3 || rep["pseudonymize:host"] != 1 {
		t.Errorf("report %v", rep)
	}
	if got := a.Text("DB.prod.acme.internal"); got != h {
		t.Errorf("host case: %q", got)
	}
}

// realisticLines mix the shapes a log stream has: most lines carry nothing
// to scrub, some carry IPs, hosts, users, secrets.
var realisticLines = []string{
	`GET /api/v1.2/items 200 12.5ms`,
	`level=info msg="request served" path=/checkout duration=0.023 status=200`,
	`cache miss ratio high on shard 7, evicting 1200 keys`,
	`dial tcp 10.2.3.4:5432: connect: connection refused`,
	`connection from db-primary.prod.acme.internal:5432 reset by peer`,
	`Accepted publickey for user deploy from 192.168.10.4 port 52144 ssh2`,
	`payment worker-17 completed batch 8812 in 1.2s`,
	`GET /cb?code=1&access_token=abc.DEF-123 302`,
	`checkout.go:42: panic recovered: runtime error: index out of range [3] with length 3`,
	`took 12:30:45 to compact 3 blocks (version 1.2.3)`,
}

// BenchmarkText: one op scrubs 200,000 realistic mixed log lines (learned
// hosts and pods, IPs, emails, secrets, users) with 4,000 learned values.
func BenchmarkText(b *testing.B) { benchTextWith(b, newTest(b, textPolicy)) }

func benchTextWith(b *testing.B, a *Anonymizer) {
	for i := 0; i < 2000; i++ {
		a.Learn("host", fmt.Sprintf("worker-%d", i))
		a.Learn("pod", fmt.Sprintf("checkout-%05x", i*7919))
	}
	const lines = 200000
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < lines; j++ {
			_ = a.Text(realisticLines[j%len(realisticLines)])
		}
	}
	benchutil.Report(b, float64(lines*b.N), "lines")
}

// BenchmarkTextClean: one op scrubs 1,000,000 lines holding nothing to
// replace (the common case: the pre-checks must keep it cheap).
func BenchmarkTextClean(b *testing.B) {
	a := newTest(b, textPolicy)
	line := `level=info msg="request served" path=/checkout duration=0.023 status=200`
	const lines = 1000000
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for j := 0; j < lines; j++ {
			_ = a.Text(line)
		}
	}
	benchutil.Report(b, float64(lines*b.N), "lines")
}

func FuzzText(f *testing.F) {
	for _, l := range realisticLines {
		f.Add(l)
	}
	for _, l := range []string{
		"user=worker-17 at [2001:db8::1]:80", "WORKER-17WORKER-17", "host-", "<ip><email>",
		"https://a:b@c.prod.acme.internal/?token=x", "for user \"", "::", "1.2.3.4.5.6", "\xff\xfeuser=\xff",
		"api_token = api_token then datadog_api_token = 0123456789abcdef0123456789abcdef",
		"session closed user=window", "checkout-7d9f8b6c5-x2x9z on ip-10-0-1-23.ec2.internal", "~carol/ db1 db1.x",
		"curl -u elastic:P@ss!w0rd http://x", "key AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tUv-",
	} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := newTest(t, textPolicy)
		a.Learn("host", "worker-17")
		a.Learn("pod", "checkout-7d9f8c")
		once := a.Text(s)
		twice := a.Text(once)
		for _, out := range []string{once, twice} {
			if raw := a.leakedRaw(out); raw != "" {
				t.Fatalf("Text(%q) = %q still holds learned value %q", s, out, raw)
			}
		}
	})
}

// leakedRaw returns a learned raw value occurring in s outside opsdata's own
// output (issued pseudonyms, placeholders), or "".
func (a *Anonymizer) leakedRaw(s string) string {
	spans := a.protectedSpans(s)
	b := []byte(s)
	for _, p := range spans {
		for i := p.start; i < p.end; i++ {
			b[i] = 0
		}
	}
	low := foldString(string(b))
	a.mu.RLock()
	defer a.mu.RUnlock()
	for k := range a.learned {
		if worthMatching(k.raw) && strings.Contains(low, foldString(k.raw)) {
			return k.raw
		}
	}
	for raw := range a.redacted {
		if worthMatching(raw) && strings.Contains(low, foldString(raw)) {
			return raw
		}
	}
	return ""
}
