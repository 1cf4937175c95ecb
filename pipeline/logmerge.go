package pipeline

import (
	"container/heap"
	"errors"
)

// LogMerge merges log iterators, each in time order, into one stream in
// time order; records at the same instant come in input order. It is the
// one k-way merge of the logs path: a file source merges its files with it,
// the runner merges the sources. It reads one record ahead per input, so
// Peek knows the next record without consuming it.
type LogMerge struct {
	its   []LogIterator
	heads mergeHeap
	cur   LogRecord
	curIn int
	err   error
}

type mergeHead struct {
	rec LogRecord
	in  int
}

type mergeHeap []mergeHead

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.rec.Time.Equal(b.rec.Time) {
		return a.rec.Time.Before(b.rec.Time)
	}
	return a.in < b.in
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(mergeHead)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// MergeLogs reads the first record of every input; an input's error stops
// the merge (Err). The merge owns the inputs: Close closes them all.
func MergeLogs(its []LogIterator) *LogMerge {
	m := &LogMerge{its: its}
	for i, it := range its {
		if it.Next() {
			m.heads = append(m.heads, mergeHead{rec: it.At(), in: i})
		} else if err := it.Err(); err != nil {
			m.err, m.heads = err, nil
			return m
		}
	}
	heap.Init(&m.heads)
	return m
}

// Next advances to the next record in time order. After an input's
// error, Next returns false (the records before it were all returned).
func (m *LogMerge) Next() bool {
	if len(m.heads) == 0 {
		return false
	}
	m.cur, m.curIn = m.heads[0].rec, m.heads[0].in
	it := m.its[m.curIn]
	if it.Next() {
		m.heads[0].rec = it.At()
		heap.Fix(&m.heads, 0)
	} else if err := it.Err(); err != nil {
		m.err, m.heads = err, nil
	} else {
		heap.Pop(&m.heads)
	}
	return true
}

// Peek returns the record the next Next will return, if any.
func (m *LogMerge) Peek() (LogRecord, bool) {
	if len(m.heads) == 0 {
		return LogRecord{}, false
	}
	return m.heads[0].rec, true
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
