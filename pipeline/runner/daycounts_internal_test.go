package runner

import (
	"maps"
	"math/rand/v2"
	"testing"
)

// TestDayCountsEqualMap: in-order, late and repeated windows count as one
// map per key would.
func TestDayCountsEqualMap(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 3))
		d, want := newDayCounts(), map[countKey]int64{}
		w := int32(0)
		for range 1 + rng.IntN(5000) {
			switch r := rng.IntN(100); {
			case r < 5:
				w += int32(rng.IntN(3)) // the next windows
			case r < 8 && w > 0:
				k := countKey{window: int32(rng.IntN(int(w))), entity: int32(rng.IntN(4)), tpl: int32(rng.IntN(6))}
				d.add(k.window, k.entity, k.tpl) // a late line
				want[k]++
				continue
			}
			k := countKey{window: w, entity: int32(rng.IntN(4)), tpl: int32(rng.IntN(6))}
			d.add(k.window, k.entity, k.tpl)
			want[k]++
		}
		got := map[countKey]int64{}
		for _, c := range d.counts() {
			if _, dup := got[c.key]; dup {
				t.Fatalf("seed %d: key %+v twice", seed, c.key)
			}
			got[c.key] = c.n
		}
		if !maps.Equal(got, want) {
			t.Fatalf("seed %d: %d keys, want %d", seed, len(got), len(want))
		}
	}
	if !newDayCounts().empty() {
		t.Error("a new dayCounts is not empty")
	}
}
