package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// residualLayerNorms counts the layernorms that compute the residual add
// before them.
func residualLayerNorms(p *Program) int {
	n := 0
	for _, s := range flatSteps(p) {
		if k, ok := s.k.(*layerNormKernel); ok && k.res[0] != nil {
			n++
		}
	}
	return n
}

// residualOnlyLayerNorms counts those of them that are the sum's only
// reader and do not write it.
func residualOnlyLayerNorms(p *Program) int {
	n := 0
	for _, s := range flatSteps(p) {
		if k, ok := s.k.(*layerNormKernel); ok && k.res[0] != nil && k.resOnly {
			n++
		}
	}
	return n
}

// TestResidualLayerNormBitIdentical: a layernorm that computes the
// residual add before it gives the same bits, its result and the sum
// both, as the add and the layernorm one after the other (3 training
// steps of every stage case, W4 among them, on one core and on two).
func TestResidualLayerNormBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { lnResidualOn = on }, residualLayerNorms, 0)
	}
}

// TestResidualLayerNormW4: every layernorm of the W4 and W5 steps (2
// blocks × 2, post-LN) takes the add before it; W5's frozen block 0 has
// no backward to read its two sums, which are then not written.
func TestResidualLayerNormW4(t *testing.T) {
	for tr, wantOnly := range []int{0, 2} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 2, true)
		p, err := Compile(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n := residualLayerNorms(p); n != 4 {
			t.Errorf("train %d: %d layernorms take their residual add, want 4", tr, n)
		}
		if n := residualOnlyLayerNorms(p); n != wantOnly {
			t.Errorf("train %d: %d layernorms leave their sum unwritten, want %d", tr, n, wantOnly)
		}
	}
}

// TestResidualLayerNorm: layernorm(add(a, b)) with the sum also a graph
// output and read after the layernorm, or read by the layernorm alone
// (then summed into a scratch block, up to 512 per row), on row lengths that are and are
// not multiples of the vector width and row counts around the groups of
// four, on 1 and 2 threads: the same bits with the fusion as without,
// for both results; a broadcast operand, or an add that is not right
// before the layernorm, is left alone.
func TestResidualLayerNorm(t *testing.T) {
	defer func() { lnResidualOn = true }()
	r := rand.New(rand.NewSource(13))
	for _, c := range []struct {
		rows, d   int
		bcast     bool // b is [d], broadcast over the rows
		between   bool // another op between the add and the layernorm
		only      bool // the layernorm is the sum's only reader
		wantFused int
		wantOnly  int // fused layernorms that do not write the sum
	}{
		{1, 4, false, false, false, 1, 0}, {3, 5, false, false, false, 1, 0}, {37, 128, false, false, false, 1, 0}, {300, 131, false, false, false, 1, 0},
		{64, 8, true, false, false, 0, 0}, {64, 8, false, true, false, 0, 0},
		{1, 4, false, false, true, 1, 1}, {3, 5, false, false, true, 1, 1}, {37, 128, false, false, true, 1, 1}, {300, 131, false, false, true, 1, 1},
		{9, 512, false, false, true, 1, 1}, {9, 513, false, false, true, 1, 0}, // four rows of 513 exceed the scratch block
	} {
		name := fmt.Sprintf("%dx%d bcast=%v between=%v only=%v", c.rows, c.d, c.bcast, c.between, c.only)
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		a := must(b.Input("a", ir.RoleData, f32(c.rows, c.d)))
		bs := f32(c.rows, c.d)
		if c.bcast {
			bs = f32(c.d)
		}
		bv := must(b.Input("b", ir.RoleData, bs))
		w := must(b.Input("w", ir.RoleData, f32(c.d)))
		bias := must(b.Input("bias", ir.RoleData, f32(c.d)))
		x := must(b.Add(a, bv))
		var other *ir.Value
		if c.between {
			other = must(b.Mul(a, a))
		}
		y := must(b.LayerNorm(x, w, bias, 1e-5))
		g.AddOutput("y", y)
		if !c.only {
			g.AddOutput("x2", must(b.Mul(x, x)))
		}
		if other != nil {
			g.AddOutput("o", other)
		}
		vals := map[string][]float32{}
		for _, in := range g.Inputs {
			v := make([]float32, in.Type.NumElements())
			for i := range v {
				v[i] = float32(r.NormFloat64()*math.Exp2(float64(r.Intn(11)-5))) + 2
			}
			vals[in.Name] = v
		}
		for _, threads := range []int{1, 2} {
			var outs [2]map[string][]float32
			for i, on := range []bool{false, true} {
				lnResidualOn = on
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				if n := residualLayerNorms(p); on && n != c.wantFused {
					t.Fatalf("%s: %d layernorms fused, want %d", name, n, c.wantFused)
				}
				if n := residualOnlyLayerNorms(p); on && n != c.wantOnly {
					t.Fatalf("%s: %d fused layernorms leave the sum unwritten, want %d", name, n, c.wantOnly)
				}
				for n, v := range vals {
					copy(p.Float32(n), v)
				}
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				outs[i] = map[string][]float32{}
				for _, o := range g.Outputs {
					outs[i][o.Name] = append([]float32(nil), p.Float32(o.Name)...)
				}
			}
			for n, want := range outs[0] {
				for j, e := range want {
					if math.Float32bits(outs[1][n][j]) != math.Float32bits(e) {
						t.Fatalf("%s threads=%d: %s[%d] = %v fused, %v not", name, threads, n, j, outs[1][n][j], e)
					}
				}
			}
		}
	}
}
