//go:build amd64

package cpu

import "golang.org/x/sys/cpu"

// hasAVX2FMA says whether the vector kernels of simd_amd64.s can run.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// simdOn says whether elementwise kernels use them (tests turn it off to
// exercise the portable loops).
var simdOn = hasAVX2FMA

// adamAVX2 runs the fused Adam update on n (a multiple of 8) elements;
// c holds b1, 1-b1, b2, 1-b2, 1/√(1-β2^t), eps, 1-lr·wd, lr/(1-β1^t),
// then 8 copies of adamSmall and of the mask 0x7fffffff; idx and ds are
// scratch for n/8 vector numbers and n floats (with mark == 0, idx for
// one int32 and ds unused). With mark == 0 it runs
// the float32 operations and returns nonzero when one of them had a
// subnormal operand or result (the MXCSR's DE or UE flag); otherwise it
// takes the quotient of the lanes adamSmall marks in float64 and returns
// the number of vectors with such a lane. The results are the same bits
// both ways.
//
//go:noescape
func adamAVX2(p, m, v, gr *float32, n int, c *[24]float32, idx *int32, ds *float32, mark int) int

// reluAVX2 writes max(0, x) for n (a multiple of 8) elements.
//
//go:noescape
func reluAVX2(o, x *float32, n int)

// reluGradAVX2 writes x > 0 ? dy : 0 for n (a multiple of 8) elements.
//
//go:noescape
func reluGradAVX2(o, x, dy *float32, n int)

// expSumAVX2 writes exp(x - shift) for n (a multiple of 8) elements and
// returns their sum; c is expConsts.
//
//go:noescape
func expSumAVX2(o, x *float32, n int, shift float32, c *[16]float32) float32

// geluVecAVX2 writes GELU (erf form) of x (mode 0), that and its
// derivative into gd (mode 1), or dy·GELU'(x) (mode 2), for n (a multiple
// of 16) elements; c is geluTable (gelu2_amd64.s).
//
//go:noescape
func geluVecAVX2(o, x, dy, gd *float32, n int, c *[24][8]float32, mode int)

// maxpool2AVX2 is 2×2 max pooling (grad == 0: y from x) or its backward
// (dx from x and dy) over rows row pairs of width w (even, ≥ 8).
//
//go:noescape
func maxpool2AVX2(y, x, dy, dx *float32, rows, w, grad int)

// copyRowsAVX2 copies rows pieces of n ≥ 8 floats from src to dst, the
// pieces dstride and sstride floats apart.
//
//go:noescape
func copyRowsAVX2(dst, src *float32, rows, n, dstride, sstride int)

// addRowsAVX2 adds rows pieces of n floats of src into dst, the pieces
// dstride and sstride floats apart.
//
//go:noescape
func addRowsAVX2(dst, src *float32, rows, n, dstride, sstride int)

// axpyRowsAVX2 adds a·src into dst for rows pieces of n floats, the pieces
// dstride and sstride floats apart.
//
//go:noescape
func axpyRowsAVX2(dst, src *float32, rows, n, dstride, sstride int, a float32)

// dotRowsAVX2 returns Σ a·b over rows pieces of n floats, the pieces
// astride and bstride floats apart.
//
//go:noescape
func dotRowsAVX2(a, b *float32, rows, n, astride, bstride int) float32

// sigTanhAVX2 writes sigmoid(x) (tanh == 0) or tanh(x) for n (a multiple
// of 8) elements; c is sigTanhConsts.
//
//go:noescape
func sigTanhAVX2(o, x *float32, n int, c *[32]float32, tanh int)

// addF32AVX2, subF32AVX2 and mulF32AVX2 write o[i] = x[i] op y[i] for n
// (a multiple of 8) elements, lane for lane the float32 operation of the
// scalar loop (binaryInner): the same bits, NaNs included.
//
//go:noescape
func addF32AVX2(o, x, y *float32, n int)

//go:noescape
func subF32AVX2(o, x, y *float32, n int)

//go:noescape
func mulF32AVX2(o, x, y *float32, n int)

// expSum2AVX2 is expSumAVX2 for two rows side by side, each bit for bit
// as alone (expSum2).
//
//go:noescape
func expSum2AVX2(o0, x0, o1, x1 *float32, n int, shift0, shift1 float32, c *[16]float32) (s0, s1 float32)
