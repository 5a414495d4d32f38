package gemm

import (
	"fmt"
	"math"
	"math/rand"
	"sync/atomic"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// TestGroup: SgemmGroup gives each product the bits of its own SgemmEx
// call, on every kernel and pool size, for products of any width (not
// whole micro-panels), with and without a bias or an activation (mixed in
// one group), op(B) stored either way, Beta 0 and 1, few rows (B read in
// place) and many (split over M, op(B) shared), one and several KC
// slices; groups that cannot be one call (another A, one row) still give
// the bits of the products one by one.
func TestGroup(t *testing.T) {
	defer func() { getPool = parallel.Default }()
	type prod struct {
		n    int
		bias bool
		act  Activation
	}
	type gshape struct {
		m, k   int
		transA bool
		transB bool
		beta   float32
		prods  []prod
	}
	cases := []gshape{
		{m: 2048, k: 128, transB: true, prods: []prod{{128, true, ActNone}, {128, true, ActNone}, {128, true, ActNone}}},
		{m: 300, k: 70, transB: true, prods: []prod{{5, false, ActNone}, {17, true, ActReLU}, {40, true, ActGELU}}},
		{m: 64, k: 784, prods: []prod{{256, true, ActReLU}, {10, false, ActNone}}},
		{m: 90, k: 33, prods: []prod{{16, false, ActNone}, {1, true, ActNone}, {33, false, ActTanh}}},
		{m: 700, k: 600, beta: 1, prods: []prod{{70, true, ActNone}, {48, false, ActNone}}},
		{m: 200, k: 300, transA: true, transB: true, prods: []prod{{20, false, ActNone}, {100, true, ActSigmoid}}},
		{m: 1, k: 200, transB: true, prods: []prod{{30, true, ActNone}, {64, false, ActNone}}},
		{m: 3, k: 2, prods: []prod{{2, false, ActNone}, {3, true, ActNone}}},
	}
	forEachKernel(t, func(t *testing.T) {
		for ci, s := range cases {
			for _, workers := range []int{1, 2, 3} {
				pool := parallel.New(workers)
				getPool = func() *parallel.Pool { return pool }
				r := rand.New(rand.NewSource(int64(ci)))
				a := randSlice(r, s.m*s.k)
				lda := s.k
				if s.transA {
					lda = s.m
				}
				var ps, want []Params
				for _, q := range s.prods {
					p := Params{TransA: s.transA, TransB: s.transB, M: s.m, N: q.n, K: s.k, Alpha: 1, Beta: s.beta,
						A: a, LDA: lda, B: randSlice(r, s.k*q.n), LDB: q.n, C: randSlice(r, s.m*q.n), LDC: q.n, Act: q.act}
					if s.transB {
						p.LDB = s.k
					}
					if q.bias {
						p.ColBias = randSlice(r, q.n)
					}
					w := p
					w.C = append([]float32(nil), p.C...)
					ps, want = append(ps, p), append(want, w)
				}
				for i := range want {
					SgemmEx(&want[i])
				}
				before := groupCalls.Load()
				SgemmGroup(ps)
				grouped := groupCalls.Load() - before
				if wantGrouped := s.m > 1 && s.m*s.k*2 > smallMACs && !(workers == 1 && swapWorth(&ps[0], active.Load(), false)); (grouped == 1) != wantGrouped {
					t.Errorf("case %d, %d workers: grouped %d calls, want %v", ci, workers, grouped, wantGrouped)
				}
				for i := range ps {
					for e := range ps[i].C {
						if math.Float32bits(ps[i].C[e]) != math.Float32bits(want[i].C[e]) {
							t.Fatalf("case %d, %d workers: product %d differs at %d: %v, want %v", ci, workers, i, e, ps[i].C[e], want[i].C[e])
						}
					}
				}
				// The serial variant too.
				for i := range ps {
					copy(ps[i].C, want[i].C)
				}
				SgemmGroupSerial(ps)
				for i := range ps {
					for e := range ps[i].C {
						if math.Float32bits(ps[i].C[e]) != math.Float32bits(want[i].C[e]) && s.beta == 0 {
							t.Fatalf("case %d serial: product %d differs at %d", ci, i, e)
						}
					}
				}
			}
		}
	})
}

// oneByOne runs group(ps) and fails unless each product's C has the
// bits of its own SgemmEx call, and, where refuse, unless the group ran
// them one by one (calls, the group's counter, did not move; what names
// the products in the message).
func oneByOne(t *testing.T, ps []Params, group func([]Params), calls *atomic.Uint64, refuse bool, what string) {
	t.Helper()
	want := make([]Params, len(ps))
	for i := range ps {
		want[i] = ps[i]
		want[i].C = make([]float32, len(ps[i].C))
		SgemmEx(&want[i])
	}
	before := calls.Load()
	group(ps)
	if refuse && calls.Load() != before {
		t.Fatal(what + " grouped")
	}
	for i := range ps {
		if fmt.Sprint(ps[i].C) != fmt.Sprint(want[i].C) {
			t.Fatalf("product %d differs", i)
		}
	}
}

// TestGroupFallback: products of different A (or other shapes) run one by
// one; a bad shape panics as SgemmEx's does.
func TestGroupFallback(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	mk := func(a []float32) Params {
		return Params{M: 40, N: 30, K: 20, Alpha: 1, A: a, LDA: 20, B: randSlice(r, 600), LDB: 30, C: make([]float32, 1200), LDC: 30}
	}
	ps := []Params{mk(randSlice(r, 800)), mk(randSlice(r, 800))}
	oneByOne(t, ps, SgemmGroup, &groupCalls, true, "products of different A")
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short C")
		}
	}()
	ps[1].C = ps[1].C[:10]
	SgemmGroup(ps)
}

// TestGroupZeroAllocs: a group allocates nothing once warm.
func TestGroupZeroAllocs(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	a := randSlice(r, 512*128)
	ps := make([]Params, 3)
	for i := range ps {
		ps[i] = Params{TransB: true, M: 512, N: 128, K: 128, Alpha: 1, A: a, LDA: 128, B: randSlice(r, 128*128), LDB: 128,
			C: make([]float32, 512*128), LDC: 128, ColBias: randSlice(r, 128)}
	}
	SgemmGroup(ps)
	if allocs := testing.AllocsPerRun(20, func() { SgemmGroup(ps) }); allocs != 0 {
		t.Errorf("%.1f allocations per call", allocs)
	}
}

// negTile negates every element it is given (a caller's Tile epilogue).
type negTile struct{}

func (negTile) Tile(c []float32, ldc, i0, j0, m, n int) {
	for r := range m {
		for j := range n {
			c[r*ldc+j] = -c[r*ldc+j]
		}
	}
}

// TestGroupTileEpilogue: a product with a caller's Tile epilogue is not
// grouped (the group's call has no per-product Tile), so its epilogue
// still runs on every element.
func TestGroupTileEpilogue(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	a := randSlice(r, 256*64)
	mk := func() Params {
		return Params{M: 256, N: 96, K: 64, Alpha: 1, A: a, LDA: 64, B: randSlice(r, 64*96), LDB: 96, C: make([]float32, 256*96), LDC: 96}
	}
	ps := []Params{mk(), mk()}
	ps[1].Tile = negTile{}
	oneByOne(t, ps, SgemmGroup, &groupCalls, true, "a product with a Tile epilogue")
}

// TestGroupDotProducts: products that their own calls compute by dot
// products (dotWorth: few rows, deep x·Wᵀ) are not grouped, so each keeps
// the bits of its own call.
func TestGroupDotProducts(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	a := randSlice(r, 64*400)
	mk := func() Params {
		return Params{TransB: true, M: 64, N: 40, K: 400, Alpha: 1, A: a, LDA: 400, B: randSlice(r, 40*400), LDB: 400, C: make([]float32, 64*40), LDC: 40}
	}
	ps := []Params{mk(), mk()}
	oneByOne(t, ps, SgemmGroup, &groupCalls, dotWorth(&ps[0], active.Load()), "products by dot products")
}
