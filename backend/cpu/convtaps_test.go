package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestConvTapsMatch runs conv2d (with its bias folded in),
// conv2d_backward_weight and conv2d_backward_input by the tap kernels
// and by im2col + GEMM or addDots (+ col2im). The forward sums the taps in the same order from zero and
// adds the bias last, as the GEMM does, so it is bit-equal; the
// gradients sum in another order and must agree to float32 rounding (and so must the forward of a single output channel, which
// the GEMM runs as a matrix-vector product in another order). The cases
// cover several channel groups of 6 (the last one
// short), pixels that are no multiple of 16 or 8, padding and dilation
// that differ along the axes, several input channels, and batches that
// leave a short last segment.
func TestConvTapsMatch(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	defer func(b bool) { tapsOn = b }(tapsOn)
	for _, c := range []struct {
		at   ir.Conv2DAttr
		x, w ir.Shape
		back int // 1: the input gradient runs on taps too
	}{
		{ir.Conv2DAttr{Padding: [2]int{2, 2}}, ir.Shape{5, 1, 28, 28}, ir.Shape{6, 1, 5, 5}, 1},
		{ir.Conv2DAttr{}, ir.Shape{3, 6, 14, 14}, ir.Shape{16, 6, 5, 5}, 1},
		{ir.Conv2DAttr{Padding: [2]int{1, 2}, Dilation: [2]int{2, 1}}, ir.Shape{3, 2, 9, 7}, ir.Shape{7, 2, 3, 2}, 0},
		{ir.Conv2DAttr{Padding: [2]int{0, 1}, Dilation: [2]int{1, 3}}, ir.Shape{9, 3, 6, 11}, ir.Shape{13, 3, 2, 3}, 0},
		{ir.Conv2DAttr{Padding: [2]int{1, 1}}, ir.Shape{2, 1, 4, 5}, ir.Shape{1, 1, 3, 3}, 0},
		// input gradients: 8 planes (a group of 6 and one of 2), 4 rows
		// of zeros around dy, padding and dilation along both axes
		{ir.Conv2DAttr{Padding: [2]int{1, 2}, Dilation: [2]int{2, 1}}, ir.Shape{3, 2, 9, 12}, ir.Shape{5, 2, 3, 4}, 1},
		{ir.Conv2DAttr{Padding: [2]int{0, 3}, Dilation: [2]int{1, 2}}, ir.Shape{4, 3, 5, 16}, ir.Shape{3, 3, 2, 4}, 1},
		// plane rows 2 and 3 lie between the two kernel rows' reach: no tap
		{ir.Conv2DAttr{Padding: [2]int{0, 1}, Dilation: [2]int{4, 1}}, ir.Shape{2, 1, 6, 16}, ir.Shape{2, 1, 2, 3}, 1},
	} {
		at := c.at
		at.Stride = [2]int{1, 1}
		if at.Dilation == [2]int{} {
			at.Dilation = [2]int{1, 1}
		}
		name := fmt.Sprintf("x%v_w%v", c.x, c.w)
		t.Run(name, func(t *testing.T) {
			g := ir.NewGraph()
			b := ir.NewBuilder(g)
			x := must(b.Input("x", ir.RoleData, ir.Type{DType: ir.F32, Shape: c.x}))
			w := must(b.Input("w", ir.RoleData, ir.Type{DType: ir.F32, Shape: c.w}))
			bias := must(b.Input("b", ir.RoleData, f32(1, c.w[0], 1, 1)))
			y := must(b.Add(must(b.Conv2D(x, w, at)), bias))
			dy := must(b.Input("dy", ir.RoleData, y.Type))
			dw := must(b.Conv2DBackwardWeight(x, dy, c.w, at))
			dx := must(b.Conv2DBackwardInput(dy, w, c.x, at))
			g.AddOutput("y", y)
			g.AddOutput("dw", dw)
			g.AddOutput("dx", dx)
			vals := initInputs(g, rand.New(rand.NewSource(3)))
			var out [2]map[string][]float64
			for i, on := range []bool{false, true} {
				tapsOn = on
				for _, threads := range []int{1, 2} {
					p, err := Compile(g, Options{Threads: threads})
					if err != nil {
						t.Fatal(err)
					}
					taps := 0
					for _, s := range p.steps {
						if k, ok := s.k.(*convKernel); ok && k.taps {
							taps++
						}
					}
					wantTaps := 0
					if on {
						wantTaps = 2 + c.back // conv2d, its weight gradient and maybe its input gradient
					}
					if taps != wantTaps {
						t.Fatalf("taps %v: %d tap kernels, want %d", on, taps, wantTaps)
					}
					bindAll(t, p, g, vals)
					for range 2 { // the second run reuses the planes
						if err := p.Run(); err != nil {
							t.Fatal(err)
						}
					}
					got := map[string][]float64{}
					for name, b := range p.outputs {
						got[name] = values(b)
					}
					if threads == 1 {
						out[i] = got
						continue
					}
					for j, v := range got["y"] { // the forward does not depend on the threads
						if v != out[i]["y"][j] {
							t.Fatalf("taps %v: y[%d] = %v on 2 threads, %v on 1", on, j, v, out[i]["y"][j])
						}
					}
				}
			}
			for j, v := range out[1]["y"] {
				if want := out[0]["y"][j]; c.w[0] == 1 && math.Abs(v-want) <= 1e-6*(1+math.Abs(want)) {
					continue
				}
				if v != out[0]["y"][j] {
					t.Fatalf("y[%d] = %v by taps, %v by GEMM", j, v, out[0]["y"][j])
				}
			}
			for _, name := range []string{"dw", "dx"} {
				for j, v := range out[1][name] {
					if want := out[0][name][j]; math.Abs(v-want) > 1e-5*(1+math.Abs(want)) {
						t.Fatalf("%s[%d] = %v by taps, %v by GEMM or addDots", name, j, v, want)
					}
				}
			}
		})
	}
}

// TestCol2imPlanes checks col2imPlanes against col2im (the portable
// loops) to float32 rounding, for column matrices whose rows are ld
// floats apart, with padding and dilation along both axes, and that it
// is chosen only where its pieces have at least 8 floats.
func TestCol2imPlanes(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	defer func(b bool) { simdOn = b }(simdOn)
	r := rand.New(rand.NewSource(4))
	for _, c := range []struct {
		at   ir.Conv2DAttr
		x, w ir.Shape
		ok   bool
	}{
		{ir.Conv2DAttr{}, ir.Shape{1, 6, 14, 14}, ir.Shape{16, 6, 5, 5}, true},
		{ir.Conv2DAttr{Padding: [2]int{2, 1}, Dilation: [2]int{2, 1}}, ir.Shape{1, 3, 11, 12}, ir.Shape{4, 3, 3, 2}, true},
		{ir.Conv2DAttr{Padding: [2]int{0, 3}, Dilation: [2]int{1, 2}}, ir.Shape{1, 2, 5, 16}, ir.Shape{3, 2, 2, 4}, true},
		{ir.Conv2DAttr{Padding: [2]int{1, 1}}, ir.Shape{1, 3, 8, 8}, ir.Shape{8, 3, 3, 3}, false}, // pieces of 7
	} {
		at := c.at
		at.Stride = [2]int{1, 1}
		if at.Dilation == [2]int{} {
			at.Dilation = [2]int{1, 1}
		}
		oh := c.x[2] + 2*at.Padding[0] - at.Dilation[0]*(c.w[2]-1)
		ow := c.x[3] + 2*at.Padding[1] - at.Dilation[1]*(c.w[3]-1)
		g := newConvGeom(at, c.x, c.w, ir.Shape{1, c.w[0], oh, ow})
		simdOn = true
		if g.col2imPlanesOK() != c.ok {
			t.Fatalf("%v %v: col2imPlanesOK = %v", c.x, c.w, !c.ok)
		}
		if !c.ok {
			continue
		}
		ld := g.p() + 3
		col := make([]float32, g.ckk()*ld)
		for i := range col {
			col[i] = float32(r.NormFloat64())
		}
		X := make([]float32, g.planesLen())
		for i := range X {
			X[i] = float32(r.NormFloat64()) // col2imPlanes writes all it reads
		}
		want, got := make([]float32, c.x.NumElements()), make([]float32, c.x.NumElements())
		for i := range got {
			got[i] = 7 // and all of dx
		}
		simdOn = false
		g.col2imLD(want, col, ld)
		simdOn = true
		g.col2imPlanes(got, col, ld, X)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("%v %v: dx[%d] = %v, want %v", c.x, c.w, i, got[i], want[i])
			}
		}
	}
}
