package gemm

import (
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// TestDot: small batches times a transposed weight at least dotMinK deep
// (W1's fc1 forward, 64×784 times the 256×784 weight, with its bias and
// ReLU) go by dot products (dotWorth) on one to three workers, with the
// reference result (padding untouched, beta 0 never reading C), the same
// bits on any number of workers, and at the edges (rows past a multiple
// of 4, columns past a multiple of 3, depth past a multiple of 8,
// through overlapping tiles) the bits of the same element in a whole
// tile: the product of A without its first row, or of B without its
// first row, is the same bits shifted by one. Products outside the path
// (less depth, more rows, fewer than 4 rows or 3 columns, A transposed,
// alpha ≠ 1, op(B) packed before) do not take it.
func TestDot(t *testing.T) {
	if k := active.Load(); k.dotNT == nil {
		t.Skip("no dot-product kernel")
	}
	defer func() { getPool = parallel.Default }()
	for _, s := range []shape{
		{m: 64, n: 256, k: 784, transB: true, colBias: true, act: ActReLU},
		{m: 64, n: 256, k: 784, transB: true, padA: 3, padB: 5, padC: 2, beta: 1},
		{m: 61, n: 100, k: 400, transB: true, beta: 0.5, rowBias: true, act: ActTanh},
		{m: 6, n: 5, k: 390, transB: true, colBias: true},
		{m: 64, n: 7, k: 1001, transB: true, beta: 1, padC: 1},
		{m: 96, n: 11, k: 680, transB: true, beta: -2},
		{m: 4, n: 3, k: 384, transB: true},
		{m: 95, n: 301, k: 515, transB: true, padA: 3, padB: 5, padC: 2, colBias: true, act: ActReLU},
	} {
		s.alpha = 1
		var first []float32
		for _, workers := range []int{1, 2, 3} {
			pool := parallel.New(workers)
			getPool = func() *parallel.Pool { return pool }
			before := dotCalls.Load()
			s.run(t, rand.New(rand.NewSource(31)))
			if dotCalls.Load() == before {
				t.Fatalf("%v, %d workers: not by dot products", s, workers)
			}
			if first == nil {
				first = lastC
				continue
			}
			for i := range first {
				if math.Float32bits(first[i]) != math.Float32bits(lastC[i]) {
					t.Fatalf("%v: C[%d] = %v on %d workers, %v on one", s, i, lastC[i], workers, first[i])
				}
			}
		}
	}

	// The bits of an element do not depend on its tile.
	r := rand.New(rand.NewSource(32))
	for _, d := range [][3]int{{64, 256, 784}, {61, 100, 403}, {9, 7, 389}} {
		m, n, k := d[0], d[1], d[2]
		a, b := randSlice(r, m*k), randSlice(r, n*k)
		mul := func(a, b []float32, m, n int) []float32 {
			p := Params{TransB: true, M: m, N: n, K: k, Alpha: 1, A: a, LDA: k, B: b, LDB: k, C: make([]float32, m*n), LDC: n}
			SgemmEx(&p)
			return p.C
		}
		c, ca, cb := mul(a, b, m, n), mul(a[k:], b, m-1, n), mul(a, b[k:], m, n-1)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				x := math.Float32bits(c[i*n+j])
				if i > 0 && math.Float32bits(ca[(i-1)*n+j]) != x || j > 0 && math.Float32bits(cb[i*(n-1)+j-1]) != x {
					t.Fatalf("%d×%d×%d: C[%d,%d] = %v, but with A or B from row 1 on %v, %v", m, n, k, i, j, c[i*n+j], ca[max(i-1, 0)*n+j], cb[i*(n-1)+max(j-1, 0)])
				}
			}
		}
	}

	// Products that do not take the path.
	for _, s := range []shape{
		{m: 64, n: 256, k: dotMinK - 1, transB: true},
		{m: dotMaxRows + 1, n: 256, k: 400, transB: true},
		{m: 96, n: 30, k: 700, transB: true},
		{m: 3, n: 256, k: 784, transB: true},
		{m: 64, n: 2, k: 784, transB: true},
		{m: 64, n: 256, k: 784, transA: true, transB: true},
		{m: 64, n: 256, k: 784},
		{m: 64, n: 256, k: 784, transB: true, alpha: 0.5},
	} {
		if s.alpha == 0 {
			s.alpha = 1
		}
		before := dotCalls.Load()
		s.run(t, r)
		if dotCalls.Load() != before {
			t.Fatalf("%v: by dot products", s)
		}
	}
	p := Params{TransB: true, M: 64, N: 256, K: 784, Alpha: 1, A: randSlice(r, 64*784), LDA: 784,
		B: randSlice(r, 256*784), LDB: 784, C: make([]float32, 64*256), LDC: 256}
	p.PackedB = PackB(&p, nil)
	before := dotCalls.Load()
	SgemmEx(&p)
	if dotCalls.Load() != before {
		t.Fatal("a product with op(B) packed before went by dot products")
	}
}
