package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// foldedLayerNorms counts the layernorms that their product's epilogue
// computes (foldLayerNormProducts).
func foldedLayerNorms(p *Program) int {
	n := 0
	for _, s := range flatSteps(p) {
		if k, ok := s.k.(*layerNormKernel); ok && k.tiled {
			n++
		}
	}
	return n
}

// TestLayerNormFoldBitIdentical: a layernorm computed in the epilogue of
// the product that makes its x gives the same bits, its result, x and
// everything after, as its own pass (3 training steps of every stage
// case, W4 among them, on one core and on two), and the epilogue covers
// every row in whole rows there (the step never has to redo them).
func TestLayerNormFoldBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		missed := lnTileMissed.Load()
		bitIdentical(t, threads, func(on bool) { lnFoldOn = on }, foldedLayerNorms, 0)
		if d := lnTileMissed.Load() - missed; d != 0 {
			t.Errorf("threads %d: %d runs of a folded layernorm redid rows", threads, d)
		}
	}
}

// TestLayerNormFoldW4: the W4 step's 4 layernorms (2 blocks × 2,
// post-LN) and W5's 4 (block 0's norm1 result, which the arena gives
// the slot of the attention output its product reads, moved out of the
// arena) run in their product's epilogue,
// every row of them there, with the same bits over 3 steps as without
// the fold, on one core and on two; with half the blocks left to the
// step (lnTileSkip), the same bits again.
func TestLayerNormFoldW4(t *testing.T) {
	defer func() { lnFoldOn, lnTileSkip = true, false }()
	for tr, want := range []int{4, 4} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 2, true)
		for _, threads := range []int{1, 2} {
			lnFoldOn = false
			ref, _ := runStepsOn(t, g, 3, threads)
			for _, skip := range []bool{false, true} {
				lnFoldOn, lnTileSkip = true, skip
				missed := lnTileMissed.Load()
				got, p := runStepsOn(t, g, 3, threads)
				lnTileSkip = false
				if n := foldedLayerNorms(p); n != want {
					t.Errorf("train %d: %d layernorms folded, want %d", tr, n, want)
				}
				if d := lnTileMissed.Load() - missed; (d != 0) != skip {
					t.Errorf("train %d threads %d skip %v: %d runs redid rows", tr, threads, skip, d)
				}
				sameBits(t, fmt.Sprintf("train %d threads %d skip %v, folded", tr, threads, skip), ref, got)
			}
		}
	}
}

// TestLayerNormFold: layernorm of a product (matmul or matmul_bias, with
// the residual add before it or not, batched or not), with the sum also
// read later or not, on row lengths that are and are not multiples of
// the vector width and row counts around the groups of four, on 1 and
// 2 threads, every block in the epilogue or half of them left to the
// step, with the vector kernels and the portable loops: the same bits
// as without the fold, for the layernorm's result and the sum.
func TestLayerNormFold(t *testing.T) {
	defer func(s bool) { lnFoldOn, lnTileSkip, simdOn = true, false, s }(simdOn)
	for _, simd := range []bool{simdOn, false} {
		simdOn = simd
		testLayerNormFold(t)
	}
}

func testLayerNormFold(t *testing.T) {
	r := rand.New(rand.NewSource(17))
	for _, c := range []struct {
		batch, rows, k, d int
		bias, res, only   bool
	}{
		{0, 1, 8, 4, false, true, false}, {0, 3, 5, 5, true, true, false}, {0, 37, 64, 128, true, true, false},
		{0, 300, 40, 131, true, true, true}, {0, 64, 33, 128, false, false, false}, {0, 129, 16, 12, true, false, false},
		{0, 256, 128, 128, true, true, true}, {3, 21, 16, 128, false, true, false}, {2, 50, 24, 20, false, false, false},
	} {
		name := fmt.Sprintf("%+v simd=%v", c, simdOn)
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		xs, rs := f32(c.rows, c.k), f32(c.rows, c.d)
		if c.batch > 0 {
			xs, rs = f32(c.batch, c.rows, c.k), f32(c.batch, c.rows, c.d)
		}
		x := must(b.Input("x", ir.RoleData, xs))
		w := must(b.Input("w", ir.RoleData, f32(c.k, c.d)))
		var h *ir.Value
		if c.bias {
			h = must(b.MatMulBias(x, w, must(b.Input("bias", ir.RoleData, f32(c.d))), ir.MatMulBiasAttr{}))
		} else {
			h = must(b.MatMul(x, w, ir.MatMulAttr{}))
		}
		if c.res {
			h = must(b.Add(must(b.Input("a", ir.RoleData, rs)), h))
		}
		y := must(b.LayerNorm(h, must(b.Input("lw", ir.RoleData, f32(c.d))), must(b.Input("lb", ir.RoleData, f32(c.d))), 1e-5))
		g.AddOutput("y", y)
		if !c.only {
			g.AddOutput("h2", must(b.Mul(h, h)))
		}
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		vals := map[string][]float32{}
		for _, in := range g.Inputs {
			v := make([]float32, in.Type.NumElements())
			for i := range v {
				v[i] = float32(r.NormFloat64()*math.Exp2(float64(r.Intn(7)-3))) + 1
			}
			vals[in.Name] = v
		}
		for _, threads := range []int{1, 2} {
			var outs [3]map[string][]float32
			for i, on := range []bool{false, true, true} {
				lnFoldOn, lnTileSkip = on, i == 2
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				if n := foldedLayerNorms(p); on && n != 1 {
					t.Fatalf("%s: %d layernorms folded, want 1", name, n)
				}
				for n, v := range vals {
					copy(p.Float32(n), v)
				}
				for range 2 {
					if err := p.Run(); err != nil {
						t.Fatal(err)
					}
				}
				outs[i] = map[string][]float32{}
				for _, o := range g.Outputs {
					outs[i][o.Name] = append([]float32(nil), p.Float32(o.Name)...)
				}
			}
			for i := 1; i < 3; i++ {
				for n, want := range outs[0] {
					for j, e := range want {
						if math.Float32bits(outs[i][n][j]) != math.Float32bits(e) {
							t.Fatalf("%s threads=%d skip=%v: %s[%d] = %v folded, %v not", name, threads, i == 2, n, j, outs[i][n][j], e)
						}
					}
				}
			}
		}
	}
}
