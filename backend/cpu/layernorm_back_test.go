package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// fusedLayerNormBackwards counts the fused layernorm backward steps and
// the broadcast dy they read in place.
func fusedLayerNormBackwards(p *Program) (n, bcast int) {
	for _, s := range flatSteps(p) {
		if f, ok := s.k.(*lnBackward); ok {
			n++
			if f.k.dyRep > 1 {
				bcast++
			}
		}
	}
	return n, bcast
}

// lnBackGraph is x [B,S,D], w [D] and dy (an input [B,S,D], or [B,1,D]
// broadcast to it) with layernorm_backward_input (dx), _weight (dw) and
// reduce_to(dy) (db), each a named output.
func lnBackGraph(t *testing.T, B, S, D int, bcast bool) *ir.Graph {
	t.Helper()
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	input := func(name string, s ...int) *ir.Value {
		v, err := b.Input(name, ir.RoleData, f32(s...))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	x, w := input("x", B, S, D), input("w", D)
	var dy *ir.Value
	if bcast {
		dy = must(b.BroadcastTo(input("dy", B, 1, D), ir.Shape{B, S, D}))
	} else {
		dy = input("dy", B, S, D)
	}
	g.AddOutput("dx", must(b.LayerNormBackwardInput(x, w, dy, 1e-5)))
	g.AddOutput("dw", must(b.LayerNormBackwardWeight(x, dy, 1e-5)))
	g.AddOutput("db", must(b.ReduceTo(dy, ir.Shape{D})))
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	return g
}

// runLnBack compiles g on threads cores and runs it on x, w, dy; it
// returns dx, dw, db and the program.
func runLnBack(t *testing.T, g *ir.Graph, threads int, x, w, dy []float32) (map[string][]float32, *Program) {
	t.Helper()
	p, err := Compile(g, Options{Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	copy(p.Float32("x"), x)
	copy(p.Float32("w"), w)
	copy(p.Float32("dy"), dy)
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for _, n := range []string{"dx", "dw", "db"} {
		out[n] = append([]float32(nil), p.Float32(n)...)
	}
	return out, p
}

// TestLayerNormBackwardFused: the fused backward's dx has the separate
// op's bits; its weight and bias gradients (float64 sums in an order
// fixed by the shape) are within a float32 rounding of a float64
// reference and have the same bits on one core and two, with and
// without the vector kernels; the broadcast dy is read in place. Shapes
// cover several blocks, a partial last block, D not a multiple of 4 or
// 8, and broadcast groups not aligned with the blocks.
func TestLayerNormBackwardFused(t *testing.T) {
	defer func(on, s bool) { lnBackOn, simdOn = on, s }(lnBackOn, simdOn)
	r := rand.New(rand.NewSource(3))
	for _, c := range []struct{ B, S, D int }{{2, 3, 4}, {3, 7, 13}, {4, 64, 128}, {5, 24, 131}, {2, 100, 40}, {1, 1, 5}, {2, 3, 1}, {2, 8, 1024}, {32, 64, 128}} {
		for _, bcast := range []bool{false, true} {
			name := fmt.Sprintf("%dx%dx%d bcast=%v", c.B, c.S, c.D, bcast)
			g := lnBackGraph(t, c.B, c.S, c.D, bcast)
			rows := c.B * c.S
			x, w := make([]float32, rows*c.D), make([]float32, c.D)
			dyRows := rows
			if bcast {
				dyRows = c.B
			}
			dy := make([]float32, dyRows*c.D)
			for _, s := range [][]float32{x, w, dy} {
				for i := range s {
					s[i] = float32(r.NormFloat64())
				}
			}
			for i := range x { // rows of other scales and means
				x[i] = x[i]*float32(1+i/c.D%5) + float32(i/c.D%3)
			}
			lnBackOn = false
			want, _ := runLnBack(t, g, 2, x, w, dy)
			lnBackOn = true
			var got [2][2]map[string][]float32
			for si, simd := range []bool{true, false} {
				simdOn = simd && hasAVX2FMA
				for ti, threads := range []int{1, 2} {
					var p *Program
					got[si][ti], p = runLnBack(t, g, threads, x, w, dy)
					n, nb := fusedLayerNormBackwards(p)
					wantB := 0
					if bcast && c.S > 1 {
						wantB = 1
					}
					if n != 1 || nb != wantB {
						t.Fatalf("%s: %d fused steps (%d reading a broadcast dy), want 1 (%d)", name, n, nb, wantB)
					}
					if bcast && c.S > 1 {
						if st := flatSteps(p); len(st) != 2 {
							t.Fatalf("%s: %d steps, want the copy of dy's source and the fused one", name, len(st))
						} else if _, ok := st[0].k.(copyRows); !ok {
							t.Fatalf("%s: %s is a %T, want a copy of its source", name, st[0].v.LongString(), st[0].k)
						}
					}
				}
			}
			simdOn = hasAVX2FMA
			for si := range 2 {
				for ti := range 2 {
					for _, o := range []string{"dx", "dw", "db"} {
						for i, e := range got[si][ti][o] {
							if math.Float32bits(e) != math.Float32bits(got[0][0][o][i]) {
								t.Fatalf("%s: %s[%d] = %v (simd %v, threads %d), %v (simd, 1 thread)", name, o, i, e, si == 0, ti+1, got[0][0][o][i])
							}
						}
					}
				}
			}
			for i, e := range got[0][0]["dx"] {
				if math.Float32bits(e) != math.Float32bits(want["dx"][i]) {
					t.Fatalf("%s: dx[%d] = %v fused, %v by the op alone", name, i, e, want["dx"][i])
				}
			}
			// The float64 reference: the statistics as the kernel takes
			// them, the sums in float64 compensated by a second pass.
			k := &layerNormKernel{D: c.D, eps: 1e-5}
			for j := range c.D {
				var sw, sb, aw, ab float64
				for rr := range rows {
					mean, rstd := k.stats(x[rr*c.D:][:c.D])
					dr := rr
					if bcast {
						dr = rr / c.S
					}
					g := float64(dy[dr*c.D+j])
					tw := g * (float64(x[rr*c.D+j]) - mean) * rstd
					sw, sb, aw, ab = sw+tw, sb+g, aw+math.Abs(tw), ab+math.Abs(g)
				}
				for _, q := range []struct {
					o        string
					ref, abs float64
				}{{"dw", sw, aw}, {"db", sb, ab}} {
					e := float64(got[0][0][q.o][j])
					if d := math.Abs(e - q.ref); d > 0x1p-24*math.Abs(q.ref)+1e-13*q.abs {
						t.Fatalf("%s: %s[%d] = %v, reference %v (|error| %g)", name, q.o, j, e, q.ref, d)
					}
					// and within one float32 rounding of the separate ops'
					if d := math.Abs(e - float64(want[q.o][j])); d > 0x1p-23*math.Abs(q.ref)+1e-13*q.abs {
						t.Fatalf("%s: %s[%d] = %v fused, %v by the op alone", name, q.o, j, e, want[q.o][j])
					}
				}
			}
		}
	}
}

// TestLayerNormBackwardFusedW4: W4 fuses its 4 layernorm backwards
// (each input, weight and bias gradient), W5 the 2 of its trained block;
// in both the last one reads mean pooling's broadcast gradient in place.
func TestLayerNormBackwardFusedW4(t *testing.T) {
	for tr, want := range []int{4, 2} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 2, true)
		p, err := Compile(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		n, nb := fusedLayerNormBackwards(p)
		for _, s := range flatSteps(p) {
			if f, ok := s.k.(*lnBackward); ok && (f.dw == nil || f.db == nil || f.k.saved == nil) {
				t.Errorf("train %d: %s fused without its weight or bias gradient, or not reading its forward's statistics", tr, s.v.Ref())
			}
			if _, ok := s.k.(copyRows); s.v.Op == ir.OpBroadcastTo && !ok {
				t.Errorf("train %d: %s still materialized", tr, s.v.LongString())
			}
		}
		if n != want || nb != 1 {
			t.Errorf("train %d: %d fused layernorm backwards (%d reading a broadcast), want %d (1)", tr, n, nb, want)
		}
	}
}

func TestRowBroadcast(t *testing.T) {
	for _, c := range []struct {
		src, dst ir.Shape
		want     int
	}{
		{ir.Shape{32, 1, 128}, ir.Shape{32, 64, 128}, 64},
		{ir.Shape{1, 128}, ir.Shape{32, 64, 128}, 2048},
		{ir.Shape{128}, ir.Shape{32, 64, 128}, 2048},
		{ir.Shape{4, 1, 1, 8}, ir.Shape{4, 2, 3, 8}, 6},
		{ir.Shape{1, 3, 8}, ir.Shape{4, 3, 8}, 0}, // repeats the whole block, not each row
		{ir.Shape{4, 1, 3, 8}, ir.Shape{4, 2, 3, 8}, 0},
		{ir.Shape{32, 64, 1}, ir.Shape{32, 64, 128}, 0}, // the last axis
		{ir.Shape{32, 64, 128}, ir.Shape{32, 64, 128}, 0},
	} {
		if got := rowBroadcast(c.src, c.dst); got != c.want {
			t.Errorf("rowBroadcast(%v, %v) = %d, want %d", c.src, c.dst, got, c.want)
		}
	}
}

// BenchmarkLayerNormBackward: W5's layernorm backward ([32,64,128]: dx,
// the weight and bias gradients, dy as is or mean pooling's broadcast),
// fused and as the separate ops.
func BenchmarkLayerNormBackward(b *testing.B) {
	defer func(on bool) { lnBackOn = on }(lnBackOn)
	t := &testing.T{}
	for _, bcast := range []bool{false, true} {
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("bcast=%v/fused=%v", bcast, on), func(b *testing.B) {
				lnBackOn = on
				g := lnBackGraph(t, 32, 64, 128, bcast)
				p, err := Compile(g, Options{})
				if err != nil {
					b.Fatal(err)
				}
				r := rand.New(rand.NewSource(1))
				for _, n := range []string{"x", "w", "dy"} {
					for i, s := 0, p.Float32(n); i < len(s); i++ {
						s[i] = float32(r.NormFloat64())
					}
				}
				b.ResetTimer()
				for range b.N {
					if err := p.Run(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
