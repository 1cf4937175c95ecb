package pipeline

import (
	"errors"
	"time"
)

// LogMerge merges log iterators, each in time order, into one stream in
// time order; records at the same instant come in input order. It is the
// one k-way merge of the logs path: a file source merges its files with it,
// the runner merges the sources. It reads one record ahead per input, so
// Peek knows the next record without consuming it.
//
// The heap orders small keys (an instant and an input), not the records:
// a glob over a cluster's pod logs merges thousands of files, and sifting
// whole records through a heap of thousands was a fifth of reading them.
type LogMerge struct {
	its    []LogIterator
	next   []LogRecord // each input's next record
	heads  Heap[mergeKey]
	cur    LogRecord
	curIn  int
	err    error
	primed bool // the inputs' first records are read (prime)
}

// mergeKey is an input with a next record, at that record's instant.
type mergeKey struct {
	sec  int64
	nsec int32
	in   int32
}

func keyOf(t time.Time, in int) mergeKey {
	return mergeKey{sec: t.Unix(), nsec: int32(t.Nanosecond()), in: int32(in)}
}

func mergeKeyLess(a, b *mergeKey) bool {
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	return a.in < b.in
}

// MergeLogs merges its inputs. The first record of every input is read by
// the first Next or Peek, on the goroutine that reads the merge (a read-
// ahead), not the one that opens it: an input may read far to find its
// first record (a long run of malformed lines, lines before the range).
// An input's error stops the merge (Err). The merge owns the inputs:
// Close closes them all.
func MergeLogs(its []LogIterator) *LogMerge {
	return &LogMerge{its: its, next: make([]LogRecord, len(its)), heads: NewHeap(mergeKeyLess)}
}

// prime reads the first record of every input, once.
func (m *LogMerge) prime() {
	if m.primed {
		return
	}
	m.primed = true
	for i, it := range m.its {
		if it.Next() {
			m.next[i] = it.At()
			m.heads.Push(keyOf(m.next[i].Time, i))
		} else if err := it.Err(); err != nil {
			m.err, m.heads = err, NewHeap(mergeKeyLess)
			return
		}
	}
}

// Next advances to the next record in time order. After an input's
// error, Next returns false (the records before it were all returned).
func (m *LogMerge) Next() bool {
	m.prime()
	if m.heads.Len() == 0 {
		return false
	}
	in := int(m.heads.Min().in)
	m.cur, m.curIn = m.next[in], in
	it := m.its[in]
	if it.Next() {
		m.next[in] = it.At()
		*m.heads.Min() = keyOf(m.next[in].Time, in)
		m.heads.FixMin()
	} else if err := it.Err(); err != nil {
		m.err, m.heads = err, NewHeap(mergeKeyLess)
	} else {
		m.next[in] = LogRecord{} // let its strings go
		m.heads.Pop()
	}
	return true
}

// Peek returns the record the next Next will return, if any.
func (m *LogMerge) Peek() (LogRecord, bool) {
	m.prime()
	if m.heads.Len() == 0 {
		return LogRecord{}, false
	}
	return m.next[m.heads.Min().in], true
}

// Input is the index of the input the current record came from.
func (m *LogMerge) Input() int { return m.curIn }

// At returns the current record.
func (m *LogMerge) At() LogRecord { return m.cur }

// Err is the first error of an input.
func (m *LogMerge) Err() error { return m.err }

// Close closes every input.
func (m *LogMerge) Close() error {
	var errs []error
	for _, it := range m.its {
		errs = append(errs, it.Close())
	}
	return errors.Join(errs...)
}
