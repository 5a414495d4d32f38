package data

import (
	"slices"
	"testing"
)

func TestBatcherSizes(t *testing.T) {
	for _, c := range []struct {
		n, batch int
		drop     bool
		want     []int
	}{
		{100, 50, false, []int{50}},
		{101, 50, false, []int{50, 1}},
		{101, 50, true, []int{50}},
		{30, 50, false, []int{30}},
		{30, 50, true, nil},
	} {
		d := &Dataset{N: c.n, Fields: []*Field{{Name: "x", DType: F32, Shape: []int{1}, F32: make([]float32, c.n)}}}
		b, err := NewBatcher(d, c.batch, BatchOptions{DropLast: c.drop})
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Sizes(); !slices.Equal(got, c.want) {
			t.Errorf("%d samples, batch %d, drop last %v: sizes %v, want %v", c.n, c.batch, c.drop, got, c.want)
		}
	}
}
