package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/ir"
)

// TestAttentionTiles checks attention's tile kernels (attnTilesOn) against
// the gemm.Sgemm products they replace, on shapes with whole and edge
// tiles (rows not a multiple of 6, columns not of 16, depth not of 4),
// both layouts, with and without a key mask, on 1 and 2 threads: with
// gemm's AVX2 kernel the results are the same bits (the same FMA chains);
// with another kernel they agree to rounding.
func TestAttentionTiles(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2+FMA")
	}
	defer func(on bool) { attnTilesOn = on }(attnTilesOn)
	exact := gemm.Kernel() == "avx2"
	r := rand.New(rand.NewSource(5))
	type geom struct{ b, h, tq, tk, dh, dv int }
	n := 0
	defer func() { t.Logf("%d comparisons", n) }()
	for _, gm := range []geom{{2, 4, 64, 64, 32, 32}, {1, 3, 7, 13, 5, 19}, {2, 2, 12, 6, 16, 16}, {1, 2, 33, 40, 24, 8}, {1, 1, 1, 1, 1, 1}} {
		for _, bthd := range []bool{false, true} {
			for _, masked := range []bool{false, true} {
				shape := func(t, d int) ir.Type {
					if bthd {
						return f32(gm.b, t, gm.h, d)
					}
					return f32(gm.b, gm.h, t, d)
				}
				ins := []in{{t: shape(gm.tq, gm.dh)}, {t: shape(gm.tk, gm.dh)}, {t: shape(gm.tk, gm.dv)}, {t: shape(gm.tq, gm.dv)}}
				if masked {
					ins = append(ins, in{t: boolT(gm.b, gm.tk), kind: ids, hi: 2})
				}
				cases := map[string]func(b *ir.Builder, x []*ir.Value) (*ir.Value, error){
					"forward": func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
						var m *ir.Value
						if masked {
							m = x[4]
						}
						if bthd {
							return b.AttentionBTHD(x[0], x[1], x[2], m, 0.3)
						}
						return b.Attention(x[0], x[1], x[2], m, 0.3)
					},
				}
				for wrt := -1; wrt < 3; wrt++ {
					cases[fmt.Sprint("backward wrt=", wrt)] = func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
						var m *ir.Value
						if masked {
							m = x[4]
						}
						w, err := b.AttentionBackward(x[0], x[1], x[2], x[3], m, ir.AttentionBackwardAttr{Scale: 0.3, BTHD: bthd})
						if err != nil || wrt < 0 {
							return w, err
						}
						return b.AttentionBackwardProduct(w, x[[]int{1, 0, 3}[wrt]], ir.AttentionProductAttr{BTHD: bthd, Wrt: wrt})
					}
				}
				for name, build := range cases {
					what := fmt.Sprintf("%+v bthd=%v masked=%v %s", gm, bthd, masked, name)
					g, err := opCase{ins: ins, build: build}.graph()
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					vals := make([][]float64, len(ins))
					for i, x := range ins {
						vals[i] = draw(r, x)
					}
					for _, threads := range []int{1, 2} {
						var got [2][]float64
						for i, on := range []bool{true, false} {
							attnTilesOn = on
							p, err := Compile(g, Options{Threads: threads})
							if err != nil {
								t.Fatalf("%s: %v", what, err)
							}
							for j, x := range ins {
								bind(t, p, g.Inputs[j].Name, x.t, vals[j])
							}
							if err := p.Run(); err != nil {
								t.Fatalf("%s: %v", what, err)
							}
							got[i] = values(p.outputs["y"])
						}
						for i, v := range got[0] {
							w := got[1][i]
							n++
							if exact && math.Float32bits(float32(v)) != math.Float32bits(float32(w)) ||
								!exact && math.Abs(v-w) > 1e-5*(1+math.Abs(w)) {
								t.Fatalf("%s threads=%d: [%d] = %v with the tile kernels, %v with gemm", what, threads, i, v, w)
							}
						}
					}
				}
			}
		}
	}
}

// TestAttentionSharedWeights checks that an attention_backward linked to
// its forward (shareAttentionWeights) gives the bits of one that computes
// the weights again, over two runs with different inputs, with and
// without a mask; and that no link is made to a forward that the
// backward does not depend on (whether it runs before or after it) or
// that has another scale.
func TestAttentionSharedWeights(t *testing.T) {
	defer func(on bool) { attnShareOn = on }(attnShareOn)
	r := rand.New(rand.NewSource(7))
	for _, c := range []struct {
		name       string
		masked     bool
		bwdFirst   bool
		fwdScale   float64
		dyOfY      bool // dy computed from the forward's result
		wantLinked bool
	}{
		{"linked", false, false, 0.3, true, true},
		{"linked masked", true, false, 0.3, true, true},
		{"independent", false, false, 0.3, false, false},
		{"backward first", false, true, 0.3, false, false},
		{"other scale", false, false, 0.5, true, false},
	} {
		ins := []in{{t: f32(2, 9, 3, 8)}, {t: f32(2, 11, 3, 8)}, {t: f32(2, 11, 3, 16)}, {t: f32(2, 9, 3, 16)}}
		if c.masked {
			ins = append(ins, in{t: boolT(2, 11), kind: ids, hi: 2})
		}
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		x := dataInputs(t, b, ins)
		var m *ir.Value
		if c.masked {
			m = x[4]
		}
		var y *ir.Value
		fwd := func() {
			var err error
			if y, err = b.AttentionBTHD(x[0], x[1], x[2], m, c.fwdScale); err != nil {
				t.Fatal(err)
			}
			g.AddOutput("y", y)
		}
		if !c.bwdFirst {
			fwd()
		}
		dy := x[3]
		if c.dyOfY {
			dy = must(b.Mul(y, x[3]))
		}
		w, err := b.AttentionBackward(x[0], x[1], x[2], dy, m, ir.AttentionBackwardAttr{Scale: 0.3, BTHD: true})
		if err != nil {
			t.Fatal(err)
		}
		dq, err := b.AttentionBackwardProduct(w, x[1], ir.AttentionProductAttr{BTHD: true, Wrt: 0})
		if err != nil {
			t.Fatal(err)
		}
		g.AddOutput("w", w)
		g.AddOutput("dq", dq)
		if c.bwdFirst {
			fwd()
		}
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		var progs [2]*Program
		for i, on := range []bool{true, false} {
			attnShareOn = on
			if progs[i], err = Compile(g, Options{Threads: 2}); err != nil {
				t.Fatal(err)
			}
		}
		linked := false
		for _, s := range progs[0].steps {
			if a, ok := s.k.(*attentionKernel); ok && a.backward && a.saved != nil {
				linked = true
			}
		}
		if linked != c.wantLinked {
			t.Fatalf("%s: linked %v, want %v", c.name, linked, c.wantLinked)
		}
		sameBitsLinked(t, c.name, r, g, progs, ins, []string{"y", "w", "dq"})
	}
}

// TestAttentionSharedWeightsW4: each attention_backward of the W4 step
// (both blocks) and of W5's (block 1 only: block 0 is frozen) takes its
// forward's weights.
func TestAttentionSharedWeightsW4(t *testing.T) {
	for tr, want := range []int{2, 1} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 2, true)
		p, err := Compile(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		linked, backward := 0, 0
		for _, s := range p.steps {
			if a, ok := s.k.(*attentionKernel); ok && a.backward {
				backward++
				if a.saved != nil {
					linked++
				}
			}
		}
		if linked != want || backward != want {
			t.Errorf("train %d: %d of %d attention_backward linked to their forward, want %d of %d", tr, linked, backward, want, want)
		}
	}
}

// sameBitsLinked runs the two programs of g (progs[0] with a forward
// result shared with its backward, progs[1] without) twice on the same
// random inputs ins and fails unless every output named in outs has the
// same bits in both.
func sameBitsLinked(t *testing.T, name string, r *rand.Rand, g *ir.Graph, progs [2]*Program, ins []in, outs []string) {
	t.Helper()
	for run := range 2 {
		vals := make([][]float64, len(ins))
		for i, s := range ins {
			vals[i] = draw(r, s)
		}
		var got [2]map[string][]float64
		for i, p := range progs {
			for j, s := range ins {
				bind(t, p, g.Inputs[j].Name, s.t, vals[j])
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			got[i] = map[string][]float64{}
			for _, o := range outs {
				got[i][o] = values(p.outputs[o])
			}
		}
		for o, want := range got[1] {
			for i, v := range got[0][o] {
				if math.Float32bits(float32(v)) != math.Float32bits(float32(want[i])) {
					t.Fatalf("%s run %d: %s[%d] = %v linked, %v not", name, run, o, i, v, want[i])
				}
			}
		}
	}
}

// TestAttentionSoftmaxRows checks softmaxRowsAVX2 (one call per item)
// against the per-row steps it replaces, bit for bit, on odd row counts,
// row strides wider than the rows, masked (-1e9) scores, rows of equal,
// huge and tiny values, signed zeros and NaNs.
func TestAttentionSoftmaxRows(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2+FMA")
	}
	defer func(on bool) { attnSoftmaxOn = on }(attnSoftmaxOn)
	r := rand.New(rand.NewSource(9))
	for _, tq := range []int{1, 2, 3, 6, 7, 64} {
		for _, tk := range []int{8, 16, 24, 64, 136} {
			for _, pad := range []int{0, 3, 8} {
				ld := tk + pad
				x := make([]float32, (tq-1)*ld+tk+pad)
				for i := range x {
					switch r.Intn(40) {
					case 0:
						x[i] = -1e9
					case 1:
						x[i] = float32(math.Copysign(0, float64(r.Intn(2)*2-1)))
					case 2:
						x[i] = float32(r.NormFloat64() * 200)
					default:
						x[i] = float32(r.NormFloat64() * 3)
					}
				}
				if tq > 2 {
					row := x[2*ld:][:tk] // all equal
					for j := range row {
						row[j] = 1.5
					}
					x[ld+r.Intn(tk)] = float32(math.NaN()) // row 1
				}
				var got [2][]float32
				for i, on := range []bool{true, false} {
					attnSoftmaxOn = on
					got[i] = append([]float32(nil), x...)
					softmaxRows(got[i], ld, tq, tk)
				}
				for i, v := range got[0] {
					w := got[1][i]
					if math.Float32bits(v) != math.Float32bits(w) && !(v != v && w != w) {
						t.Fatalf("tq=%d tk=%d ld=%d: [%d] = %v in one call, %v row by row", tq, tk, ld, i, v, w)
					}
					if i%ld >= tk && math.Float32bits(v) != math.Float32bits(x[i]) {
						t.Fatalf("tq=%d tk=%d ld=%d: [%d] past a row's end changed", tq, tk, ld, i)
					}
				}
			}
		}
	}
}
