package gemm

import (
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// TestASums: the column sums of A (Params.ASums) are the bits of one
// sequential float64 sum per column, whatever the path (tiny, M == 1,
// N == 0, K == 0, Alpha == 0, blocked), the split (serial, over M, over
// N; 1 to 3 participants), several KC slices and NC blocks, with
// ColSums as set (nil here: backend/cpu's tests run its vector sums) and
// with colSumsGo, and the product's bits do not change.
func TestASums(t *testing.T) {
	vec := ColSums
	defer func() { getPool = parallel.Default; ColSums = vec }()
	type tc struct {
		m, n, k int
		alpha   float32
		beta    float32
		extra   int // lda − m
	}
	cases := []tc{
		{128, 128, 2048, 1, 0, 0}, // W5's q/k/v/o weight gradients
		{512, 128, 700, 1, 1, 3},  // several slices, accumulating, lda > m
		{130, 512, 300, 1, 0, 0},  // ff2's shape, edge tiles
		{12, 600, 520, 1, 0, 0},   // few rows: split over N
		{5, 4200, 300, 1, 0, 0},   // more than one NC block of columns
		{1, 300, 400, 1, 0, 0},    // M == 1: gemv
		{3, 4, 5, 1, 0, 0},        // tiny
		{40, 0, 70, 1, 0, 0},      // N == 0
		{40, 30, 0, 1, 0, 2},      // K == 0
		{40, 30, 70, 0, 1, 0},     // Alpha == 0
		{70, 90, 300, 2, 0, 1},    // Alpha scales C, not the sums
	}
	r := rand.New(rand.NewSource(11))
	for _, c := range cases {
		lda := c.m + c.extra
		a := randSlice(r, max(c.k*lda, 1))
		b := randSlice(r, max(c.k*c.n, 1))
		c0 := randSlice(r, max(c.m*c.n, 1))
		want := make([]float64, c.m)
		for q := 0; q < c.k; q++ {
			for i := range want {
				want[i] += float64(a[q*lda+i])
			}
		}
		var prod []float32
		for _, vector := range []bool{true, false} {
			ColSums = nil
			if vector {
				ColSums = vec
			}
			for _, workers := range []int{1, 2, 3} {
				pool := parallel.New(workers)
				getPool = func() *parallel.Pool { return pool }
				for _, serial := range []bool{false, true} {
					sums := make([]float64, c.m+1)
					for i := range sums {
						sums[i] = math.NaN() // overwritten, not added to
					}
					sums[c.m] = 42
					p := Params{TransA: true, M: c.m, N: c.n, K: c.k, Alpha: c.alpha, A: a, LDA: lda,
						B: b, LDB: max(c.n, 1), Beta: c.beta, C: append([]float32(nil), c0...), LDC: max(c.n, 1), ASums: sums}
					if serial {
						SgemmExSerial(&p)
					} else {
						SgemmEx(&p)
					}
					for i, w := range want {
						if math.Float64bits(sums[i]) != math.Float64bits(w) {
							t.Fatalf("%+v vector %v workers %d serial %v: ASums[%d] = %v, want %v", c, vector, workers, serial, i, sums[i], w)
						}
					}
					if sums[c.m] != 42 {
						t.Fatalf("%+v: ASums written past M", c)
					}
					q := Params{TransA: true, M: c.m, N: c.n, K: c.k, Alpha: c.alpha, A: a, LDA: lda,
						B: b, LDB: max(c.n, 1), Beta: c.beta, C: append([]float32(nil), c0...), LDC: max(c.n, 1)}
					SgemmEx(&q)
					if prod == nil {
						prod = q.C
					}
					for i := range q.C {
						if math.Float32bits(p.C[i]) != math.Float32bits(prod[i]) || math.Float32bits(q.C[i]) != math.Float32bits(prod[i]) {
							t.Fatalf("%+v: the product changed at %d", c, i)
						}
					}
				}
			}
		}
	}
}

// TestASumsSplits: the cases above take every split (a guard on the
// test: a split over N, over M and serially, with ASums).
func TestASumsSplits(t *testing.T) {
	defer func() { getPool = parallel.Default }()
	pool := parallel.New(2)
	getPool = func() *parallel.Pool { return pool }
	r := rand.New(rand.NewSource(12))
	seen := map[string]bool{}
	for _, s := range [][3]int{{128, 128, 2048}, {12, 600, 520}, {5, 4200, 300}, {40, 30, 70}} {
		m, n, k := s[0], s[1], s[2]
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		p := Params{TransA: true, M: m, N: n, K: k, Alpha: 1, A: a, LDA: m, B: b, LDB: n,
			C: make([]float32, m*n), LDC: n, ASums: make([]float64, m)}
		StartTrace()
		SgemmEx(&p)
		for _, c := range StopTrace() {
			seen[c.Split] = true
		}
	}
	for _, s := range []string{"M", "N", "serial"} {
		if !seen[s] {
			t.Errorf("no call split %q (%v)", s, seen)
		}
	}
}

func TestASumsNeedsTransA(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	p := Params{M: 2, N: 2, K: 2, Alpha: 1, A: make([]float32, 4), LDA: 2, B: make([]float32, 4), LDB: 2,
		C: make([]float32, 4), LDC: 2, ASums: make([]float64, 2)}
	SgemmEx(&p)
}

// TestEvenRows: a deep weight gradient split over M in equal parts of
// rows (evenRows: no task ends in a partial tile) computes the bits of
// the split at whole tiles and of one core, on 2 and 3 participants.
func TestEvenRows(t *testing.T) {
	defer func() { getPool = parallel.Default; noEvenRows = false }()
	r := rand.New(rand.NewSource(13))
	usedTwo := 0
	shapes := [][3]int{{128, 128, 2048}, {128, 512, 600}, {517, 128, 300}, {61, 200, 700}}
	defer func() {
		if usedTwo != len(shapes) {
			t.Errorf("%d of %d shapes split in equal rows on 2 cores", usedTwo, len(shapes))
		}
	}()
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		var want []float32
		for _, workers := range []int{1, 2, 3} {
			pool := parallel.New(workers)
			getPool = func() *parallel.Pool { return pool }
			for _, off := range []bool{true, false} {
				noEvenRows = off
				before := evenRowsTasks.Load()
				p := Params{TransA: true, M: m, N: n, K: k, Alpha: 1, A: a, LDA: m, B: b, LDB: n, C: make([]float32, m*n), LDC: n}
				SgemmEx(&p)
				used := evenRowsTasks.Load() > before
				if used && (workers == 1 || off) {
					t.Fatalf("%v, %d workers, off %v: even rows used", s, workers, off)
				}
				if used && workers == 2 {
					usedTwo++
				}
				if want == nil {
					want = p.C
				}
				for i := range want {
					if math.Float32bits(p.C[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v, %d workers, off %v: C[%d] = %v, want %v", s, workers, off, i, p.C[i], want[i])
					}
				}
			}
		}
	}
}
