package cpu

import (
	"math"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/gemm"
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
	geluFoldOn = false
	want, _ := runStepsOn(t, g, 2, 2)
	geluFoldOn = true
	got, _ := runStepsOn(t, g, 2, 2)
	for name, w := range want {
		for i := range w {
			if math.Float64bits(w[i]) != math.Float64bits(got[name][i]) {
				t.Fatalf("W5 at batch 32: %s[%d] = %v folded, %v not", name, i, got[name][i], w[i])
			}
		}
	}
}
