package pipeline

import (
	"errors"
	"testing"
	"time"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNewGridAlignsToEpoch(t *testing.T) {
	cases := []struct {
		from, to   string
		step       time.Duration
		start, end string
		n          int
	}{
		{"2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", time.Minute, "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", 1440},
		{"2026-01-05T00:00:30Z", "2026-01-05T00:10:10Z", time.Minute, "2026-01-05T00:00:00Z", "2026-01-05T00:11:00Z", 11},
		{"2026-01-05T00:07:00Z", "2026-01-05T00:08:00Z", 5 * time.Minute, "2026-01-05T00:05:00Z", "2026-01-05T00:10:00Z", 1},
		{"1969-12-31T23:59:30Z", "1970-01-01T00:00:30Z", time.Minute, "1969-12-31T23:59:00Z", "1970-01-01T00:01:00Z", 2},
	}
	for _, c := range cases {
		g, err := NewGrid(ts(c.from), ts(c.to), c.step)
		if err != nil {
			t.Fatal(err)
		}
		if !g.Start.Equal(ts(c.start)) || !g.End.Equal(ts(c.end)) || g.Len() != c.n {
			t.Errorf("NewGrid(%s, %s, %s) = [%s, %s) n=%d; want [%s, %s) n=%d", c.from, c.to, c.step, g.Start, g.End, g.Len(), c.start, c.end, c.n)
		}
	}
}

func TestNewGridErrors(t *testing.T) {
	if _, err := NewGrid(ts("2026-01-05T00:00:00Z"), ts("2026-01-05T00:00:00Z"), time.Minute); !errors.Is(err, ErrEmptyRange) {
		t.Errorf("empty range: %v", err)
	}
	if _, err := NewGrid(ts("2026-01-05T00:00:00Z"), ts("2026-01-06T00:00:00Z"), 0); err == nil {
		t.Error("zero step must fail")
	}
	if _, err := NewGrid(ts("2026-01-05T00:00:00Z"), ts("2026-01-06T00:00:00Z"), 1500*time.Microsecond); err == nil {
		t.Error("sub-millisecond step must fail")
	}
}

func TestIndexAndOverlapping(t *testing.T) {
	g, _ := NewGrid(ts("2026-01-05T00:00:00Z"), ts("2026-01-05T01:00:00Z"), time.Minute)
	if i, ok := g.Index(ts("2026-01-05T00:10:59Z")); !ok || i != 10 {
		t.Errorf("Index = %d, %v", i, ok)
	}
	if _, ok := g.Index(ts("2026-01-05T01:00:00Z")); ok {
		t.Error("the grid end is outside the grid")
	}
	end := func(s string) *time.Time { x := ts(s); return &x }
	cases := []struct {
		from   string
		to     *time.Time
		lo, hi int
	}{
		{"2026-01-05T00:10:30Z", end("2026-01-05T00:20:00Z"), 10, 20}, // ends exactly on a window start: that window is not touched
		{"2026-01-05T00:10:30Z", end("2026-01-05T00:20:01Z"), 10, 21},
		{"2026-01-04T23:00:00Z", end("2026-01-05T00:00:30Z"), 0, 1},
		{"2026-01-05T00:50:00Z", nil, 50, 60},
		{"2026-01-05T02:00:00Z", nil, 0, 0},
		{"2026-01-04T00:00:00Z", end("2026-01-04T01:00:00Z"), 0, 0},
	}
	for _, c := range cases {
		lo, hi := g.Overlapping(ts(c.from), c.to)
		if lo != c.lo || hi != c.hi {
			t.Errorf("Overlapping(%s, %v) = [%d, %d); want [%d, %d)", c.from, c.to, lo, hi, c.lo, c.hi)
		}
	}
}

func TestDaysSplitAtMidnight(t *testing.T) {
	g, _ := NewGrid(ts("2026-01-05T22:00:00Z"), ts("2026-01-07T03:00:00Z"), 7*time.Minute)
	days := g.Days()
	if len(days) != 3 {
		t.Fatalf("want 3 days, got %d", len(days))
	}
	total := 0
	for i, d := range days {
		total += d.Len()
		if i > 0 && !d.Start.Equal(days[i-1].End) {
			t.Errorf("day %d does not continue the previous one", i)
		}
		if Date(d.Start) != Date(d.End.Add(-d.Step)) {
			t.Errorf("day %d spans two dates: %s .. %s", i, d.Start, d.End)
		}
	}
	if total != g.Len() || !days[0].Start.Equal(g.Start) || !days[2].End.Equal(g.End) {
		t.Fatalf("days do not cover the grid: %d of %d windows", total, g.Len())
	}
}

func TestNormalizeLevel(t *testing.T) {
	for in, want := range map[string]string{"INFO": LevelInfo, "Warning": LevelWarn, "ERR": LevelError, "fatal": LevelError, "trace": LevelDebug, "": LevelOther, "audit": LevelOther,
		"SEVERE": LevelError, "FINEST": LevelDebug, "CONFIG": LevelInfo, "Verbose": LevelDebug, "DPANIC": LevelError, "informational": LevelInfo,
		"a-level-name-longer-than-any": LevelOther, "ÉRROR": LevelOther} {
		if got := NormalizeLevel(in); got != want {
			t.Errorf("NormalizeLevel(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { NormalizeLevel("Warning") }); n != 0 {
		t.Errorf("NormalizeLevel allocates %v times a line", n)
	}
}

func TestProblemsKeepFirstExamples(t *testing.T) {
	var p Problems
	for i := 0; i < 20; i++ {
		p.Add("log:a", "f.log:1", "bad_timestamp", "x")
	}
	p.Add("log:b", "g.log:2", "invalid_json", "")
	r := p.Report()
	if p.Total() != 21 || r["log:a"].Count != 20 || len(r["log:a"].Examples) != MaxProblemExamples || r["log:b"].Reasons["invalid_json"] != 1 {
		t.Fatalf("unexpected report %+v", r)
	}
	if r["log:a"].Examples[0] != "f.log:1: bad_timestamp: x" {
		t.Fatalf("example %q", r["log:a"].Examples[0])
	}
}
