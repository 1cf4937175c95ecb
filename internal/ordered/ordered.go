// Package ordered runs independent pieces of work on several goroutines
// and hands their results over in order, so that what is built from them
// is the same as from running them one after the other.
package ordered

import (
	"context"
	"runtime"
	"sync"
)

// maxInFlight bounds the pieces WorkersFor allows at once, whatever the
// cores: a range-query slice holds its inner points, and a 64-core machine
// must not hold 64 of them.
const maxInFlight = 4

// Concurrent is implemented by a storage that says how many queries may
// run on it at once (a TSDB head's readers keep per-querier state and
// serve one).
type Concurrent interface {
	QueryConcurrency() int
}

// WorkersFor is how many goroutines to give pieces of work on v: one per
// core, at most maxInFlight and at most what v serves; 1 unless v is
// Concurrent, so a storage that does not say it serves concurrent queries
// gets them one at a time.
func WorkersFor(v any) int {
	c, ok := v.(Concurrent)
	if !ok {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), maxInFlight, c.QueryConcurrency()))
}

// Do runs work(ctx, i) for every i in [0, n) on at most workers
// goroutines and calls consume(i, result) in index order, on the calling
// goroutine. At most workers results are computed or waiting at a time, so
// memory stays that of workers pieces. The first error (of work, in index
// order, or of consume) stops the rest: the context passed to work is
// cancelled and Do returns once every goroutine it started has ended.
func Do[T any](ctx context.Context, n, workers int, work func(ctx context.Context, i int) (T, error), consume func(i int, v T) error) error {
	workers = max(workers, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		v    T
		err  error
		slot bool // the piece ran in a slot, to give back
	}
	results := make([]chan result, n)
	for i := range results {
		results[i] = make(chan result, 1)
	}
	slots := make(chan struct{}, workers) // taken at start, given back once consumed
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				for ; i < n; i++ {
					results[i] <- result{err: ctx.Err()} // never started: no slot
				}
				return
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				v, err := work(ctx, i)
				results[i] <- result{v, err, true}
			}(i)
		}
	}()
	var err error
	for i := 0; i < n; i++ {
		r := <-results[i]
		if r.slot {
			<-slots
		}
		if r.err != nil {
			err = r.err
			break
		}
		if err = consume(i, r.v); err != nil {
			break
		}
	}
	cancel()
	wg.Wait()
	return err
}
