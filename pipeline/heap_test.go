package pipeline

import (
	"container/heap"
	"math/rand/v2"
	"testing"
)

type keyed struct{ key, id int }

// refHeap is container/heap over the same values and order.
type refHeap []keyed

func (h refHeap) Len() int           { return len(h) }
func (h refHeap) Less(i, j int) bool { return h[i].key < h[j].key }
func (h refHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *refHeap) Push(x any)        { *h = append(*h, x.(keyed)) }
func (h *refHeap) Pop() any          { x := (*h)[len(*h)-1]; *h = (*h)[:len(*h)-1]; return x }

// TestHeapPopsLikeContainerHeap: the same pushes and pops give the same
// values in the same order as container/heap, ties included (which of
// two records that compare equal comes first must not change with the
// heap: the logs table's row order depends on it).
func TestHeapPopsLikeContainerHeap(t *testing.T) {
	h := NewHeap(func(a, b *keyed) bool { return a.key < b.key })
	var ref refHeap
	rng := rand.New(rand.NewPCG(1, 1))
	ties := 0
	for i := 0; i < 50000; i++ {
		if rng.IntN(3) > 0 || h.Len() == 0 {
			v := keyed{key: rng.IntN(20), id: i}
			h.Push(v)
			heap.Push(&ref, v)
			continue
		}
		if got, want := h.Pop(), heap.Pop(&ref).(keyed); got != want {
			t.Fatalf("step %d: popped %v, container/heap %v", i, got, want)
		} else if h.Len() > 0 && h.Min().key == got.key {
			ties++
		}
	}
	if ties == 0 {
		t.Fatal("no ties popped: the test shows nothing about them")
	}
}
