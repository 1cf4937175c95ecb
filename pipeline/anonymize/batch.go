package anonymize

import (
	"slices"
	"strings"
)

// Scrubbing text in parallel with the bytes of one goroutine.
//
// Text learns while it scrubs (a host found by shape, a user in user=NAME,
// a secret after key=): a value learned from one line changes how every
// later line is scrubbed. Lines scrubbed concurrently in any order would
// make the output depend on scheduling. A Batch keeps the sequential
// result exactly, whatever the number of goroutines:
//
//   - Ahead scrubs a line against the state as it is, changing nothing
//     shared (safe to call from many goroutines at once, also while an
//     earlier batch settles and learns). A scrub that would learn a value
//     not known yet is stale; it records every text its detectors read.
//   - Settle, called in line order, takes a scrub ahead as the line's
//     result when it is not stale and none of the values learned since the
//     batch began (by Settle's own re-scrubs, an earlier batch settling
//     meanwhile, or anything else) occurs in a text it read. The scrub saw
//     the state of the batch's beginning plus some of those values, and
//     the sequential scrub would see all of them; as none occurs in what
//     it read, every lookup it made gives the same answer in all three, so
//     the result is the sequential one. Otherwise Settle scrubs the line
//     again, in order, learning as Text does.
//
// Values a scrub ahead finds that no scrub reads (addresses and e-mails for
// the gate's covered set, short redactions) are applied by Settle, and its
// replacement counts are counted only then, so the report is the
// sequential one too.

// Ahead is one text scrubbed ahead of its turn (Batch).
type Ahead struct {
	column, in, out string
	st              stats
	seen            []string    // the texts the detectors read, in order
	covered         []uint64    // covered addresses and e-mails to record
	redacted        [][2]string // raw, placeholder: redactions no scrub reads
	stale           bool        // would learn: Settle scrubs again
}

// Batch is a run of scrubs ahead being settled in order. Between
// NewBatch and End, the values the anonymizer learns are tracked. Several
// batches may be open: the next one's lines are scrubbed ahead while this
// one settles.
type Batch struct {
	a     *Anonymizer
	since trie
	// st sums the counts of the scrubs taken as they were, added to the
	// anonymizer's at End: once a batch rather than under its lock for
	// every line.
	st stats
}

// ScrubAhead is Column(column, v) computed against the current state
// without changing it, for Batch.Settle of a batch begun (NewBatch) before
// the call. Safe for concurrent use, also while another batch settles.
func (a *Anonymizer) ScrubAhead(column, v string, x *Ahead) {
	*x = Ahead{column: column, in: v, seen: x.seen[:0], covered: x.covered[:0], redacted: x.redacted[:0], st: stats{keys: x.st.keys[:0], ns: x.st.ns[:0]}}
	x.st.ahead = x
	x.out = a.column(column, v, &x.st)
	x.st.ahead = nil
}

// NewBatch begins a batch: call it before its lines are scrubbed ahead,
// and End once they are settled.
func (a *Anonymizer) NewBatch() *Batch {
	b := &Batch{a: a}
	a.mu.Lock()
	a.tracking = append(a.tracking, &b.since)
	a.mu.Unlock()
	return b
}

// End stops tracking what is learned for b and counts its replacements.
func (b *Batch) End() {
	b.st.flush(b.a)
	b.st = stats{}
	b.a.mu.Lock()
	b.a.tracking = slices.DeleteFunc(b.a.tracking, func(t *trie) bool { return t == &b.since })
	b.a.mu.Unlock()
}

// Settle returns x's text as Column would have returned it now, in line
// order (see the package comment above).
func (b *Batch) Settle(x *Ahead) string {
	a := b.a
	if x.stale || b.touched(x.seen) {
		return a.Column(x.column, x.in)
	}
	a.covered.add(x.covered...)
	if len(x.redacted) > 0 {
		a.mu.Lock()
		for _, r := range x.redacted {
			if _, ok := a.redacted[r[0]]; !ok {
				a.redacted[strings.Clone(r[0])] = r[1] // not a piece of its line
			}
		}
		a.mu.Unlock()
	}
	for i, k := range x.st.keys {
		b.st.addN(k, x.st.ns[i])
	}
	return x.out
}

// touched says whether a value learned since the batch began occurs
// (case-folded) in one of texts.
func (b *Batch) touched(texts []string) bool {
	b.a.mu.RLock()
	defer b.a.mu.RUnlock()
	if b.since.n == 0 {
		return false
	}
	for _, t := range texts {
		if b.since.containsAny(t) {
			return true
		}
	}
	return false
}
