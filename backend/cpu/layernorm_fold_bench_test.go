package cpu

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// BenchmarkLayerNormFold times W4/W5's post-LN block end, layernorm(a +
// matmul_bias(x, W)ᵀ) on 2048 rows of 128 (K = 128: attn.o, 512: ff2),
// the sum kept for the backward, with the layernorm in the product's
// epilogue (fold) and as its own pass, on one thread and two; besides
// the wall time it reports the process's CPU time per op (cpu-ns/op):
//
//	go test ./backend/cpu -run - -bench LayerNormFold -count 5
func BenchmarkLayerNormFold(b *testing.B) {
	defer func() { lnFoldOn = true }()
	for _, k := range []int{128, 512} {
		g := ir.NewGraph()
		bd := ir.NewBuilder(g)
		x := must(bd.Input("x", ir.RoleData, f32(2048, k)))
		w := must(bd.Input("w", ir.RoleData, f32(128, k)))
		bias := must(bd.Input("bias", ir.RoleData, f32(128)))
		a := must(bd.Input("a", ir.RoleData, f32(2048, 128)))
		h := must(bd.Add(a, must(bd.MatMulBias(x, w, bias, ir.MatMulBiasAttr{TransposeB: true}))))
		y := must(bd.LayerNorm(h, must(bd.Input("lw", ir.RoleData, f32(128))), must(bd.Input("lb", ir.RoleData, f32(128))), 1e-5))
		g.AddOutput("y", y)
		g.AddOutput("h", h)
		for _, threads := range []int{1, 2} {
			for _, fold := range []bool{true, false} {
				lnFoldOn = fold
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					b.Fatal(err)
				}
				if n := foldedLayerNorms(p); (n == 1) != fold {
					b.Fatalf("%d folded", n)
				}
				r := rand.New(rand.NewSource(1))
				for _, in := range g.Inputs {
					v := p.Float32(in.Name)
					for i := range v {
						v[i] = float32(r.NormFloat64())
					}
				}
				name := "own"
				if fold {
					name = "fold"
				}
				b.Run(fmt.Sprintf("K%d/threads=%d/%s", k, threads, name), func(b *testing.B) { benchRuns(b, p) })
			}
		}
	}
}
