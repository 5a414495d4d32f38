package gemm

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"
)

// kernel is one micro-kernel with its register tile and cache blocking.
type kernel struct {
	name   string
	mr, nr int // register tile: mr rows of A × nr columns of B
	kc     int // depth of a packed block: a kc×nr B micro-panel stays in L1
	mc     int // rows of a packed A block (mc×kc) kept in L2
	nc     int // columns of a packed B block (kc×nc) kept in L3

	// micro computes the mr×nr product of a packed A micro-panel
	// (kc steps of mr floats) and a B micro-panel (kc rows of nr floats,
	// ldb apart: nr when packed) and stores it into c (row stride ldc),
	// adding to what is there when acc != 0. kc >= 1.
	micro func(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)

	// microCol, if not nil, is micro on tiles ≥ 1 whole tiles one under
	// another: the packed A micro-panels at a + t·kc·mr (t < tiles)
	// times the same B micro-panel into the C tiles at c + t·mr·ldc,
	// prefetching pfLines cache lines from address pf on (advancing)
	// before each tile. The same bits as micro tile by tile.
	microCol func(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int, tiles int, pf uintptr, pfLines int)

	// microColBias, if not nil (with microCol), is microCol adding
	// bias[0:nr] to each row of the tiles as it stores them (after the
	// old C where acc != 0): the last KC slice of a product whose
	// epilogue is a column bias alone, with the bits of microCol and
	// then the epilogue.
	microColBias func(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int, tiles int, pf uintptr, pfLines int, bias *float32)

	// micro4, if not nil, is micro for the first 4 rows of the tile
	// only (a still an mr-row panel); edge panels of 4 rows use it in
	// place of micro on a scratch tile.
	micro4 func(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)

	// micro5 and micro5A, if not nil (mr == 6), are micro and microA
	// for the first 5 rows of the tile only (micro5's a still a 6-row
	// packed panel). A block of mc ≢ 0 (mod mr) rows then goes as whole
	// tiles and fives(mc) tiles of 5 rows, no edge tile (see fives).
	micro5  func(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)
	micro5A func(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc int)

	// microA, if not nil (mr == 6), is micro reading A in place: a is
	// the first of mr rows of A stored m×k, lda floats apart, kc floats
	// each (alpha 1). Each element is the same FMA chain as micro's on
	// A packed, so the bits are the same. See directA.
	microA func(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc int)

	// dotNT, if not nil, is the dot-product kernel of small batches
	// times a transposed B (see dotWorth): for t < tiles, the 4×3 tile
	// of C at c + 4t·ldc of rows 4t… of A (a, lda floats apart) times
	// rows 0…2 of B (b, ldb apart), k ≥ 8 deep, added to C where acc
	// != 0.
	dotNT func(k int, a *float32, lda, tiles int, b *float32, ldb int, c *float32, ldc, acc int)

	// gemvN: y[0:n] (+)= x·B, B row-major k×n; gemvT: y[j] (+)= x·B[j,:],
	// B row-major n×k. k >= 1.
	gemvN, gemvT func(k, n int, x, b []float32, ldb int, y []float32, acc bool)

	// transpose8, if not nil, transposes blocks 8×8 blocks:
	// dst[(8b+q)*ldd + r] = src[r*lds + 8b + q] for r, q < 8; packing
	// uses it for the layout that needs a gather. The caller checks
	// bounds.
	transpose8 func(blocks int, src *float32, lds int, dst *float32, ldd int)

	// pack6, if not nil (mr == 6), packs a whole 6-row micro-panel of A
	// stored m×k, 8 depth steps per block: dst[q*6+r] = src[r*lds+q],
	// storing 2 floats past the last block (the caller leaves room).
	pack6 func(blocks int, src *float32, lds int, dst *float32)

	// packB16, if not nil (nr == 16), packs np whole micro-panels of B
	// stored k×n row by row: dst[i*pstride + q*16 + c] = src[q*ldb +
	// 16*i + c] for q < kc, i < np, c < 16. The caller checks bounds.
	packB16 func(kc int, src *float32, ldb int, np int, dst *float32, pstride int)

	// prefetch, if not nil, asks for lines 64-byte cache lines from
	// address p on without reading them (they need not be valid
	// memory): the driver prefetches the next packed B micro-panel with
	// it (see prefetchBMin).
	prefetch func(p uintptr, lines int)
}

// biasAct, if not nil, adds bias[0:n] to row[0:n] and applies ReLU when
// relu != 0, n a multiple of 8, exactly as Params.epilogueRow's loops do
// (set by the architecture file; tests clear it to compare).
var biasAct func(n int, row, bias *float32, relu int)

// biasTile, if not nil, is biasAct on rows (≥ 1) rows of 16 floats, ldc
// apart, in one call: the epilogue of a whole 16-column tile (set by the
// architecture file; tests clear it to compare).
var biasTile func(rows int, c *float32, ldc int, bias *float32, relu int)

// kernels lists the kernels this machine can run, generic first, then
// those of the architecture file (archKernels) that the CPU supports.
var kernels = append([]*kernel{genericKernel}, archKernels()...)

var genericKernel = &kernel{
	name: "generic", mr: 4, nr: 4, kc: 256, mc: 128, nc: 2048,
	micro: microGeneric,
	gemvN: gemvNGeneric, gemvT: gemvTGeneric,
}

// preferred is the order in which Auto picks a kernel.
var preferred = []string{"avx2", "avx512", "generic"}

var active atomic.Pointer[kernel]

func init() {
	name := os.Getenv("ENCC_GEMM")
	if name == "" {
		name = "auto"
	}
	if err := SetKernel(name); err != nil {
		// An unknown or unavailable kernel in the environment falls back
		// to the automatic choice rather than failing the program.
		_ = SetKernel("auto")
	}
}

// Kernels returns the names of the micro-kernels this machine can run
// ("generic" always, "avx2" with AVX2+FMA, "avx512" with AVX-512F).
func Kernels() []string {
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.name
	}
	return names
}

// Kernel returns the name of the micro-kernel in use.
func Kernel() string { return active.Load().name }

// SetKernel selects the micro-kernel by name ("generic", "avx2",
// "avx512"), or the best available one with "auto". The environment
// variable ENCC_GEMM sets the initial choice the same way. It is safe to
// call at any time; calls already running finish with the kernel they
// started with.
func SetKernel(name string) error {
	if name == "auto" {
		for _, p := range preferred {
			for _, k := range kernels {
				if k.name == p {
					active.Store(k)
					return nil
				}
			}
		}
	}
	for _, k := range kernels {
		if k.name == name {
			active.Store(k)
			return nil
		}
	}
	return fmt.Errorf("gemm: kernel %q is not available on this machine (have %v)", name, Kernels())
}

// microGeneric is the portable 4×4 micro-kernel.
func microGeneric(kc int, ap, bp *float32, ldb int, cp *float32, ldc int, acc int) {
	a := unsafe.Slice(ap, kc*4)
	b := unsafe.Slice(bp, (kc-1)*ldb+4)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < kc; p++ {
		av := a[p*4 : p*4+4 : p*4+4]
		bv := b[p*ldb : p*ldb+4 : p*ldb+4]
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	c := unsafe.Slice(cp, 3*ldc+4)
	rows := [4][4]float32{
		{c00, c01, c02, c03}, {c10, c11, c12, c13},
		{c20, c21, c22, c23}, {c30, c31, c32, c33},
	}
	for r := 0; r < 4; r++ {
		row := c[r*ldc : r*ldc+4 : r*ldc+4]
		if acc != 0 {
			for j := range row {
				row[j] += rows[r][j]
			}
		} else {
			copy(row, rows[r][:])
		}
	}
}

func gemvNGeneric(k, n int, x, b []float32, ldb int, y []float32, acc bool) {
	y = y[:n]
	if !acc {
		clear(y)
	}
	for p := 0; p < k; p++ {
		xp := x[p]
		row := b[p*ldb : p*ldb+n]
		for j, v := range row {
			y[j] += xp * v
		}
	}
}

func gemvTGeneric(k, n int, x, b []float32, ldb int, y []float32, acc bool) {
	x = x[:k]
	for j := 0; j < n; j++ {
		row := b[j*ldb : j*ldb+k]
		var s float32
		for p, v := range row {
			s += x[p] * v
		}
		if acc {
			y[j] += s
		} else {
			y[j] = s
		}
	}
}
