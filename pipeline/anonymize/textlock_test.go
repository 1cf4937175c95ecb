package anonymize

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opsdata/opsdata/spec"
)

// within fails the test if f does not return within d (a deadlock).
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("no return within %v: deadlock", d)
	}
}

// A learned address inside a longer one (10.0.0.1 in 10.0.0.12) is
// extended to the whole address, which an ip_prefix or generalize rule
// learns. Text used to learn it while holding the text index's read lock,
// which learning takes for writing: the line never returned.
func TestLearnedAddressExtendedUnderIPRules(t *testing.T) {
	for _, ips := range []string{"ip_prefix", "generalize", "redact"} {
		for _, how := range []string{"text", "label"} {
			t.Run(ips+"/"+how, func(t *testing.T) {
				p := spec.Anonymize{Text: spec.TextPolicy{IPs: ips}, Labels: map[string]string{"client": ips}}
				a := newTest(t, p)
				if how == "text" {
					a.Text("client 10.0.0.1 ok")
				} else {
					a.LearnLabel("client", "10.0.0.1")
				}
				line := "client 10.0.0.12 ok, 10.0.0.123 too, then 10.0.0.12 again"
				var got string
				within(t, 5*time.Second, func() { got = a.Text(line) })
				// The whole address gets what the address detector gives it.
				if want := newTest(t, p).Text(line); got != want {
					t.Errorf("Text(%q) = %q, want %q", line, got, want)
				}
				if again := a.Text(got); again != got {
					t.Errorf("not idempotent: %q -> %q", got, again)
				}
			})
		}
	}
}

// Text on many goroutines while they learn: a learner holds a.mu and
// takes the index's lock for writing; Text must not wait for a.mu (the
// issued pseudonyms protectedSpans looks up) while it holds the index's
// read lock.
func TestConcurrentTextWhileLearning(t *testing.T) {
	a := newTest(t, spec.Anonymize{HostDomains: []string{"prod.acme.internal"}})
	a.Text("seed user=alice7")
	p := a.Pseudonym(TypeUser, "alice7")
	within(t, 60*time.Second, func() {
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 300; i++ {
					a.Text(fmt.Sprintf("user=u%d_%d: alice7 handed over to %s on db%d.prod.acme.internal", g, i, p, i))
				}
			}(g)
		}
		wg.Wait()
	})
}
