package cpu

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// geluBiasFused counts the gelu_backward steps that compute a bias
// gradient's column sums (fuseGeluBiasGrad).
func geluBiasFused(p *Program) int {
	return gradSteps(p, func(k *gradF32) bool { return k.sum != nil })
}

// TestGeluBiasGradBitIdentical: the bias gradient summed inside the
// linked gelu_backward is the reduce_to's bits, and so is everything
// else (3 training steps of every stage case, W4 among them, on one core
// and on two).
func TestGeluBiasGradBitIdentical(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	defer noGeluFold()()
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { geluBiasOn = on }, geluBiasFused, 0)
	}
}

// TestGeluBiasGradW4: ff1's bias gradient is summed in the gelu_backward
// of each trained block: both in W4, block 1 in W5; at batch 32, where
// the sums take dy's slot, 2 steps of W5 on two cores give the same bits
// fused and not.
func TestGeluBiasGradW4(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	defer noGeluFold()()
	wantW4Steps(t, geluBiasFused, [2]int{2, 1}, "bias gradients in their gelu_backward")
	g := stepGraph(t, "bench/w4_transformer.enc", 1, 0, 32, true)
	defer func() { geluBiasOn = true }()
	p := onOffSteps(t, g, "W5 at batch 32", func(on bool) { geluBiasOn = on })
	if n := geluBiasFused(p); n != 1 {
		t.Fatalf("W5 at batch 32: %d fused, want 1", n)
	}
}

// TestGeluBiasGradShapes: gelu_backward then reduce_to over every axis
// but the last, fused and not, on one core and two, give the same bits
// (the result and the sums), for column counts that leave remainders of
// 16 and 4, rows that leave a partial block, 3-d inputs, and a product
// of the result in between (the reduce moves up past it), with dy kept
// live (an output) and dying at the gelu_backward, where the arena gives
// its slot to the sums (they are written after the last read of dy).
func TestGeluBiasGradShapes(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(3))
	for _, tc := range []struct {
		shape []int
		keep  bool
	}{{[]int{37, 45}, true}, {[]int{64, 32}, true}, {[]int{5, 1031}, true}, {[]int{3, 7, 48}, true}, {[]int{70, 130}, true}, {[]int{37, 45}, false}, {[]int{70, 130}, false}} {
		shape, keep := tc.shape, tc.keep
		c := shape[len(shape)-1]
		ins := []in{{t: f32(shape...)}, {t: f32(shape...)}, {t: f32(c, 8)}}
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		x := must(b.Input("x", ir.RoleData, ins[0].t))
		d := must(b.Input("d", ir.RoleData, ins[1].t))
		w := must(b.Input("w", ir.RoleData, ins[2].t))
		y := must(b.Gelu(x, false))
		dy := must(b.Mul(y, d))
		dx := must(b.GeluBackward(x, dy, false))
		if keep {
			g.AddOutput("dy", dy)
		}
		flat := must(b.Reshape(dx, ir.Shape{dx.Type.NumElements() / c, c}))
		g.AddOutput("prod", must(b.MatMul(flat, w, ir.MatMulAttr{})))
		g.AddOutput("bias", must(b.ReduceTo(dx, ir.Shape{c})))
		g.AddOutput("dx", dx)
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		xv, dv, wv := draw(r, ins[0]), draw(r, ins[1]), draw(r, ins[2])
		for i := range xv {
			xv[i] = float64(float32(6 * (xv[i] - 0.5)))
		}
		for _, threads := range []int{1, 2} {
			var res [2]map[string][]float64
			for i, on := range []bool{false, true} {
				geluBiasOn = on
				p, err := Compile(g, Options{Threads: threads})
				geluBiasOn = true
				if err != nil {
					t.Fatal(err)
				}
				if n := geluBiasFused(p); n != i {
					t.Fatalf("%v: %d fused, want %d", shape, n, i)
				}
				bind(t, p, "x", ins[0].t, xv)
				bind(t, p, "d", ins[1].t, dv)
				bind(t, p, "w", ins[2].t, wv)
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				res[i] = map[string][]float64{}
				for _, o := range []string{"prod", "bias", "dx"} {
					res[i][o] = values(p.outputs[o])
				}
			}
			sameBits(t, fmt.Sprintf("%v threads=%d, fused", shape, threads), res[0], res[1])
		}
	}
}
