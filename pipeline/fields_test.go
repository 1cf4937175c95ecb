package pipeline

import (
	"fmt"
	"reflect"
	"testing"
)

// Records' fields handed out by one slab stay each their own: across block
// boundaries (a record begun in a full block moves whole into the next),
// after appends to an earlier record's slice, and a repeated key reads as
// its last value.
func TestFieldSlab(t *testing.T) {
	for _, perRecord := range []int{0, 1, 3, 7, fieldSlabBlock + 5} {
		t.Run(fmt.Sprint(perRecord), func(t *testing.T) {
			var s FieldSlab
			var got [][]LogField
			records := 2*fieldSlabBlock/3 + 11 // several blocks
			if perRecord > fieldSlabBlock {
				records = 4 // a record larger than a block
			}
			for r := 0; r < records; r++ {
				for i := 0; i < perRecord; i++ {
					s.Add(fmt.Sprint("k", i%3), fmt.Sprint(r, "/", i))
				}
				got = append(got, s.Take())
			}
			for r, fs := range got {
				_ = append(fs, LogField{"x", "clobber"}) // capped: never reaches the next record
				if perRecord == 0 {
					if fs != nil {
						t.Fatalf("record %d: %v, want nil", r, fs)
					}
					continue
				}
				want := make([]LogField, perRecord)
				for i := range want {
					want[i] = LogField{fmt.Sprint("k", i%3), fmt.Sprint(r, "/", i)}
				}
				if !reflect.DeepEqual(fs, want) {
					t.Fatalf("record %d: %v, want %v", r, fs, want)
				}
				rec := LogRecord{Fields: fs}
				if v, ok := rec.Field("k0"); !ok || v != fmt.Sprint(r, "/", (perRecord-1)/3*3) {
					t.Fatalf("record %d: k0 = %q, %v; want its last value", r, v, ok)
				}
				if _, ok := rec.Field("x"); ok {
					t.Fatalf("record %d: found a key it does not have", r)
				}
			}
		})
	}
}
