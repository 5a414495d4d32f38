package cpu

import (
	"math/rand"
	"runtime"
	"testing"

	"github.com/encc-lang/encc/internal/cputime"
	"github.com/encc-lang/encc/ir"
)

// BenchmarkFusionsW5 times, on one thread and in thread CPU per run
// (cpu-µs/run), W5's shapes of two passes with and without their fusion:
// the token embeddings' gather and the position embeddings' add (W5's
// [32, 64] ids into [8000, 128]; fuseGatherAdd), gelu, gelu_backward
// and the bias gradient's reduce_to on [2048, 512]
// (fuseGeluBiasGrad, with the products between left out), and a frozen
// block's residual layernorm on [2048, 128] (its sum written or not).
// Sub-benchmarks alternate on and off within each -count round.
func BenchmarkFusionsW5(b *testing.B) {
	if !simdOn {
		b.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(1))
	fill := func(p *Program, g *ir.Graph) {
		for _, in := range g.Inputs {
			if in.Type.DType == ir.I32 {
				ids := p.Int32(in.Name)
				for i := range ids {
					ids[i] = int32(r.Intn(8000))
				}
				continue
			}
			v := p.Float32(in.Name)
			for i := range v {
				v[i] = float32(r.NormFloat64())
			}
		}
	}
	gelu := func() *ir.Graph {
		g := ir.NewGraph()
		bl := ir.NewBuilder(g)
		x := must(bl.Input("x", ir.RoleData, f32(2048, 512)))
		d := must(bl.Input("d", ir.RoleData, f32(2048, 512)))
		y := must(bl.Gelu(x, false))
		dx := must(bl.GeluBackward(x, must(bl.Mul(y, d)), false))
		g.AddOutput("dx", dx)
		g.AddOutput("bias", must(bl.ReduceTo(dx, ir.Shape{512})))
		return g
	}
	ln := func() *ir.Graph {
		g := ir.NewGraph()
		bl := ir.NewBuilder(g)
		a := must(bl.Input("a", ir.RoleData, f32(2048, 128)))
		c := must(bl.Input("c", ir.RoleData, f32(2048, 128)))
		w := must(bl.Input("w", ir.RoleData, f32(128)))
		bias := must(bl.Input("bias", ir.RoleData, f32(128)))
		g.AddOutput("y", must(bl.LayerNorm(must(bl.Add(a, c)), w, bias, 1e-5)))
		return g
	}
	emb := func() *ir.Graph {
		g := ir.NewGraph()
		bl := ir.NewBuilder(g)
		table := must(bl.Input("table", ir.RoleData, f32(8000, 128)))
		ids := must(bl.Input("ids", ir.RoleData, ir.Type{DType: ir.I32, Shape: ir.Shape{32, 64}}))
		pos := must(bl.Input("pos", ir.RoleData, f32(64, 128)))
		g.AddOutput("x", must(bl.Add(must(bl.Gather(table, ids)), pos)))
		return g
	}
	for _, c := range []struct {
		name string
		g    func() *ir.Graph
		set  func(bool)
	}{
		{"gather+add", emb, func(on bool) { gatherAddOn = on }},
		{"gelu+bias", gelu, func(on bool) { geluBiasOn = on }},
		{"residual-layernorm", ln, func(on bool) { lnResidualOnlyOn = on }},
	} {
		for _, on := range []bool{false, true} {
			name := c.name + "/off"
			if on {
				name = c.name + "/on"
			}
			b.Run(name, func(b *testing.B) {
				c.set(on)
				g := c.g()
				p, err := Compile(g, Options{Threads: 1})
				c.set(true)
				if err != nil {
					b.Fatal(err)
				}
				fill(p, g)
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				if err := p.Run(); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				t0 := cputime.Thread()
				for range b.N {
					if err := p.Run(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cputime.Thread()-t0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/run")
			})
		}
	}
}
