package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SyntheticOptions describe random data with the shapes of a real task,
// for benchmarks and smoke tests.
type SyntheticOptions struct {
	Shape   []int // per-sample shape of the input field
	Classes int   // label classes (≥ 1)
	N       int   // samples
	Vocab   int   // > 0: the input is token ids in [4, Vocab) (field ids, with an all-true mask); 0: floats x ~ N(0, 1)
	Seed    uint64
}

// Synthetic returns N random samples: an input field (x: f32[Shape] from
// N(0, 1), or ids: i32[Shape] and mask) and a uniform random label. The
// same options give the same data.
func Synthetic(o SyntheticOptions) (*Dataset, error) {
	if o.N <= 0 || o.Classes <= 0 || len(o.Shape) == 0 {
		return nil, fmt.Errorf("synthetic: need n > 0, classes > 0 and a shape, got n %d, classes %d, shape %v", o.N, o.Classes, o.Shape)
	}
	size := 1
	for _, d := range o.Shape {
		if d <= 0 {
			return nil, fmt.Errorf("synthetic: shape %v has a non-positive dimension", o.Shape)
		}
		size *= d
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	d := &Dataset{Source: "synthetic", N: o.N}
	if o.Vocab > 0 {
		if o.Vocab <= 4 {
			return nil, fmt.Errorf("synthetic: vocab %d leaves no room after the 4 special tokens", o.Vocab)
		}
		ids := &Field{Name: "ids", DType: I32, Role: IDs, Shape: append([]int(nil), o.Shape...), Classes: o.Vocab, I32: make([]int32, o.N*size)}
		mask := &Field{Name: "mask", DType: I32, Role: Mask, Shape: append([]int(nil), o.Shape...), I32: make([]int32, o.N*size)}
		for i := range ids.I32 {
			ids.I32[i] = int32(4 + r.IntN(o.Vocab-4))
			mask.I32[i] = 1
		}
		d.Fields = append(d.Fields, ids, mask)
	} else {
		x := &Field{Name: "x", DType: F32, Role: Feature, Shape: append([]int(nil), o.Shape...), F32: make([]float32, o.N*size)}
		for i := range x.F32 {
			x.F32[i] = float32(r.NormFloat64())
			if math.IsInf(float64(x.F32[i]), 0) {
				x.F32[i] = 0
			}
		}
		d.Fields = append(d.Fields, x)
	}
	label := &Field{Name: "label", DType: I32, Role: Label, Classes: o.Classes, I32: make([]int32, o.N)}
	for i := range label.I32 {
		label.I32[i] = int32(r.IntN(o.Classes))
	}
	d.Fields = append(d.Fields, label)
	return d, d.Validate()
}
