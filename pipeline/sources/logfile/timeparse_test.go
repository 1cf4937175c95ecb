package logfile

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// parseEveryLayout is the default parse as first written: each layout
// tried in turn.
func parseEveryLayout(p *timeParser, s string) (time.Time, string, string) {
	for _, l := range zonedLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), "", ""
		}
	}
	for _, l := range naiveLayouts {
		if _, err := time.Parse(l, s); err == nil {
			if p.loc == nil {
				return time.Time{}, reasonNaive, naiveDetail
			}
			t, _ := time.ParseInLocation(l, s, p.loc)
			return t.UTC(), "", ""
		}
	}
	return time.Time{}, reasonBadTime, "not RFC 3339: " + pipeline.DescribeShape(s)
}

var timestampSeeds = []string{
	"2026-01-05T10:00:00Z", "2026-01-05T10:00:00.123456789Z", "2026-01-05T10:00:00+02:00", "2026-01-05T10:00:00.5-07:30",
	"2026-01-05 10:00:00Z", "2026-01-05 10:00:00.123+01:00", "2026-01-05 10:00:00", "2026-01-05T10:00:00",
	"2026-01-05 10:00:00.123", "2026-01-05 10:00:00,123", "2026-01-05T10:00:00.123", "2026-03-29 02:30:00",
	"2026-01-05t10:00:00z", "2026-01-05 10:00:00 +01:00", "2026-1-5 10:00:00", "05/Jan/2026:10:00:00 +0100",
	"", "Z", "+01:00", "2026-01-05", "2026-01-05T", "2026-02-30 10:00:00", "2026-01-05 24:00:00", "1767607200",
	"2026-01-05T10:00:00+0100", "2026-01-05T10:00:00.123-0730", "2026-01-05 10:00:00,123+0000",
	"2026-01-05 10:00:00 +0100", "2026-01-05 10:00:00.123456789 +0000 UTC", "2026-01-05 10:00:00 -0500 EST",
	"2026-01-05 10:00:00.123 UTC", "2026-01-05 10:00:00 GMT", "2026-01-05 10:00:00 CST", "2026/01/05 10:00:00",
	"2026/01/05 10:00:00.123456",
}

// TestDefaultTimestampShapes: what common producers write parses without a
// time_layout, to the instant it names.
func TestDefaultTimestampShapes(t *testing.T) {
	want := time.Date(2026, 1, 5, 9, 0, 0, 123e6, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	p := newTimeParser("", berlin)
	for _, s := range []string{
		"2026-01-05T10:00:00.123+0100",      // Java SimpleDateFormat Z, logback, Python %z
		"2026-01-05 10:00:00.123 +0100",     // Ruby Time#to_s with fractions
		"2026-01-05 09:00:00.123 +0000 UTC", // Go time.Time.String
		"2026-01-05 04:00:00.123 -0500 EST", // the offset decides, not the abbreviation
		"2026-01-05 09:00:00.123 UTC",       // PostgreSQL %m
		"2026-01-05 09:00:00.123 GMT",       //
		"2026/01/05 10:00:00.123",           // Go's log package, in the source's timezone
		"2026-01-05 10:00:00,123",           // Python logging, log4j: a comma, local time
	} {
		got, reason, detail := p.parse(s)
		if reason != "" || !got.Equal(want) {
			t.Errorf("%q: %v %s %s, want %v", s, got, reason, detail, want)
		}
	}
	if _, reason, _ := p.parse("2026-01-05 10:00:00 CST"); reason != reasonBadTime {
		t.Errorf("a bare zone abbreviation was guessed (%q)", reason)
	}
}

// The default parse gives every timestamp what trying each layout in turn
// gives: the same time, or the same problem and detail, with and without
// a timezone. Seeds and their one-byte mutations.
func TestParseDefaultAsEveryLayout(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 2))
	alphabet := "0123456789-:+.,TtZz /"
	cases := slicesOfMutations(rng, timestampSeeds, alphabet, 40)
	for _, loc := range []*time.Location{nil, berlin} {
		p := newTimeParser("", loc)
		for _, s := range cases {
			gt, gr, gd := p.parse(s)
			wt, wr, wd := parseEveryLayout(p, s)
			if !gt.Equal(wt) || gt.Location() != wt.Location() || gr != wr || gd != wd {
				t.Errorf("loc %v, %q: got %v %q %q, want %v %q %q", loc, s, gt, gr, gd, wt, wr, wd)
			}
		}
	}
}

// slicesOfMutations is seeds plus n one-byte mutations of each (a byte
// replaced, inserted or deleted).
func slicesOfMutations(rng *rand.Rand, seeds []string, alphabet string, n int) []string {
	out := append([]string(nil), seeds...)
	for _, s := range seeds {
		for range n {
			b := []byte(s)
			c := alphabet[rng.IntN(len(alphabet))]
			switch i := rng.IntN(len(b) + 1); {
			case i < len(b) && rng.IntN(3) == 0:
				b = append(b[:i], b[i+1:]...)
			case i < len(b) && rng.IntN(2) == 0:
				b[i] = c
			default:
				b = append(b[:i], append([]byte{c}, b[i:]...)...)
			}
			out = append(out, string(b))
		}
	}
	return out
}

func FuzzParseDefault(f *testing.F) {
	for _, s := range timestampSeeds {
		f.Add(s, true)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string, zoned bool) {
		loc := berlin
		if !zoned {
			loc = nil
		}
		p := newTimeParser("", loc)
		gt, gr, gd := p.parse(s)
		wt, wr, wd := parseEveryLayout(p, s)
		if !gt.Equal(wt) || gr != wr || gd != wd {
			t.Errorf("%q: got %v %q %q, want %v %q %q", s, gt, gr, gd, wt, wr, wd)
		}
	})
}

// A reader's time memo answers what a parse without it answers, for runs
// of lines in one second and a few, in every ISO layout, zone and fraction
// length (none to ten digits, '.' or ','), near misses of each, and the
// second at a DST change; and it is used.
func TestTimeMemoAsParse(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(6, 1))
	stamp := func() string {
		sec := []string{"2026-01-05T10:00:00", "2026-01-05T10:00:01", "2026-03-29T02:30:00", "2026-10-25T02:30:00"}[rng.IntN(4)]
		if rng.IntN(3) == 0 {
			sec = sec[:10] + " " + sec[11:]
		}
		frac := ""
		if n := rng.IntN(11); n > 0 {
			frac = []string{".", ","}[rng.IntN(2)]
			for range n {
				frac += string(rune('0' + rng.IntN(10)))
			}
		}
		zone := []string{"", "Z", "+01:00", "-0530", " UTC", " +0100"}[rng.IntN(6)]
		s := sec + frac + zone
		if rng.IntN(10) == 0 { // a near miss: one byte changed
			b := []byte(s)
			b[rng.IntN(len(b))] = "0:.,Zx "[rng.IntN(7)]
			s = string(b)
		}
		return s
	}
	for _, layout := range []string{"", "2006-01-02 15:04:05.000", "2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05"} {
		for _, loc := range []*time.Location{nil, time.UTC, berlin} {
			p, fresh := newTimeParser(layout, loc), newTimeParser(layout, loc)
			if !p.iso {
				t.Fatalf("layout %q: not taken for ISO", layout)
			}
			hits := 0
			for range 3000 {
				s := stamp()
				_, memoHit := p.memo.lookup(s, p.iso)
				gt, gr, gd := p.parse(s)
				wt, wr, wd := fresh.parseText(s)
				if !gt.Equal(wt) || gt.Location() != wt.Location() || gr != wr || gd != wd {
					t.Fatalf("layout %q loc %v, %q (memo hit %v): got %v %q %q, want %v %q %q", layout, loc, s, memoHit, gt, gr, gd, wt, wr, wd)
				}
				if memoHit {
					hits++
				}
			}
			if hits == 0 && (layout == "" || loc != nil) {
				t.Errorf("layout %q loc %v: the memo never answered", layout, loc)
			}
		}
	}
	for _, l := range []string{"02/Jan/2006:15:04:05 -0700", "unix_ms", "Jan _2 15:04:05", "2006-01-02T15:04"} {
		if newTimeParser(l, nil).iso {
			t.Errorf("layout %q taken for ISO", l)
		}
	}
	// Any other layout: only a repeated text is answered from the memo.
	p, fresh := newTimeParser("02/Jan/2006:15:04:05 -0700", nil), newTimeParser("02/Jan/2006:15:04:05 -0700", nil)
	hits := 0
	for range 2000 {
		s := []string{"05/Jan/2026:10:00:00 +0100", "05/Jan/2026:10:00:01 +0100", "05/Jan/2026:10:00:01 -0500", "05/Jxn/2026:10:00:01 +0100", ""}[rng.IntN(5)]
		_, memoHit := p.memo.lookup(s, p.iso)
		gt, gr, gd := p.parse(s)
		wt, wr, wd := fresh.parseText(s)
		if !gt.Equal(wt) || gt.Location() != wt.Location() || gr != wr || gd != wd {
			t.Fatalf("%q (memo hit %v): got %v %q %q, want %v %q %q", s, memoHit, gt, gr, gd, wt, wr, wd)
		}
		if memoHit {
			hits++
		}
	}
	if hits == 0 {
		t.Error("the memo never answered a repeated text")
	}
}
