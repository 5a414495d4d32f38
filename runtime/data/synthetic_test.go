package data

import (
	"math"
	"testing"
)

func TestSynthetic(t *testing.T) {
	d, err := Synthetic(SyntheticOptions{Shape: []int{784}, Classes: 10, N: 256, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	x, y := d.Field("x"), d.Field("label")
	if x == nil || y == nil || len(x.F32) != 256*784 || len(y.I32) != 256 {
		t.Fatalf("fields %v", d.Fields)
	}
	var sum, sq float64
	for _, v := range x.F32 {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(x.F32))
	if mean, std := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n)); math.Abs(mean) > 0.02 || math.Abs(std-1) > 0.02 {
		t.Errorf("x: mean %.3f std %.3f, want N(0, 1)", mean, std)
	}
	seen := map[int32]bool{}
	for _, l := range y.I32 {
		seen[l] = true
	}
	if len(seen) != 10 {
		t.Errorf("labels cover %d classes, want 10", len(seen))
	}
	again, _ := Synthetic(SyntheticOptions{Shape: []int{784}, Classes: 10, N: 256, Seed: 1})
	if again.Field("x").F32[1000] != x.F32[1000] {
		t.Error("same options gave different data")
	}
	text, err := Synthetic(SyntheticOptions{Shape: []int{64}, Classes: 2, N: 8, Vocab: 8000})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range text.Field("ids").I32 {
		if id < 4 || id >= 8000 {
			t.Fatalf("id %d outside [4, 8000)", id)
		}
	}
	if _, err := Synthetic(SyntheticOptions{Shape: []int{4}, Classes: 0, N: 8}); err == nil {
		t.Error("classes 0 accepted")
	}
}
