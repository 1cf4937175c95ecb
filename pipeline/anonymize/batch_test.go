package anonymize

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/opsdata/opsdata/spec"
)

// batchLines: values found by shape or form in one line (a host under the
// host domain, user=NAME, a secret after token=, an FQDN's short name)
// appear bare in later lines, and one line carries the pseudonym of a
// value learned just before it.
func batchLines(a *Anonymizer) []string {
	lines := []string{
		"GET /health 200 client=10.1.2.3",
		"user=alice logged in from 10.9.8.7",
		"alice opened a session",                             // bare: learned one line before
		"connect to db7.prod.acme.internal:5432 ok",          // host by shape, short name db7
		"db7 is slow, failing over",                          // bare short name
		"token=Zx9Qw8Er7Ty6Ui5Op4 rejected",                  // secret after key=
		"retry with Zx9Qw8Er7Ty6Ui5Op4 from bob@example.com", // bare secret, an e-mail
		"peer x_worker-2.prod.acme.internal refused",         // glued host, not learned yet
		"worker-2.prod.acme.internal joined",                 // learns it
		"peer x_worker-2.prod.acme.internal refused again",   // glued, now learned
		"handoff to " + a.Pseudonym(TypeUser, "carol") + " done",
		"user=carol took over",
		"handoff to " + a.Pseudonym(TypeUser, "carol") + " done", // an issued pseudonym is left alone
		"processed batch 17 in 12ms",
	}
	var out []string
	for i := 0; i < 3; i++ {
		for j, l := range lines {
			out = append(out, l, fmt.Sprintf("tick %d.%d alice carol db7 2001:db8::%x", i, j, i*100+j))
		}
	}
	return out
}

func batchPolicy() spec.Anonymize {
	return spec.Anonymize{HostDomains: []string{"acme.internal"}, LogFields: map[string]string{"host": "host"}}
}

// settleAll scrubs lines batch by batch: ahead on workers goroutines, then
// settled in order.
func settleAll(a *Anonymizer, lines []string, batch, workers int) []string {
	out := make([]string, 0, len(lines))
	xs := make([]Ahead, batch)
	for lo := 0; lo < len(lines); lo += batch {
		part := lines[lo:min(lo+batch, len(lines))]
		b := a.NewBatch()
		scrubAll(a, part, xs, workers)
		for i := range part {
			out = append(out, b.Settle(&xs[i]))
		}
		b.End()
	}
	return out
}

// scrubAll scrubs part ahead into xs on workers goroutines.
func scrubAll(a *Anonymizer, part []string, xs []Ahead, workers int) {
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(part); i += workers {
				a.ScrubAhead("logs.message", part[i], &xs[i])
			}
		}(w)
	}
	wg.Wait()
}

// settleOverlapped is settleAll as the export runs it: each batch is
// scrubbed ahead while the one before it settles (and learns).
func settleOverlapped(a *Anonymizer, lines []string, batch, workers int) []string {
	return settleOverlap(a, lines, batch, workers, false, false)
}

// settleShared is settleOverlapped with each text of a batch scrubbed
// ahead once and settled for every line that holds it, as the export does
// for a batch's repeated messages.
func settleShared(a *Anonymizer, lines []string, batch, workers int) []string {
	return settleOverlap(a, lines, batch, workers, false, true)
}

// settleEarly is the extreme of settleOverlapped: each batch is scrubbed
// ahead before the one before it settles at all.
func settleEarly(a *Anonymizer, lines []string, batch, workers int) []string {
	return settleOverlap(a, lines, batch, workers, true, false)
}

func settleOverlap(a *Anonymizer, lines []string, batch, workers int, early, shared bool) []string {
	var parts [][]string
	var from [][]int // per part: the scrub each line settles with
	for lo := 0; lo < len(lines); lo += batch {
		part := lines[lo:min(lo+batch, len(lines))]
		idx := make([]int, len(part))
		if !shared {
			for i := range idx {
				idx[i] = i
			}
			parts, from = append(parts, part), append(from, idx)
			continue
		}
		var texts []string
		first := map[string]int{}
		for i, l := range part {
			if _, ok := first[l]; !ok {
				first[l] = len(texts)
				texts = append(texts, l)
			}
			idx[i] = first[l]
		}
		parts, from = append(parts, texts), append(from, idx)
	}
	xs := [2][]Ahead{make([]Ahead, batch), make([]Ahead, batch)}
	bs := make([]*Batch, len(parts))
	bs[0] = a.NewBatch()
	scrubAll(a, parts[0], xs[0], workers)
	out := make([]string, 0, len(lines))
	for k := range parts {
		var ahead sync.WaitGroup
		if k+1 < len(parts) {
			bs[k+1] = a.NewBatch()
			ahead.Add(1)
			go func() {
				defer ahead.Done()
				scrubAll(a, parts[k+1], xs[(k+1)%2], workers)
			}()
			if early {
				ahead.Wait()
			}
		}
		for _, j := range from[k] {
			out = append(out, bs[k].Settle(&xs[k%2][j]))
		}
		bs[k].End()
		ahead.Wait()
	}
	return out
}

func TestBatchSettlesToSequentialBytes(t *testing.T) {
	ref := newTest(t, batchPolicy())
	lines := batchLines(ref)
	want := make([]string, len(lines))
	for i, l := range lines {
		want[i] = ref.Column("logs.message", l)
	}
	// The case is real: scrubbed against the state before the batch, the
	// bare mentions stay raw, so Settle must redo them.
	fresh := newTest(t, batchPolicy())
	var ahead Ahead
	fresh.ScrubAhead("logs.message", lines[4], &ahead) // "alice opened a session"
	if ahead.out == want[4] {
		t.Fatalf("scrub ahead of %q already equals the sequential %q: the test exercises nothing", lines[4], want[4])
	}
	type config struct {
		batch, workers int
		mode           string
	}
	var configs []config
	for _, c := range []struct{ batch, workers int }{{1, 1}, {3, 2}, {16, 1}, {16, 2}, {1024, 1}, {1024, 2}, {1024, 4}} {
		configs = append(configs, config{c.batch, c.workers, "one-by-one"}, config{c.batch, c.workers, "early"})
	}
	// Overlapped, where the interleaving of learning and scrubbing ahead
	// differs from run to run: many runs of small batches.
	for run := 0; run < 20; run++ {
		configs = append(configs, config{1, 1, "overlapped"}, config{2, 2, "overlapped"}, config{3, 2, "overlapped"}, config{5, 4, "overlapped"})
	}
	// Shared: a batch's repeated texts ("alice opened a session" before and
	// after alice is learned) settle with one scrub ahead.
	for run := 0; run < 10; run++ {
		configs = append(configs, config{16, 2, "shared"}, config{29, 2, "shared"}, config{1024, 2, "shared"})
	}
	settlers := map[string]func(*Anonymizer, []string, int, int) []string{"one-by-one": settleAll, "early": settleEarly, "overlapped": settleOverlapped, "shared": settleShared}
	for _, tc := range configs {
		t.Run(fmt.Sprintf("batch=%d/workers=%d/%s", tc.batch, tc.workers, tc.mode), func(t *testing.T) {
			a := newTest(t, batchPolicy())
			got := settlers[tc.mode](a, lines, tc.batch, tc.workers)
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("line %d %q:\n got %q\nwant %q", i, lines[i], got[i], want[i])
				}
			}
			if g, w := a.Report(), ref.Report(); !reflect.DeepEqual(g, w) {
				t.Errorf("report %v, want %v", g, w)
			}
			if g, w := a.Inventory(), ref.Inventory(); !reflect.DeepEqual(g, w) {
				t.Errorf("inventory %v, want %v", g, w)
			}
			if g, w := a.covered.keys(), ref.covered.keys(); !slices.Equal(g, w) {
				t.Errorf("%d covered addresses, want the reference's %d", len(g), len(w))
			}
		})
	}
}
