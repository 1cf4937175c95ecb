package pipeline

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

type sliceIter struct {
	recs   []LogRecord
	i      int
	err    error // returned after the records
	closed bool
}

func (s *sliceIter) Next() bool {
	if s.i < len(s.recs) {
		s.i++
		return true
	}
	return false
}
func (s *sliceIter) At() LogRecord { return s.recs[s.i-1] }
func (s *sliceIter) Err() error {
	if s.i == len(s.recs) {
		return s.err
	}
	return nil
}
func (s *sliceIter) Close() error { s.closed = true; return nil }

func recs(src string, minutes ...int) []LogRecord {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	out := make([]LogRecord, len(minutes))
	for i, m := range minutes {
		out[i] = LogRecord{Time: t0.Add(time.Duration(m) * time.Minute), Source: src, Line: int64(i + 1)}
	}
	return out
}

func TestMergeLogs(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name    string
		inputs  [][]LogRecord
		errAt   int // input that fails after its records; -1 none
		want    []string
		wantErr error
	}{
		{"interleaved", [][]LogRecord{recs("a", 1, 3, 5), recs("b", 2, 4)}, -1, []string{"a1", "b1", "a2", "b2", "a3"}, nil},
		{"ties by input order", [][]LogRecord{recs("a", 1, 1), recs("b", 1)}, -1, []string{"a1", "a2", "b1"}, nil},
		{"empty inputs", [][]LogRecord{nil, recs("b", 7), nil}, -1, []string{"b1"}, nil},
		{"error stops after the records before it", [][]LogRecord{recs("a", 1, 9), recs("b", 2)}, 1, []string{"a1", "b1"}, boom},
		{"nothing", nil, -1, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var its []LogIterator
			var raw []*sliceIter
			for i, r := range tc.inputs {
				s := &sliceIter{recs: r}
				if i == tc.errAt {
					s.err = boom
				}
				its = append(its, s)
				raw = append(raw, s)
			}
			m := MergeLogs(its)
			var got []string
			for {
				next, peeked := m.Peek()
				if !m.Next() {
					if peeked {
						t.Fatal("Peek promised a record Next did not return")
					}
					break
				}
				if !peeked || !next.Time.Equal(m.At().Time) || next.Source != m.At().Source {
					t.Fatalf("Peek %+v, then Next %+v", next, m.At())
				}
				got = append(got, fmt.Sprintf("%s%d", m.At().Source, m.At().Line))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("merged %v, want %v", got, tc.want)
			}
			if !errors.Is(m.Err(), tc.wantErr) || (tc.wantErr == nil && m.Err() != nil) {
				t.Errorf("Err = %v, want %v", m.Err(), tc.wantErr)
			}
			m.Close()
			for i, s := range raw {
				if !s.closed {
					t.Errorf("input %d not closed", i)
				}
			}
		})
	}
}

// Many inputs with many ties, at second and sub-second instants and across
// zones and the Unix epoch: the merge is a stable sort by instant, then
// input.
func TestMergeLogsManyInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	zones := []*time.Location{time.UTC, time.FixedZone("x", -5*3600), time.FixedZone("y", 3600+1800)}
	t0 := time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC)
	type at struct {
		t      time.Time
		in, at int
	}
	var all []at
	var its []LogIterator
	for in := range 300 {
		var rs []LogRecord
		ns := int64(0)
		for k := range rng.IntN(40) {
			ns += rng.Int64N(3) * int64([]time.Duration{time.Second, time.Millisecond, 1}[rng.IntN(3)])
			tm := t0.Add(time.Duration(ns)).In(zones[rng.IntN(len(zones))])
			rs = append(rs, LogRecord{Time: tm, Source: fmt.Sprint(in), Line: int64(k)})
			all = append(all, at{tm, in, k})
		}
		its = append(its, &sliceIter{recs: rs})
	}
	slices.SortStableFunc(all, func(a, b at) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.in, b.in)
	})
	m := MergeLogs(its)
	defer m.Close()
	for i, want := range all {
		if !m.Next() {
			t.Fatalf("merge ended after %d of %d records", i, len(all))
		}
		if got := m.At(); got.Source != fmt.Sprint(want.in) || got.Line != int64(want.at) || m.Input() != want.in {
			t.Fatalf("record %d: input %s line %d, want input %d line %d", i, got.Source, got.Line, want.in, want.at)
		}
	}
	if m.Next() {
		t.Error("records after the last")
	}
}

// TestMergeLogsReadsOnFirstUse: opening a merge reads no input (the first
// records are read on the goroutine that reads the merge), and an input's
// error found then stops the merge like any other.
func TestMergeLogsReadsOnFirstUse(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		first func(m *LogMerge) bool
		err   error
	}{
		{"next", (*LogMerge).Next, nil},
		{"peek", func(m *LogMerge) bool { _, ok := m.Peek(); return ok }, nil},
		{"next after an input's error", (*LogMerge).Next, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &sliceIter{recs: recs("a", 2, 3)}
			b := &sliceIter{recs: recs("b", 1), err: tc.err}
			if tc.err != nil {
				b.recs = nil
			}
			m := MergeLogs([]LogIterator{a, b})
			if a.i != 0 || b.i != 0 || m.Err() != nil {
				t.Fatalf("opening read inputs: a at %d, b at %d, err %v", a.i, b.i, m.Err())
			}
			ok := tc.first(m)
			if tc.err != nil {
				if ok || !errors.Is(m.Err(), boom) {
					t.Fatalf("got ok=%v err=%v, want the input's error", ok, m.Err())
				}
				return
			}
			if !ok || a.i != 1 || b.i != 1 {
				t.Fatalf("first use: ok=%v, a at %d, b at %d; want every input's first record read", ok, a.i, b.i)
			}
		})
	}
}
