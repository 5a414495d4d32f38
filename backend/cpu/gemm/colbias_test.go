package gemm

import (
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// TestMicroColBias: the tiles that add a column bias as they store
// (microColBias) give the bits of storing them and adding it after,
// with Beta 0 and 1, one KC slice and several, padded strides, split
// and serial; ReLU and other epilogues keep the old path.
func TestMicroColBias(t *testing.T) {
	defer func() { getPool = parallel.Default; noMicroColBias = false }()
	forEachKernel(t, func(t *testing.T) {
		for _, s := range []shape{
			{m: 520, n: 384, k: 128, transB: true, colBias: true},
			{m: 300, n: 512, k: 128, transB: true, colBias: true, padC: 3, padA: 2},
			{m: 400, n: 130, k: 600, colBias: true, beta: 1},
			{m: 130, n: 64, k: 40, transB: true, colBias: true, padB: 5},
			{m: 700, n: 96, k: 128, transB: true, colBias: true, act: ActReLU},
			{m: 700, n: 96, k: 128, transB: true, colBias: true, rowBias: true},
		} {
			s.alpha = 1
			for _, workers := range []int{1, 2} {
				pool := parallel.New(workers)
				getPool = func() *parallel.Pool { return pool }
				var got [2][]float32
				var used uint64
				for i, off := range []bool{true, false} {
					noMicroColBias = off
					before := colBiasBlocks.Load()
					s.run(t, rand.New(rand.NewSource(21)))
					got[i] = lastC
					if !off {
						used = colBiasBlocks.Load() - before
					}
				}
				want := Kernel() == "avx2" && s.act == ActNone && !s.rowBias
				// (On two workers a split over N may read A in place,
				// where tiles go one by one.)
				if used > 0 && !want || used == 0 && want && workers == 1 {
					t.Errorf("%v, %d workers: microColBias used in %d columns, want use %v", s, workers, used, want)
				}
				for i := range got[0] {
					if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
						t.Fatalf("%v, %d workers: differs at %d: %v, want %v", s, workers, i, got[1][i], got[0][i])
					}
				}
			}
		}
	})
}

// TestPrefetchA: a task of several blocks of A stored m×k prefetches the
// next block's rows (pfA) where no other prefetch runs, and the result
// is the bits of not prefetching.
func TestPrefetchA(t *testing.T) {
	defer func() { getPool = parallel.Default; noPrefetchA = false }()
	forEachKernel(t, func(t *testing.T) {
		for _, s := range []shape{
			{m: 1000, n: 128, k: 128, transB: true, colBias: true},
			{m: 700, n: 64, k: 512},
			{m: 500, n: 40, k: 70, beta: 1, padA: 3},
		} {
			s.alpha = 1
			pool := parallel.New(1)
			getPool = func() *parallel.Pool { return pool }
			var got [2][]float32
			var used uint64
			for i, off := range []bool{true, false} {
				noPrefetchA = off
				before := prefetchABlocks.Load()
				s.run(t, rand.New(rand.NewSource(22)))
				got[i] = lastC
				if !off {
					used = prefetchABlocks.Load() - before
				}
			}
			if want := Kernel() == "avx2"; (used > 0) != want {
				t.Errorf("%v: prefetch of A used in %d tasks, want use %v", s, used, want)
			}
			for i := range got[0] {
				if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
					t.Fatalf("%v: differs at %d", s, i)
				}
			}
		}
	})
}
