package cpu

import (
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/internal/cputime"
	"github.com/encc-lang/encc/ir"
)

// accumGraph builds y = add(s, reshape(x·w)) (or add(product, s) when
// swap) with s = relu(a) computed before the product, x [m, k], w [k, n];
// the product's [m, n] is reshaped to [2, m/2, n] as W4's gradients are.
// extra adds what a refusal test needs.
func accumGraph(t *testing.T, m, k, n int, swap bool, extra func(b *ir.Builder, g *ir.Graph, s, prod, x *ir.Value) (*ir.Value, *ir.Value)) (*ir.Graph, *ir.Value) {
	t.Helper()
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x := must(b.Input("x", ir.RoleData, f32(m, k)))
	w := must(b.Input("w", ir.RoleData, f32(k, n)))
	a := must(b.Input("a", ir.RoleData, f32(2, m/2, n)))
	s := must(b.Relu(a))
	var prod *ir.Value
	if extra != nil {
		s, prod = extra(b, g, s, nil, x)
	}
	if prod == nil {
		prod = must(b.MatMul(x, w, ir.MatMulAttr{}))
	}
	p := must(b.Reshape(prod, ir.Shape{2, m / 2, n}))
	var y *ir.Value
	if swap {
		y = must(b.Add(p, s))
	} else {
		y = must(b.Add(s, p))
	}
	g.AddOutput("y", must(b.Mul(y, y)))
	return g, y
}

// runAccum runs g with and without the fold and returns both results
// and whether the fold took v.
func runAccum(t *testing.T, g *ir.Graph, v *ir.Value, threads int) (on, off []float32, folded bool) {
	t.Helper()
	defer func(o bool) { accumulateOn = o }(accumulateOn)
	r := rand.New(rand.NewSource(3))
	var inputs [][]float32
	for _, in := range g.Inputs {
		xs := make([]float32, in.Type.NumElements())
		for i := range xs {
			xs[i] = float32(r.NormFloat64() * math.Exp2(float64(r.Intn(9)-4)))
		}
		inputs = append(inputs, xs)
	}
	for _, fold := range []bool{true, false} {
		accumulateOn = fold
		p, err := Compile(g, Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Plan().Check(g); err != nil {
			t.Fatal(err)
		}
		for i, in := range g.Inputs {
			copy(p.Float32(in.Name), inputs[i])
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		y := append([]float32(nil), p.Float32("y")...)
		if fold {
			on, folded = y, p.Plan().Into[v] != nil
			for _, st := range p.steps {
				if folded && st.v == v {
					t.Fatalf("%s folded but its step is left", v.Ref())
				}
			}
		} else {
			off = y
		}
	}
	return on, off, folded
}

// TestAccumulateFold: the add of a product and a value it may overwrite
// goes (the product accumulates into the value's storage), either
// operand order, on one and two cores; with K in one gemm block the
// result is the add's, bit for bit, with a deeper K the same sum within
// float32 rounding (gemm adds the skip into the first block's partial
// sum, not the last).
func TestAccumulateFold(t *testing.T) {
	for _, c := range []struct {
		m, k, n int
		exact   bool
	}{{64, 96, 80, true}, {2, 7, 5, true}, {128, 256, 128, true}, {96, 600, 72, false}} {
		for _, swap := range []bool{false, true} {
			for _, threads := range []int{1, 2} {
				g, v := accumGraph(t, c.m, c.k, c.n, swap, nil)
				on, off, folded := runAccum(t, g, v, threads)
				if !folded {
					t.Fatalf("%v swap %v: the add was not folded", c, swap)
				}
				for i := range on {
					d := math.Abs(float64(on[i]) - float64(off[i]))
					if c.exact && math.Float32bits(on[i]) != math.Float32bits(off[i]) ||
						!c.exact && d > 1e-4*(1+math.Abs(float64(off[i]))) {
						t.Fatalf("%v swap %v threads %d: y[%d] = %v, want %v", c, swap, threads, i, on[i], off[i])
					}
				}
			}
		}
	}
}

// TestAccumulateRefusals: each condition of accumulateFolds, broken
// once, keeps the add's step (and the results are the add's).
func TestAccumulateRefusals(t *testing.T) {
	cases := map[string]func(b *ir.Builder, g *ir.Graph, s, prod, x *ir.Value) (*ir.Value, *ir.Value){
		// The product has another reader.
		"product read twice": func(b *ir.Builder, g *ir.Graph, s, _, x *ir.Value) (*ir.Value, *ir.Value) {
			w := g.Inputs[1]
			p := must(b.MatMul(x, w, ir.MatMulAttr{}))
			g.AddOutput("p2", must(b.Relu(p)))
			return s, p
		},
		// The product is a graph output.
		"product output": func(b *ir.Builder, g *ir.Graph, s, _, x *ir.Value) (*ir.Value, *ir.Value) {
			p := must(b.MatMul(x, g.Inputs[1], ir.MatMulAttr{}))
			g.AddOutput("p", p)
			return s, p
		},
		// The skip is read after the product.
		"skip read after": func(b *ir.Builder, g *ir.Graph, s, _, x *ir.Value) (*ir.Value, *ir.Value) {
			p := must(b.MatMul(x, g.Inputs[1], ir.MatMulAttr{}))
			g.AddOutput("s2", must(b.Mul(s, s)))
			return s, p
		},
		// A view of the skip is read after the product.
		"skip view read after": func(b *ir.Builder, g *ir.Graph, s, _, x *ir.Value) (*ir.Value, *ir.Value) {
			sv := must(b.Reshape(s, ir.Shape{s.Type.NumElements()}))
			p := must(b.MatMul(x, g.Inputs[1], ir.MatMulAttr{}))
			g.AddOutput("s2", must(b.Relu(sv)))
			return s, p
		},
		// The skip is a graph output.
		"skip output": func(b *ir.Builder, g *ir.Graph, s, _, _ *ir.Value) (*ir.Value, *ir.Value) {
			g.AddOutput("s", s)
			return s, nil
		},
		// The skip is an input: the caller's storage.
		"skip input": func(b *ir.Builder, g *ir.Graph, _, _, _ *ir.Value) (*ir.Value, *ir.Value) {
			return g.Inputs[2], nil
		},
		// The skip is computed after the product.
		"skip after product": func(b *ir.Builder, g *ir.Graph, _, _, x *ir.Value) (*ir.Value, *ir.Value) {
			p := must(b.MatMul(x, g.Inputs[1], ir.MatMulAttr{}))
			return must(b.Relu(g.Inputs[2])), p
		},
		// The product reads the skip's storage (aliasing).
		"product reads skip": func(b *ir.Builder, g *ir.Graph, s, _, _ *ir.Value) (*ir.Value, *ir.Value) {
			n := s.Type.Shape[2]
			sx := must(b.Reshape(s, ir.Shape{s.Type.NumElements() / n, n}))
			w := must(b.Input("w2", ir.RoleData, f32(n, n)))
			return s, must(b.MatMul(sx, w, ir.MatMulAttr{}))
		},
		// A broadcast skip: [n] added to every row.
		"broadcast": func(b *ir.Builder, g *ir.Graph, s, _, _ *ir.Value) (*ir.Value, *ir.Value) {
			n := s.Type.Shape[2]
			v := must(b.Input("bias", ir.RoleData, f32(n)))
			return must(b.Relu(v)), nil
		},
		// matmul_bias: its bias comes in the epilogue.
		"matmul_bias": func(b *ir.Builder, g *ir.Graph, s, _, x *ir.Value) (*ir.Value, *ir.Value) {
			n := s.Type.Shape[2]
			bias := must(b.Input("bias", ir.RoleData, f32(n)))
			return s, must(b.MatMulBias(x, g.Inputs[1], bias, ir.MatMulBiasAttr{}))
		},
	}
	for name, extra := range cases {
		g, v, err := func() (g *ir.Graph, v *ir.Value, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = r.(error)
				}
			}()
			g, v = accumGraph(t, 32, 24, 16, false, extra)
			return
		}()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		on, off, folded := runAccum(t, g, v, 1)
		if folded {
			t.Errorf("%s: folded", name)
		}
		for i := range on {
			if math.Float32bits(on[i]) != math.Float32bits(off[i]) {
				t.Fatalf("%s: y[%d] = %v, want %v", name, i, on[i], off[i])
			}
		}
	}
}

// TestAccumulateDType: an i32 add of an i32 product stays an add.
func TestAccumulateDType(t *testing.T) {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x := must(b.Input("x", ir.RoleData, ir.TensorOf(ir.I32, 8, 4)))
	w := must(b.Input("w", ir.RoleData, ir.TensorOf(ir.I32, 4, 6)))
	a := must(b.Input("a", ir.RoleData, ir.TensorOf(ir.I32, 8, 6)))
	s := must(b.Mul(a, a))
	y := must(b.Add(s, must(b.MatMul(x, w, ir.MatMulAttr{}))))
	g.AddOutput("y", must(b.Mul(y, y)))
	into, _ := accumulateFolds(g, Options{})
	if into[y] != nil {
		t.Fatal("an i32 add was folded")
	}
}

// BenchmarkResidualFold times W5's residual gradient, s + dH·W1 with dH
// [2048, 512] and W1 [512, 128], with the fold (the product accumulating
// into s) and without (the product, then the add), one core: compare the
// process CPU per op (cpu-µs/op).
func BenchmarkResidualFold(b *testing.B) {
	for _, fold := range []bool{false, true} {
		name := "add"
		if fold {
			name = "fold"
		}
		b.Run(name, func(b *testing.B) {
			defer func(o bool) { accumulateOn = o }(accumulateOn)
			accumulateOn = fold
			g := ir.NewGraph()
			bd := ir.NewBuilder(g)
			x := must(bd.Input("x", ir.RoleData, f32(2048, 512)))
			w := must(bd.Input("w", ir.RoleData, f32(512, 128)))
			a := must(bd.Input("a", ir.RoleData, f32(2048, 128)))
			s := must(bd.Relu(a))
			y := must(bd.Add(s, must(bd.MatMul(x, w, ir.MatMulAttr{}))))
			g.AddOutput("y", must(bd.Relu(y)))
			p, err := Compile(g, Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, in := range g.Inputs {
				xs := p.Float32(in.Name)
				for i := range xs {
					xs[i] = float32(i%7) - 3
				}
			}
			b.ResetTimer()
			c0 := cputime.Process()
			for range b.N {
				if err := p.Run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cputime.Process()-c0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// chainGraph builds y = fused(((s + p0) + p1) + p2) with s = relu(a) and
// p_i = x_i·w_i [m, n] computed in the order given by order (W4's
// gradient of a block's input: the skip's plus those through q, k, v).
func chainGraph(t *testing.T, m, k, n int, order []int) (*ir.Graph, *ir.Value) {
	t.Helper()
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	a := must(b.Input("a", ir.RoleData, f32(m, n)))
	s := must(b.Relu(a))
	ps := make([]*ir.Value, 3)
	var xs, ws [3]*ir.Value
	for i := range 3 {
		xs[i] = must(b.Input(string(rune('x'+i)), ir.RoleData, f32(m, k)))
		ws[i] = must(b.Input(string(rune('u'+i)), ir.RoleData, f32(k, n)))
	}
	for _, i := range order {
		ps[i] = must(b.MatMul(xs[i], ws[i], ir.MatMulAttr{}))
	}
	F := ir.F32
	y := must(b.Fused(f32(m, n), ir.FusedAttr{Body: []ir.FusedInstr{
		instr(ir.OpAdd, F, nil, 0, 1), instr(ir.OpAdd, F, nil, 4, 2), instr(ir.OpAdd, F, nil, 5, 3)}},
		s, ps[0], ps[1], ps[2]))
	g.AddOutput("y", must(b.Mul(y, y)))
	return g, y
}

// TestAccumulateChain: a fused chain of adds of products folds when the
// products come in the order it adds them (the fused op's bits with K in
// one gemm block), and stays when they do not (the products would add
// in another order).
func TestAccumulateChain(t *testing.T) {
	for _, c := range []struct {
		order []int
		fold  bool
	}{{[]int{0, 1, 2}, true}, {[]int{1, 0, 2}, false}, {[]int{0, 2, 1}, false}} {
		for _, threads := range []int{1, 2} {
			g, v := chainGraph(t, 48, 40, 24, c.order)
			on, off, folded := runAccum(t, g, v, threads)
			if folded != c.fold {
				t.Fatalf("order %v: folded %v, want %v", c.order, folded, c.fold)
			}
			for i := range on {
				if math.Float32bits(on[i]) != math.Float32bits(off[i]) {
					t.Fatalf("order %v threads %d: y[%d] = %v, want %v", c.order, threads, i, on[i], off[i])
				}
			}
		}
	}
}

// TestAccumulateFrozenChain: with Options.FrozenWeights (products by
// frozen weights, packed once; consecutive ones may run as a chain,
// whose tasks copy each product's gemm.Params, Beta included), a product
// by a frozen weight accumulating into the skip keeps the add's bits: y
// = s + (x·W1)·W2.
func TestAccumulateFrozenChain(t *testing.T) {
	defer func(o bool) { accumulateOn = o }(accumulateOn)
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	m, k, h, n := 192, 64, 96, 80
	x := must(b.Input("x", ir.RoleData, f32(m, k)))
	w1 := must(b.Input("w1", ir.RoleParam, f32(k, h)))
	w2 := must(b.Input("w2", ir.RoleParam, f32(h, n)))
	a := must(b.Input("a", ir.RoleData, f32(m, n)))
	s := must(b.Relu(a))
	y := must(b.Add(s, must(b.MatMul(must(b.MatMul(x, w1, ir.MatMulAttr{})), w2, ir.MatMulAttr{}))))
	g.AddOutput("y", must(b.Mul(y, y)))
	r := rand.New(rand.NewSource(9))
	var outs [2][]float32
	for i, fold := range []bool{false, true} {
		accumulateOn = fold
		p, err := Compile(g, Options{Threads: 2, FrozenWeights: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Plan().Into[y] != nil; got != fold {
			t.Fatalf("fold %v: folded %v", fold, got)
		}
		r.Seed(9)
		for _, in := range g.Inputs {
			xs := p.Float32(in.Name)
			for j := range xs {
				xs[j] = float32(r.NormFloat64())
			}
		}
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		outs[i] = append([]float32(nil), p.Float32("y")...)
	}
	for i := range outs[0] {
		if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
			t.Fatalf("y[%d] = %v, want %v", i, outs[1][i], outs[0][i])
		}
	}
}
