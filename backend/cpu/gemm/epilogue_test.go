package gemm

import (
	"math"
	"math/rand"
	"sync/atomic"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
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

// mulTile is a TileEpilogue that multiplies C by d (C's shape, n
// columns) and counts how often each element was visited.
type mulTile struct {
	d     []float32
	n     int
	seen  []int32
	wrong atomic.Int32 // blocks outside C or with a c not at (i0, j0)
	c     []float32
}

func (t *mulTile) Tile(c []float32, ldc, i0, j0, m, n int) {
	if ldc != t.n || i0 < 0 || j0 < 0 || i0+m > len(t.seen)/t.n || j0+n > t.n || &c[0] != &t.c[i0*ldc+j0] {
		t.wrong.Add(1)
		return
	}
	for i := range m {
		for j := range n {
			c[i*ldc+j] *= t.d[(i0+i)*t.n+j0+j]
			atomic.AddInt32(&t.seen[(i0+i)*t.n+j0+j], 1)
		}
	}
}

// TestTileEpilogue: Params.Tile sees every element of the final C once
// (after bias and activation, with beta·C added), on every path (the
// tiny triple loop, M = 1, k = 0, the swapped product, the product by
// dot products (dotWorth), edge tiles,
// several KC slices and blocks of rows), on one core and on two:
// C·D elementwise gives the bits of the product without Tile then
// multiplied by D.
func TestTileEpilogue(t *testing.T) {
	defer func() { getPool, noDot = parallel.Default, false }()
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(5))
		swapped, dots := swappedCalls.Load(), dotCalls.Load()
		defer func() {
			if k := active.Load(); k.microA != nil && k.transpose8 != nil && swappedCalls.Load() == swapped {
				t.Errorf("no swapped product")
			}
			if k := active.Load(); k.dotNT != nil && dotCalls.Load() == dots {
				t.Errorf("no product by dot products")
			}
		}()
		for si, s := range []shape{
			{m: 3, n: 4, k: 5},
			{m: 1, n: 300, k: 400, transB: true},
			{m: 64, n: 256, k: 784, transB: true}, // by dot products (dotWorth)
			{m: 64, n: 256, k: 784, transB: true}, // … and by the panels: swapped on one worker
			{m: 64, n: 512, k: 128, colBias: true, act: ActReLU},
			{m: 128, n: 512, k: 128},
			{m: 200, n: 48, k: 300, colBias: true, beta: 1},
			{m: 70, n: 21, k: 700, transA: true, colBias: true, act: ActGELU},
			{m: 13, n: 37, k: 0, colBias: true},
			{m: 300, n: 130, k: 64, beta: 1},
		} {
			noDot = si == 3
			a, b, c0 := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
			bias, d := randSlice(r, s.n), randSlice(r, s.m*s.n)
			for _, workers := range []int{1, 2} {
				pool := parallel.New(workers)
				getPool = func() *parallel.Pool { return pool }
				for _, serial := range []bool{false, true} {
					var out [2][]float32
					var tile *mulTile
					for v := range 2 {
						p := Params{TransA: s.transA, TransB: s.transB, M: s.m, N: s.n, K: s.k, Alpha: 1, Beta: s.beta,
							A: a, LDA: s.k, B: b, LDB: s.n, C: append([]float32(nil), c0...), LDC: s.n, Act: s.act}
						if s.transA {
							p.LDA = s.m
						}
						if s.transB {
							p.LDB = s.k
						}
						if s.colBias {
							p.ColBias = bias
						}
						if v == 1 {
							tile = &mulTile{d: d, n: s.n, seen: make([]int32, s.m*s.n), c: p.C}
							p.Tile = tile
						}
						if serial {
							SgemmExSerial(&p)
						} else {
							SgemmEx(&p)
						}
						out[v] = p.C
					}
					if w := tile.wrong.Load(); w > 0 {
						t.Fatalf("%+v workers %d serial %v: %d blocks out of place", s, workers, serial, w)
					}
					for i, w := range out[0] {
						if tile.seen[i] != 1 {
							t.Fatalf("%+v workers %d serial %v: C[%d] seen %d times", s, workers, serial, i, tile.seen[i])
						}
						if want := w * d[i]; math.Float32bits(out[1][i]) != math.Float32bits(want) {
							t.Fatalf("%+v workers %d serial %v: C[%d] = %g, want %g", s, workers, serial, i, out[1][i], want)
						}
					}
				}
			}
		}
	})
}
