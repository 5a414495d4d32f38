package gemm

import (
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// TestW1Splits: the products of W1's training step (784-256-128-10,
// batch 64) as the CPU backend calls them, on two cores with the avx2
// kernel, take the splits the model is meant to choose, read from the
// trace: the 64-row products with many columns (fc1's and fc2's forward,
// x·Wᵀ) over N: fc1's (784 deep) by dot products (dotWorth), one task
// of 43 strips of 3 columns per core; fc2's (256 deep) one task of whole
// 16-column panels per core, each packing its own half of Wᵀ and reading
// the 64 rows of x in place (split over M, the 11 six-row panels would
// go 6/5, 36 rows against 28, each task packing half of Wᵀ in parts:
// more work on the longer task than an N split's extra packing of x);
// fc1's weight
// gradient (256×784, K = 64, Aᵀ packed) over N too, 25/24 panels; fc3's
// forward (10 columns) on one core. The trace
// records the call, its tasks and their ranges, and nothing once it is
// stopped.
func TestW1Splits(t *testing.T) {
	if !slices.Contains(Kernels(), "avx2") {
		t.Skip("no avx2 kernel")
	}
	defer SetKernel("auto")
	if err := SetKernel("avx2"); err != nil {
		t.Fatal(err)
	}
	defer func() { getPool = parallel.Default }()
	pool := parallel.New(2)
	getPool = func() *parallel.Pool { return pool }
	r := rand.New(rand.NewSource(16))
	for _, s := range []struct {
		name           string
		transA, transB bool
		m, n, k        int
		split          string
		bounds         []int // the tasks' ranges of units, [b[i], b[i+1])
		directA        bool  // the tasks read A in place
	}{
		{"fc1", false, true, 64, 256, 784, "N", []int{0, 43, 86}, false},
		{"fc2", false, true, 64, 128, 256, "N", []int{0, 4, 8}, true},
		{"fc3", false, true, 64, 10, 128, "serial", []int{0, 11}, true},
		{"dW1", true, false, 256, 784, 64, "N", []int{0, 25, 49}, false},
	} {
		p := Params{TransA: s.transA, TransB: s.transB, M: s.m, N: s.n, K: s.k, Alpha: 1,
			A: randSlice(r, s.m*s.k), B: randSlice(r, s.k*s.n), C: make([]float32, s.m*s.n), LDC: s.n}
		p.LDA, p.LDB = s.k, s.n
		if s.transA {
			p.LDA = s.m
		}
		if s.transB {
			p.LDB = s.k
		}
		StartTrace()
		SgemmEx(&p)
		calls := StopTrace()
		SgemmEx(&p)
		if StopTrace() != nil {
			t.Fatalf("%s: a call was traced after StopTrace", s.name)
		}
		if len(calls) != 1 {
			t.Fatalf("%s: %d calls traced, want 1", s.name, len(calls))
		}
		c := calls[0]
		if c.M != s.m || c.N != s.n || c.K != s.k || c.TransA != s.transA || c.TransB != s.transB || c.Serial {
			t.Fatalf("%s: traced %+v", s.name, c)
		}
		if c.Split != s.split || c.Tasks != len(s.bounds)-1 || c.SharedB || len(c.Task) != c.Tasks {
			t.Fatalf("%s: split %s into %d tasks (shared op(B) %v), want %s into %d", s.name, c.Split, c.Tasks, c.SharedB, s.split, len(s.bounds)-1)
		}
		for i, tk := range c.Task {
			if tk.Lo != s.bounds[i] || tk.Hi != s.bounds[i+1] || tk.Worker < 0 || tk.Worker >= 2 ||
				tk.Start < c.Start || tk.End < tk.Start || c.End < tk.End || tk.DirectA != s.directA {
				t.Fatalf("%s: task %d: %+v, want units [%d, %d) within the call %v–%v", s.name, i, tk, s.bounds[i], s.bounds[i+1], c.Start, c.End)
			}
		}
	}
}

// TestDirectASmallM: products of at most directAMaxRows rows split over N
// read A in place whatever their depth (several KC slices) and row
// stride, with the reference result and the bits of packing A, on one to
// three workers; W1's first layer (64×784 times Wᵀ, bias and ReLU) on
// two workers takes the path. A of more rows and more than one KC slice
// deep is still packed.
func TestDirectASmallM(t *testing.T) {
	noDot = true // W1's fc1 shape goes by dot products otherwise
	defer func() { getPool = parallel.Default; noDirectA = false; noDot = false }()
	forEachKernel(t, func(t *testing.T) {
		if active.Load().microA == nil {
			t.Skip("no in-place A kernel")
		}
		for _, s := range []shape{
			{m: 64, n: 256, k: 784, transB: true, colBias: true, act: ActReLU},
			{m: 96, n: 300, k: 600, padA: 5, padC: 1, beta: 1},
			{m: 41, n: 130, k: 1000, transB: true, padB: 2, beta: 0.5, rowBias: true},
			{m: 97, n: 256, k: 784, transB: true},
		} {
			s.alpha = 1
			for _, workers := range []int{1, 2, 3} {
				pool := parallel.New(workers)
				getPool = func() *parallel.Pool { return pool }
				var got [2][]float32
				for x, packed := range []bool{true, false} {
					noDirectA = packed
					before := directABlocks.Load()
					s.run(t, rand.New(rand.NewSource(22)))
					in := directABlocks.Load() - before
					if packed && in > 0 || s.m > directAMaxRows && in > 0 || !packed && s.m == 64 && workers == 2 && in == 0 {
						t.Fatalf("%v, %d workers, packing A %v: %d tasks read A in place", s, workers, packed, in)
					}
					got[x] = lastC
				}
				for i := range got[0] {
					if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
						t.Fatalf("%v, %d workers: C[%d] = %v with A in place, %v packed", s, workers, i, got[1][i], got[0][i])
					}
				}
			}
		}
	})
}
