package cpu

import (
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// reluFolds counts the ReLU backwards folded into their products.
func reluFolds(p *Program) int {
	n := 0
	for _, s := range flatSteps(p) {
		if mm, ok := s.k.(*matmulF32); ok && mm.relu != nil {
			n++
		}
	}
	return n
}

// TestReluFoldBitIdentical: the ReLU backward run by its product's
// epilogue gives the bits of its own step (W1, its batch of 8, the
// LeNet, the MLP examples, W4), on one core and two. W1 folds the first
// hidden layer's (dH1 = dZ2·W2); the second's result takes the slot of
// the product's operand dZ3, which the product still reads.
func TestReluFoldBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { reluFoldOn = on }, reluFolds, 1)
	}
}

// TestReluFoldShapes: h·w1 → relu → (·w2ᵀ)·w2 → relu_backward, for
// shapes with edge tiles and several row blocks, on one core and two,
// folded and not, give the same bits; the fold is refused where dy is
// also a graph output, and where the backward's x is a batched
// product's (the product is not one call).
func TestReluFoldShapes(t *testing.T) {
	defer func() { reluFoldOn = true }()
	r := rand.New(rand.NewSource(5))
	for _, tc := range []struct {
		m, k, n int
		batch   int
		dOut    bool
	}{
		{37, 20, 45, 0, false}, {250, 33, 130, 0, false}, {6, 16, 16, 0, false},
		{7, 24, 40, 3, false}, {64, 32, 48, 0, true},
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
		y := must(b.Relu(x))
		dY := must(b.MatMul(y, w2, ir.MatMulAttr{TransposeB: true}))
		dy := must(b.MatMul(dY, w2, ir.MatMulAttr{}))
		e := must(b.ReluBackward(y, dy))
		g.AddOutput("e", e)
		g.AddOutput("y", y)
		g.AddOutput("dY", dY) // live to the end: the result cannot take its slot
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
		want := 1
		if tc.dOut || tc.batch > 0 {
			want = 0
		}
		for _, threads := range []int{1, 2} {
			var res [2]map[string][]float64
			for i, on := range []bool{false, true} {
				reluFoldOn = on
				p, err := Compile(g, Options{Threads: threads})
				reluFoldOn = true
				if err != nil {
					t.Fatal(err)
				}
				if n := reluFolds(p); on && n != want || !on && n > 0 {
					t.Fatalf("%+v on=%v: %d folds, want %d", tc, on, n, want)
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
			for o, w := range res[0] {
				for i, v := range res[1][o] {
					if math.Float64bits(v) != math.Float64bits(w[i]) {
						t.Fatalf("%+v threads=%d: %s[%d] = %v folded, %v not", tc, threads, o, i, v, w[i])
					}
				}
			}
		}
	}
}
