//go:build amd64

package cpu

// The tile kernels of attention_amd64.s (callers check simdOn).

// attnRowsAVX2 writes C[0:rows, 0:16] = A[0:rows, 0:kc]·B[0:kc, 0:16] for
// row-major A (rows lda apart), B (ldb) and C (ldc); 1 ≤ rows ≤ 6, kc ≥ 1.
//
//go:noescape
func attnRowsAVX2(kc int, a *float32, lda, rows int, b *float32, ldb int, c *float32, ldc int)

// attnColsAVX2 writes C[0:6, 0:16] = Aᵀ·B for A stored kc×6 (rows lda
// apart, the six elements of a depth step contiguous), kc ≥ 1.
//
//go:noescape
func attnColsAVX2(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// attnCols4AVX2 is attnColsAVX2 for four rows: C[0:4, 0:16] = Aᵀ·B for
// A stored kc×4 (rows lda apart), kc ≥ 1.
//
//go:noescape
func attnCols4AVX2(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)

// attnDsAVX2 computes attention_backward's score gradients in place for
// rows rows of n (a multiple of 8) elements, p and ds rows ld apart: dot
// = dotF32(ds, p), then ds = p·(ds − dot)·scale, the bits of the
// portable loop.
//
//go:noescape
func attnDsAVX2(p, ds *float32, ld, rows, n int, scale float32)

// softmaxRowsAVX2 is attention's softmax in place over rows rows of n (a
// multiple of 8, ≥ 8) elements, ld apart, in one call (in
// expsum2_amd64.s, beside the exp it shares): the bits of maxF32,
// expSum2 (expSum for a last odd row) and scaleF32 on each row.
//
//go:noescape
func softmaxRowsAVX2(p *float32, ld, rows, n int, c *[16]float32, cv *[16][8]float32)

// prefetchRows asks for the cache lines of rows rows of n floats, ld
// floats apart (rows, n ≥ 1).
//
//go:noescape
func prefetchRows(p *float32, rows, ld, n int)

// copyScaleRowsAVX2 writes dst = src·a for rows pieces of n ≥ 8 floats,
// the pieces dstride and sstride floats apart: scaleF32's products.
//
//go:noescape
func copyScaleRowsAVX2(dst, src *float32, rows, n, dstride, sstride int, a float32)
