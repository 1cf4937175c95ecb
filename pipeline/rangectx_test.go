package pipeline

import (
	"context"
	"testing"
	"time"
)

func TestRangeContext(t *testing.T) {
	if _, ok := RangeFrom(context.Background()); ok {
		t.Fatal("RangeFrom on a bare context reported a range")
	}
	g := Grid{Start: time.Unix(0, 0).UTC(), End: time.Unix(3600, 0).UTC(), Step: time.Minute}
	got, ok := RangeFrom(WithRange(context.Background(), g))
	if !ok || got != g {
		t.Fatalf("RangeFrom = %v, %v; want %v, true", got, ok, g)
	}
}
