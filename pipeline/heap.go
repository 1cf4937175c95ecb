package pipeline

// Heap is a binary min-heap ordered by less. container/heap boxes every
// pushed and popped value in an interface, an allocation per log record on
// the two merges of the logs path; this one keeps the values in place.
type Heap[T any] struct {
	items []T
	less  func(a, b *T) bool
}

// NewHeap returns an empty heap ordered by less.
func NewHeap[T any](less func(a, b *T) bool) Heap[T] { return Heap[T]{less: less} }

// Len is the number of values held.
func (h *Heap[T]) Len() int { return len(h.items) }

// Min is the least value; the heap must not be empty.
func (h *Heap[T]) Min() *T { return &h.items[0] }

// Push adds v.
func (h *Heap[T]) Push(v T) {
	h.items = append(h.items, v)
	for i := len(h.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(&h.items[i], &h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

// Pop removes and returns the least value; the heap must not be empty.
func (h *Heap[T]) Pop() T {
	n := len(h.items) - 1
	h.items[0], h.items[n] = h.items[n], h.items[0]
	v := h.items[n]
	var zero T
	h.items[n] = zero // drop references the slice would keep alive
	h.items = h.items[:n]
	h.down(0)
	return v
}

// FixMin restores the order after the least value (Min) was changed in
// place.
func (h *Heap[T]) FixMin() { h.down(0) }

// down moves the value at i down to its place.
func (h *Heap[T]) down(i int) {
	n := len(h.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(&h.items[r], &h.items[l]) {
			m = r
		}
		if !h.less(&h.items[m], &h.items[i]) {
			return
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
}
