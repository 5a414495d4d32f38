package cpu

import (
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestSumRuns checks that sumRuns gives sumRun's result bit for bit,
// for runs of lengths around multiples of 4, counts around multiples of
// 4, and runs further apart than their length.
func TestSumRuns(t *testing.T) {
	defer func(b bool) { simdOn = b }(simdOn)
	simdOn = hasAVX2FMA
	r := rand.New(rand.NewSource(8))
	for _, n := range []int{1, 3, 4, 5, 8, 11, 784} {
		for _, runs := range []int{1, 3, 4, 6, 9} {
			stride := n + r.Intn(5)
			x := make([]float32, (runs-1)*stride+n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * math.Exp(4*r.NormFloat64()))
			}
			s := make([]float64, runs)
			sumRuns(s, x, n, stride)
			for i, got := range s {
				if want := sumRun(x[i*stride:][:n]); got != want {
					t.Fatalf("n %d, runs %d: run %d sums to %v, want %v", n, runs, i, got, want)
				}
			}
		}
	}
}

// TestSumRunsParallel checks that sums whose innermost reduced runs go
// over the cores (sumWalk.runSums) give the serial walk's bits: conv
// bias gradients (reduce_to [N, C, H, W] → [1, C, 1, 1]) and sums over
// outer and inner axes, with run counts that are no multiple of 4 and
// runs too short for the vector kernel.
func TestSumRunsParallel(t *testing.T) {
	defer func(b bool) { simdOn = b }(simdOn)
	r := rand.New(rand.NewSource(2))
	for _, c := range []struct {
		x, to ir.Shape
	}{
		{ir.Shape{64, 6, 28, 28}, ir.Shape{1, 6, 1, 1}},
		{ir.Shape{7, 5, 3, 9}, ir.Shape{1, 5, 1, 1}},
		{ir.Shape{3, 2, 5}, ir.Shape{1, 2, 1}},
		{ir.Shape{9, 3, 2}, ir.Shape{1, 3, 1}},
		{ir.Shape{6, 40}, ir.Shape{1, 1}},
	} {
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		x := must(b.Input("x", ir.RoleData, ir.Type{DType: ir.F32, Shape: c.x}))
		g.AddOutput("y", must(b.ReduceTo(x, c.to)))
		vals := map[string][]float64{"x": make([]float64, c.x.NumElements())}
		for i := range vals["x"] {
			vals["x"][i] = float64(float32(r.NormFloat64() * math.Exp(3*r.NormFloat64())))
		}
		var out [2][]float64
		for i, simd := range []bool{false, true} {
			if simd && !hasAVX2FMA {
				continue
			}
			simdOn = simd
			p, err := Compile(g, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			bindAll(t, p, g, vals)
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			out[i] = values(p.outputs["y"])
		}
		if out[1] == nil {
			continue
		}
		for j := range out[0] {
			if out[1][j] != out[0][j] {
				t.Fatalf("%v → %v: y[%d] = %v over the cores, %v serial", c.x, c.to, j, out[1][j], out[0][j])
			}
		}
	}
}
