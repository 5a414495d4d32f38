package gemm

import (
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// TestGroupRows: SgemmGroupRows gives each product the bits of its own
// SgemmEx call (C and ASums), on every kernel and pool size, for
// products of any height (not whole tiles) by one op(B), with and without
// a bias, an activation or column sums of A (mixed in one group), op(A)
// and op(B) stored either way, Beta 0 and 1, one and several KC slices
// (W4/W5's weight gradients dYᵀ·X: 128×128 by 2048); groups that cannot
// be one call (another B, one row) still give the bits of the products
// one by one.
func TestGroupRows(t *testing.T) {
	defer func() { getPool = parallel.Default }()
	type prod struct {
		m    int
		bias bool
		act  Activation
		sums bool
	}
	type gshape struct {
		n, k   int
		transA bool
		transB bool
		beta   float32
		prods  []prod
	}
	cases := []gshape{
		{n: 128, k: 2048, transA: true, prods: []prod{{128, false, ActNone, true}, {128, false, ActNone, true}, {128, false, ActNone, true}}},
		{n: 70, k: 600, transA: true, prods: []prod{{37, false, ActNone, true}, {5, false, ActNone, false}, {131, true, ActReLU, true}}},
		{n: 33, k: 300, transA: true, transB: true, beta: 1, prods: []prod{{50, false, ActNone, true}, {19, false, ActNone, false}}},
		{n: 256, k: 64, prods: []prod{{64, true, ActReLU, false}, {10, false, ActNone, false}}},
		{n: 90, k: 33, prods: []prod{{16, false, ActNone, false}, {3, true, ActGELU, false}, {300, false, ActTanh, false}}},
		{n: 17, k: 700, beta: 1, transB: true, prods: []prod{{70, true, ActNone, false}, {48, false, ActNone, false}}},
		{n: 30, k: 200, prods: []prod{{1, true, ActNone, false}, {64, false, ActNone, false}}},
		{n: 3, k: 2, prods: []prod{{2, false, ActNone, false}, {3, true, ActNone, false}}},
	}
	forEachKernel(t, func(t *testing.T) {
		for ci, s := range cases {
			for _, workers := range []int{1, 2, 3} {
				pool := parallel.New(workers)
				getPool = func() *parallel.Pool { return pool }
				r := rand.New(rand.NewSource(int64(ci)))
				b := randSlice(r, s.k*s.n)
				ldb := s.n
				if s.transB {
					ldb = s.k
				}
				var ps, want []Params
				for _, q := range s.prods {
					p := Params{TransA: s.transA, TransB: s.transB, M: q.m, N: s.n, K: s.k, Alpha: 1, Beta: s.beta,
						A: randSlice(r, s.k*q.m), LDA: s.k, B: b, LDB: ldb, C: randSlice(r, q.m*s.n), LDC: s.n, Act: q.act}
					if s.transA {
						p.LDA = q.m
					}
					if q.bias {
						p.ColBias = randSlice(r, s.n)
					}
					w := p
					w.C = append([]float32(nil), p.C...)
					if q.sums {
						p.ASums, w.ASums = make([]float64, q.m), make([]float64, q.m)
					}
					ps, want = append(ps, p), append(want, w)
				}
				for i := range want {
					SgemmEx(&want[i])
				}
				before := groupRowsCalls.Load()
				SgemmGroupRows(ps)
				grouped := groupRowsCalls.Load() - before
				wantGrouped := true
				for i := range ps {
					p := &ps[i]
					wantGrouped = wantGrouped && p.M > 1 && p.M*p.N*p.K > smallMACs && !swapWorth(p, active.Load(), false) && !dotWorth(p, active.Load())
				}
				if (grouped == 1) != wantGrouped {
					t.Errorf("case %d, %d workers: grouped %d calls, want %v", ci, workers, grouped, wantGrouped)
				}
				check := func(how string) {
					t.Helper()
					for i := range ps {
						for e := range ps[i].C {
							if math.Float32bits(ps[i].C[e]) != math.Float32bits(want[i].C[e]) {
								t.Fatalf("case %d, %d workers%s: product %d differs at %d: %v, want %v", ci, workers, how, i, e, ps[i].C[e], want[i].C[e])
							}
						}
						for e := range ps[i].ASums {
							if math.Float64bits(ps[i].ASums[e]) != math.Float64bits(want[i].ASums[e]) {
								t.Fatalf("case %d, %d workers%s: product %d's column sum %d: %v, want %v", ci, workers, how, i, e, ps[i].ASums[e], want[i].ASums[e])
							}
						}
					}
				}
				check("")
				// The serial variant too (from the old C again).
				if s.beta == 0 {
					for i := range ps {
						clear(ps[i].C)
						clear(ps[i].ASums)
					}
					SgemmGroupRowsSerial(ps)
					check(" serial")
				}
			}
		}
	})
}

// TestGroupRowsFallback: products of different B run one by one; a bad
// shape panics as SgemmEx's does.
func TestGroupRowsFallback(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	mk := func(b []float32) Params {
		return Params{M: 40, N: 30, K: 20, Alpha: 1, A: randSlice(r, 800), LDA: 20, B: b, LDB: 30, C: make([]float32, 1200), LDC: 30}
	}
	ps := []Params{mk(randSlice(r, 600)), mk(randSlice(r, 600))}
	oneByOne(t, ps, SgemmGroupRows, &groupRowsCalls, true, "products of different B")
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short C")
		}
	}()
	ps[1].C = ps[1].C[:10]
	SgemmGroupRows(ps)
}

// TestGroupRowsZeroAllocs: a group stacked by rows allocates nothing
// once warm.
func TestGroupRowsZeroAllocs(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	b := randSlice(r, 2048*128)
	ps := make([]Params, 3)
	for i := range ps {
		ps[i] = Params{TransA: true, M: 128, N: 128, K: 2048, Alpha: 1, A: randSlice(r, 2048*128), LDA: 128, B: b, LDB: 128,
			C: make([]float32, 128*128), LDC: 128, ASums: make([]float64, 128)}
	}
	SgemmGroupRows(ps)
	if allocs := testing.AllocsPerRun(20, func() { SgemmGroupRows(ps) }); allocs != 0 {
		t.Errorf("%.1f allocations per call", allocs)
	}
}
