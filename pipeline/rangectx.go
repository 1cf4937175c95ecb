package pipeline

import "context"

type rangeKey struct{}

// WithRange returns ctx carrying the export's window grid, so log sources
// that query a time range (Loki) know what to fetch: LogSource.Open takes
// only a context. The runner sets it before opening log sources.
func WithRange(ctx context.Context, g Grid) context.Context {
	return context.WithValue(ctx, rangeKey{}, g)
}

// RangeFrom returns the grid WithRange put into ctx; ok is false when none
// was set.
func RangeFrom(ctx context.Context) (g Grid, ok bool) {
	g, ok = ctx.Value(rangeKey{}).(Grid)
	return g, ok
}
