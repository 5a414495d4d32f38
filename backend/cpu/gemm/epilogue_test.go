package gemm

import (
	"math"
	"math/rand"
	"testing"
)

// TestEpilogueTile checks the whole-tile bias(+ReLU) epilogue (biasTile,
// and biasAct per tile row) against epilogueRow's scalar loops bit for
// bit: products with a column bias, with and without ReLU, whole and edge
// tiles, and C entries made NaN, ±Inf and ±0 by the bias; edge panels
// of fewer than nr columns (the epilogue applied as addTile stores the
// scratch tile, one KC slice or several) take that path.
func TestEpilogueTile(t *testing.T) {
	tile, row := biasTile, biasAct
	defer func() { biasTile, biasAct = tile, row }()
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(11))
		specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), -1e-40}
		for _, s := range [][3]int{{6, 16, 5}, {13, 37, 20}, {64, 128, 32}, {200, 48, 300}, {5, 8, 3}, {64, 10, 128}, {70, 21, 700}} {
			m, n, k := s[0], s[1], s[2]
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			bias := randSlice(r, n)
			for j := range bias {
				if r.Intn(4) == 0 {
					bias[j] = specials[r.Intn(len(specials))]
				}
			}
			for _, act := range []Activation{ActNone, ActReLU} {
				var got [3][]float32
				for v, fns := range [][2]bool{{true, true}, {false, true}, {false, false}} {
					biasTile, biasAct = nil, nil
					if fns[0] {
						biasTile = tile
					}
					if fns[1] {
						biasAct = row
					}
					c := make([]float32, m*n)
					before := edgeBiasBlocks.Load()
					SgemmEx(&Params{M: m, N: n, K: k, Alpha: 1, A: a, LDA: k, B: b, LDB: n, C: c, LDC: n, ColBias: bias, Act: act})
					edge := edgeBiasBlocks.Load() - before
					if nr := active.Load().nr; fns[1] && n%nr != 0 && nr%8 == 0 && k >= 100 && edge == 0 || !fns[1] && edge > 0 {
						t.Fatalf("%v act %v variant %d: %d tasks applied the epilogue in addTile", s, act, v, edge)
					}
					got[v] = c
				}
				for v := range 2 {
					for i, w := range got[2] {
						if math.Float32bits(got[v][i]) != math.Float32bits(w) {
							t.Fatalf("%v act %v variant %d: C[%d] = %g, want %g", s, act, v, i, got[v][i], w)
						}
					}
				}
			}
		}
	})
}
