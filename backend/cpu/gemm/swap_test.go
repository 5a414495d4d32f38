package gemm

import (
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// TestSwapped: products x·Wᵀ of a few rows (whole panels) and at least
// four times as many columns and as much depth, on one core, are computed as W·xᵀ and written back
// transposed (swapWorth), with the reference result and the same bits
// as the product computed as stated, whatever beta (C transposed in
// first), epilogue, padding and KC slices; W1's fc1 forward takes the
// path, and products outside it (more rows, rows not whole panels,
// fewer columns, less depth, A transposed, a pool of more than one) do
// not.
func TestSwapped(t *testing.T) {
	noDot = true // W1's fc1 shape goes by dot products otherwise
	defer func() { getPool = parallel.Default; noSwap = false; noDot = false }()
	forEachKernel(t, func(t *testing.T) {
		k := active.Load()
		for _, s := range []shape{
			{m: 64, n: 256, k: 784, transB: true, colBias: true, act: ActReLU},
			{m: 64, n: 128, k: 256, transB: true, colBias: true, act: ActReLU},
			{m: 16, n: 64, k: 70, transB: true, beta: 1, colBias: true},
			{m: 32, n: 301, k: 600, transB: true, padA: 3, padB: 5, padC: 2, beta: 1},
			{m: 48, n: 200, k: 1000, transB: true, padB: 2, beta: 0.5, rowBias: true, act: ActTanh},
			{m: 50, n: 200, k: 70, transB: true, colBias: true, rowBias: true},
			{m: 97, n: 256, k: 784, transB: true},
			{m: 17, n: 301, k: 600, transB: true},
			{m: 64, n: 1024, k: 64, transB: true},
			{m: 64, n: 100, k: 300, transB: true},
			{m: 64, n: 256, k: 300, transA: true, transB: true},
		} {
			s.alpha = 1
			pathSameBits(t, s, 23, "the swap", &noSwap, &swappedCalls, func(stated bool, workers int, n uint64) bool {
				want := s.transB && !s.transA && s.m%k.nr == 0 && s.m <= directAMaxRows && s.n >= 4*s.m && s.k >= 4*s.m &&
					k.microA != nil && k.transpose8 != nil && workers == 1
				return !(n != 0 && (stated || !want) || n == 0 && !stated && want)
			})
		}
	})
}
