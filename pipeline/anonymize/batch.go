package anonymize

import "slices"

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
//     scrub began (by Settle's own re-scrubs, an earlier batch settling
//     meanwhile, or anything else) occurs in a text it read. The scrub saw
//     the state of its beginning plus some of those values, and the
//     sequential scrub would see all of them; as none occurs in what it
//     read, every lookup it made gives the same answer in all three, so
//     the result is the sequential one. Otherwise Settle scrubs the line
//     again, in order, learning as Text does. Learnings are numbered
//     (Anonymizer.learnSeq) and each scrub notes the number it began at;
//     a batch tracks what is learned from its beginning, before any of
//     its scrubs.
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
	gen             uint64      // the anonymizer's learnSeq when the scrub began
}

// Batch is a run of scrubs ahead being settled in order. Between
// NewBatch and End, the values the anonymizer learns are tracked. Several
// batches may be open: the next one's lines are scrubbed ahead while this
// one settles.
type Batch struct {
	a     *Anonymizer
	since learnedSince
}

// learnedSince is what a batch tracks: the values learned since it began,
// each with the number of its latest learning.
type learnedSince struct {
	t    trie
	seqs []uint64 // by pattern id
}

func (l *learnedSince) add(folded string, seq uint64) {
	id := l.t.insert(folded)
	if int(id) == len(l.seqs) {
		l.seqs = append(l.seqs, seq)
		return
	}
	l.seqs[id] = seq
}

// ScrubAhead is Column(column, v) computed against the current state
// without changing it, for Batch.Settle of a batch begun (NewBatch) before
// the call. Safe for concurrent use, also while another batch settles.
func (a *Anonymizer) ScrubAhead(column, v string, x *Ahead) {
	a.mu.RLock()
	gen := a.learnSeq
	a.mu.RUnlock()
	*x = Ahead{column: column, in: v, seen: x.seen[:0], covered: x.covered[:0], redacted: x.redacted[:0], st: stats{keys: x.st.keys[:0], ns: x.st.ns[:0]}, gen: gen}
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

// End stops tracking what is learned for b.
func (b *Batch) End() {
	b.a.mu.Lock()
	b.a.tracking = slices.DeleteFunc(b.a.tracking, func(t *learnedSince) bool { return t == &b.since })
	b.a.mu.Unlock()
}

// Settle returns x's text as Column would have returned it now, in line
// order (see the package comment above).
func (b *Batch) Settle(x *Ahead) string {
	a := b.a
	if x.stale || b.touched(x.seen, x.gen) {
		return a.Column(x.column, x.in)
	}
	if len(x.covered) > 0 || len(x.redacted) > 0 {
		a.mu.Lock()
		for _, k := range x.covered {
			a.covered[k] = struct{}{}
		}
		for _, r := range x.redacted {
			if _, ok := a.redacted[r[0]]; !ok {
				a.redacted[r[0]] = r[1]
			}
		}
		a.mu.Unlock()
	}
	x.st.flush(a)
	return x.out
}

// touched says whether a value learned after learning number gen (once
// the scrub began: it may have missed it) occurs, case-folded, in one of
// texts. Values learned before gen, also since the batch began, were
// there for the scrub to see.
func (b *Batch) touched(texts []string, gen uint64) bool {
	b.a.mu.RLock()
	defer b.a.mu.RUnlock()
	if b.since.t.n == 0 {
		return false
	}
	after := func(id int32) bool { return b.since.seqs[id] > gen }
	for _, t := range texts {
		if b.since.t.containsFunc(t, after) {
			return true
		}
	}
	return false
}
