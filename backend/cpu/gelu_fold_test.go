package cpu

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/ir"
)

// noGeluFold turns foldGeluProducts off (for the tests of the passes it
// would otherwise take the steps of) and returns what turns it back on.
func noGeluFold() func() {
	geluFoldOn = false
	return func() { geluFoldOn = true }
}

// geluFolds counts the products that apply a linked GELU forward
// (geluTile keeping GELU') and a gelu_backward (geluGradTile) in their
// epilogue.
func geluFolds(p *Program) (fwd, bwd int) {
	for _, s := range flatSteps(p) {
		mm, ok := s.k.(*matmulF32)
		if !ok || len(mm.ps) == 0 {
			continue
		}
		switch t := mm.ps[0].Tile.(type) {
		case *geluTile:
			if t.deriv != nil {
				fwd++
			}
		case *geluGradTile:
			bwd++
		}
	}
	return fwd, bwd
}

// geluEpilogues counts the matmul_bias steps whose GELU activation runs
// in the product's epilogue, keeping no derivative (matmulBiasOf).
func geluEpilogues(p *Program) int {
	n := 0
	for _, s := range flatSteps(p) {
		if mm, ok := s.k.(*matmulF32); ok && len(mm.ps) > 0 {
			if t, ok := mm.ps[0].Tile.(*geluTile); ok && t.deriv == nil {
				n++
			}
		}
	}
	return n
}

// TestGeluFoldBitIdentical: GELU and its linked backward in their
// products' epilogues give the bits of their own passes (3 training
// steps of every stage case, W4 among them, on one core and on two).
func TestGeluFoldBitIdentical(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { geluFoldOn = on }, func(p *Program) int {
			f, b := geluFolds(p)
			return f + b + geluEpilogues(p)
		}, 0)
	}
}

// TestGeluFoldW4: both trained blocks of W4 fold their GELU into ff1's
// product and its backward into ff2's input gradient (the product moved
// past ff2's weight gradient, which reads the GELU output whose slot
// the backward's result takes), W5's block 1 too, and W5's frozen block
// 0 runs its ff1 matmul_bias's GELU in the epilogue; no gradF32 and no
// GELU pass are left; at batch 32, 2 steps of W5 on two cores give the
// same bits folded and not.
func TestGeluFoldW4(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	for tr, want := range [2]int{2, 1} {
		for _, batch := range []int{2, 32} {
			g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, batch, true)
			p, err := Compile(g, Options{})
			if err != nil {
				t.Fatal(err)
			}
			f, b := geluFolds(p)
			if f != want || b != want {
				t.Errorf("train %d batch %d: %d forward and %d backward folds, want %d", tr, batch, f, b, want)
			}
			if e := geluEpilogues(p); e != 2-want {
				t.Errorf("train %d batch %d: %d matmul_bias GELU epilogues, want %d", tr, batch, e, 2-want)
			}
			for _, s := range flatSteps(p) {
				switch k := s.k.(type) {
				case *gradF32:
					t.Errorf("train %d batch %d: %s left", tr, batch, s.v.LongString())
				case *unaryF32:
					if k.act == gemm.ActGELU && k.deriv != nil {
						t.Errorf("train %d batch %d: %s left", tr, batch, s.v.LongString())
					}
				}
			}
		}
	}
	g := stepGraph(t, "bench/w4_transformer.enc", 1, 0, 32, true)
	defer func() { geluFoldOn = true }()
	onOffSteps(t, g, "W5 at batch 32", func(on bool) { geluFoldOn = on })
}

// TestGeluFoldShapes: h·w1 → gelu → (·w2ᵀ)·w2 → gelu_backward → its
// bias reduce_to, for shapes with edge tiles and rows that leave partial
// blocks, batched (3-d) products, on one core and two, folded and not,
// give the same bits; and each fold is refused where its value has
// another reader: x read by another op, or dy a graph output.
func TestGeluFoldShapes(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(9))
	for _, tc := range []struct {
		m, k, n    int
		batch      int
		xOut, dOut bool // x (the product before the GELU) or dy also read elsewhere
	}{
		{37, 20, 45, 0, false, false}, {250, 33, 130, 0, false, false}, {6, 16, 16, 0, false, false},
		{7, 24, 40, 3, false, false}, {300, 64, 70, 0, true, false}, {64, 32, 48, 0, false, true},
	} {
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		hs := []int{tc.m, tc.k}
		if tc.batch > 0 {
			hs = []int{tc.batch, tc.m, tc.k}
		}
		h := must(b.Input("h", ir.RoleData, f32(hs...)))
		w1 := must(b.Input("w1", ir.RoleData, f32(tc.n, tc.k)))
		w2 := must(b.Input("w2", ir.RoleData, f32(8, tc.n)))
		x := must(b.MatMul(h, w1, ir.MatMulAttr{TransposeB: true}))
		y := must(b.Gelu(x, false))
		dY := must(b.MatMul(y, w2, ir.MatMulAttr{TransposeB: true}))
		dy := must(b.MatMul(dY, w2, ir.MatMulAttr{}))
		e := must(b.GeluBackward(x, dy, false))
		g.AddOutput("e", e)
		g.AddOutput("y", y)
		g.AddOutput("dY", dY) // live to the end: the result cannot take its slot
		g.AddOutput("bias", must(b.ReduceTo(e, ir.Shape{tc.n})))
		if tc.xOut {
			g.AddOutput("x2", must(b.Add(x, x)))
		}
		if tc.dOut {
			g.AddOutput("dy", dy)
		}
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		ins := map[string][]float64{}
		for _, v := range g.Inputs {
			vals := make([]float64, v.Type.NumElements())
			for i := range vals {
				vals[i] = float64(float32(2 * r.NormFloat64()))
			}
			ins[v.Name] = vals
		}
		wantF, wantB := 1, 1
		if tc.xOut {
			wantF = 0
		}
		if tc.dOut {
			wantB = 0
		}
		for _, threads := range []int{1, 2} {
			var res [2]map[string][]float64
			for i, on := range []bool{false, true} {
				geluFoldOn = on
				p, err := Compile(g, Options{Threads: threads})
				geluFoldOn = true
				if err != nil {
					t.Fatal(err)
				}
				if f, bw := geluFolds(p); on && (f != wantF || bw != wantB) || !on && f+bw > 0 {
					t.Fatalf("%+v on=%v: %d forward and %d backward folds, want %d and %d", tc, on, f, bw, wantF, wantB)
				}
				for _, v := range g.Inputs {
					bind(t, p, v.Name, v.Type, ins[v.Name])
				}
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				res[i] = map[string][]float64{}
				for _, o := range g.Outputs {
					res[i][o.Name] = values(p.outputs[o.Name])
				}
			}
			sameBits(t, fmt.Sprintf("%+v threads=%d, folded", tc, threads), res[0], res[1])
		}
	}
}
