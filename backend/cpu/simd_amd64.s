//go:build amd64

#include "textflag.h"

// func adamAVX2(p, m, v, gr *float32, n int, c *[24]float32, idx *int32, ds *float32, mark int) int
//
// Zen 3 (and other x86 cores) take a slow path of tens of cycles on a
// VSQRTPS or VDIVPS whose operand or result is subnormal (or underflows
// to 0); the other instructions here run at full speed on subnormal
// inputs and results. A float32 ÷ computed in float64 (53 ≥ 2·24+2 bits)
// and rounded once to float32 is the correctly rounded result, the same
// bits as VDIVPS, without the slow path.
//
// With mark == 0 it is the plain float32 loop (adamplain), and it
// returns whether the MXCSR's denormal or underflow flag came up on the
// way (a subnormal operand or result anywhere: the caller marks next
// time). With mark != 0 the first loop marks the lanes where 0 < |m'| <
// c[8] (a subnormal m', or one small enough that m'/d can be
// subnormal), feeds them 0 to the quotient, leaves their p as it was,
// and writes the number of each vector with a marked lane to idx and its
// d to ds, without a branch (the marks follow the data: a branch on them
// mispredicts, and each misprediction throws away the iterations in
// flight); the second loop updates the marked lanes of those vectors
// with the quotient in float64. It returns the number of marked vectors.
// (A subnormal v', which takes |g| < 1e-19 or tens of thousands of steps
// of zero gradients, still takes the slow VSQRTPS: the same bits.)
TEXT ·adamAVX2(SB), NOSPLIT, $0-80
	MOVQ p+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ gr+24(FP), BX
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	MOVQ idx+48(FP), R12
	MOVQ ds+56(FP), R14
	VBROADCASTSS 0(AX), Y8   // b1
	VBROADCASTSS 4(AX), Y9   // 1-b1
	VBROADCASTSS 8(AX), Y10  // b2
	VBROADCASTSS 12(AX), Y11 // 1-b2
	VBROADCASTSS 16(AX), Y12 // 1/bc2
	VBROADCASTSS 20(AX), Y13 // eps
	VBROADCASTSS 24(AX), Y14 // shrink
	VBROADCASTSS 28(AX), Y15 // step size
	XORQ         R10, R10    // marked vectors
	XORQ         R11, R11    // vector number
	SHRQ         $3, CX
	JZ           adamdone
	MOVQ         mark+64(FP), R9
	TESTQ        R9, R9
	JZ           adamplain
	VXORPS       Y7, Y7, Y7  // 0

adamloop:
	VMOVUPS      (BX), Y0
	VMULPS       Y0, Y9, Y1
	VFMADD231PS  (SI), Y8, Y1  // m' = b1·m + (1-b1)·g
	VMOVUPS      Y1, (SI)
	VMULPS       Y0, Y0, Y2
	VMULPS       Y2, Y11, Y2
	VFMADD231PS  (DX), Y10, Y2 // v' = b2·v + (1-b2)·g²
	VMOVUPS      Y2, (DX)
	VSQRTPS      Y2, Y3
	VANDPS       64(AX), Y1, Y4        // |m'|
	VCMPPS       $0x11, 32(AX), Y4, Y0 // |m'| < small
	VCMPPS       $0x11, Y4, Y7, Y4     // 0 < |m'|
	VANDPS       Y4, Y0, Y0            // the marked lanes
	VANDNPS      Y1, Y0, Y4            // 0 in their place
	VFMADD213PS  Y13, Y12, Y3          // d = √v'/bc2 + eps
	VDIVPS       Y3, Y4, Y4            // m'/d
	VMOVUPS      (DI), Y2
	VMULPS       Y2, Y14, Y5
	VFNMADD231PS Y4, Y15, Y5           // p' = p·shrink - step·m'/d
	VBLENDVPS    Y0, Y2, Y5, Y5        // p in the marked lanes
	VMOVUPS      Y5, (DI)
	MOVQ         R10, R15
	SHLQ         $5, R15
	VMOVUPS      Y3, (R14)(R15*1)      // d, kept if marked
	VMOVMSKPS    Y0, R9
	MOVL         R11, (R12)(R10*4)
	NEGL         R9                    // carry: a marked lane
	ADCQ         $0, R10
	INCQ         R11
	ADDQ         $32, DI
	ADDQ         $32, SI
	ADDQ         $32, DX
	ADDQ         $32, BX
	DECQ         CX
	JNZ          adamloop

	TESTQ R10, R10
	JZ    adamdone
	MOVQ  p+0(FP), DI
	MOVQ  m+8(FP), SI
	XORQ  R13, R13

adammarked:
	MOVL         (R12)(R13*4), R9
	SHLQ         $5, R9
	MOVQ         R13, R15
	SHLQ         $5, R15
	VMOVUPS      (SI)(R9*1), Y1 // m'
	VMOVUPS      (R14)(R15*1), Y3 // d
	VANDPS       64(AX), Y1, Y4
	VCMPPS       $0x11, 32(AX), Y4, Y0
	VCMPPS       $0x11, Y4, Y7, Y4
	VANDPS       Y4, Y0, Y0     // the marked lanes, as in the first loop

	// m'/d in float64, rounded once to float32.
	VCVTPS2PD    X1, Y4
	VCVTPS2PD    X3, Y5
	VDIVPD       Y5, Y4, Y4
	VEXTRACTF128 $1, Y1, X5
	VCVTPS2PD    X5, Y5
	VEXTRACTF128 $1, Y3, X2
	VCVTPS2PD    X2, Y2
	VDIVPD       Y2, Y5, Y5
	VCVTPD2PSY   Y4, X4
	VCVTPD2PSY   Y5, X5
	VINSERTF128  $1, X5, Y4, Y4

	VMOVUPS      (DI)(R9*1), Y2
	VMULPS       Y2, Y14, Y5
	VFNMADD231PS Y4, Y15, Y5
	VBLENDVPS    Y0, Y5, Y2, Y5 // p' in the marked lanes only
	VMOVUPS      Y5, (DI)(R9*1)
	INCQ         R13
	CMPQ         R13, R10
	JNE          adammarked

adamdone:
	MOVQ R10, ret+72(FP)
	VZEROUPPER
	RET

adamplain:
	VSTMXCSR (R12)
	MOVL     (R12), R13 // the flags before
	ANDL     $0xffffffc0, (R12)
	VLDMXCSR (R12)

adamplainloop:
	VMOVUPS      (BX), Y0
	VMULPS       Y0, Y9, Y1
	VFMADD231PS  (SI), Y8, Y1  // m' = b1·m + (1-b1)·g
	VMOVUPS      Y1, (SI)
	VMULPS       Y0, Y0, Y2
	VMULPS       Y2, Y11, Y2
	VFMADD231PS  (DX), Y10, Y2 // v' = b2·v + (1-b2)·g²
	VMOVUPS      Y2, (DX)
	VSQRTPS      Y2, Y3
	VFMADD213PS  Y13, Y12, Y3  // d = √v'/bc2 + eps
	VDIVPS       Y3, Y1, Y4    // m'/d
	VMULPS       (DI), Y14, Y5
	VFNMADD231PS Y4, Y15, Y5   // p' = p·shrink - step·m'/d
	VMOVUPS      Y5, (DI)
	ADDQ         $32, DI
	ADDQ         $32, SI
	ADDQ         $32, DX
	ADDQ         $32, BX
	DECQ         CX
	JNZ          adamplainloop

	VSTMXCSR (R12)
	MOVL     (R12), R10
	ORL      R10, R13
	MOVL     R13, (R12)
	VLDMXCSR (R12)      // the flags before, and those raised here
	ANDL     $0x12, R10 // denormal operand, underflow
	MOVQ     R10, ret+72(FP)
	VZEROUPPER
	RET

// func reluAVX2(o, x *float32, n int)
TEXT ·reluAVX2(SB), NOSPLIT, $0-24
	MOVQ   o+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVQ   n+16(FP), CX
	VXORPS Y15, Y15, Y15
	SHRQ   $3, CX
	JZ     reludone

reluloop:
	VMOVUPS (SI), Y0
	VMAXPS  Y0, Y15, Y0 // max(0, x): the second source (x) when x is NaN
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     reluloop

reludone:
	VZEROUPPER
	RET

// func reluGradAVX2(o, x, dy *float32, n int)
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-32
	MOVQ   o+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVQ   dy+16(FP), DX
	MOVQ   n+24(FP), CX
	VXORPS Y15, Y15, Y15
	SHRQ   $3, CX
	JZ     rgdone

rgloop:
	VMOVUPS (SI), Y0
	VCMPPS  $0x1e, Y15, Y0, Y1 // x > 0 (ordered: false for NaN)
	VANDPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     rgloop

rgdone:
	VZEROUPPER
	RET

// func expSumAVX2(o, x *float32, n int, shift float32, c *[16]float32) float32
// o[i] = exp(x[i] - shift) for n (a multiple of 8) elements (Cephes expf:
// 2^k · e^r, |r| ≤ ln2/2, degree-5 polynomial; the argument clamped to
// ±88.376, NaN kept), returning the float32 sum of the o[i].
TEXT ·expSumAVX2(SB), NOSPLIT, $0-44
	MOVQ         o+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVQ         c+32(FP), AX
	VBROADCASTSS shift+24(FP), Y15
	VBROADCASTSS 0(AX), Y14  // hi
	VBROADCASTSS 4(AX), Y13  // lo
	VBROADCASTSS 8(AX), Y12  // log2(e)
	VBROADCASTSS 12(AX), Y11 // 0.5
	VBROADCASTSS 16(AX), Y10 // C1
	VBROADCASTSS 20(AX), Y9  // C2
	VBROADCASTSS 24(AX), Y8  // 1
	VXORPS       Y7, Y7, Y7
	MOVL         $127, DX
	VMOVD        DX, X6
	VPBROADCASTD X6, Y6
	SHRQ         $3, CX
	JZ           expdone

exploop:
	VMOVUPS      (SI), Y0
	VSUBPS       Y15, Y0, Y0
	VMINPS       Y0, Y14, Y0 // min(hi, t): t when NaN
	VMAXPS       Y0, Y13, Y0 // max(lo, t)
	VMULPS       Y12, Y0, Y1
	VADDPS       Y11, Y1, Y1
	VROUNDPS     $1, Y1, Y1  // k = floor(t·log2e + 0.5)
	VFNMADD231PS Y10, Y1, Y0 // r = t - k·C1 - k·C2
	VFNMADD231PS Y9, Y1, Y0
	VMULPS       Y0, Y0, Y2
	VBROADCASTSS 28(AX), Y3
	VBROADCASTSS 32(AX), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS 36(AX), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS 40(AX), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS 44(AX), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS 48(AX), Y4
	VFMADD213PS  Y4, Y0, Y3
	VADDPS       Y8, Y0, Y4
	VFMADD213PS  Y4, Y2, Y3  // e^r = p(r)·r² + r + 1
	VCVTPS2DQ    Y1, Y5
	VPADDD       Y6, Y5, Y5
	VPSLLD       $23, Y5, Y5 // 2^k
	VMULPS       Y5, Y3, Y3
	VMOVUPS      Y3, (DI)
	VADDPS       Y3, Y7, Y7
	ADDQ         $32, SI
	ADDQ         $32, DI
	DECQ         CX
	JNZ          exploop

expdone:
	VEXTRACTF128 $1, Y7, X0
	VADDPS       X0, X7, X0
	VMOVHLPS     X0, X0, X1
	VADDPS       X1, X0, X0
	VPSHUFD      $1, X0, X1
	VADDSS       X1, X0, X0
	MOVSS        X0, ret+40(FP)
	VZEROUPPER
	RET

// maxpool2idx is VPERMPS's index spreading 4 window values over 8 columns.
DATA maxpool2idx<>+0(SB)/4, $0
DATA maxpool2idx<>+4(SB)/4, $0
DATA maxpool2idx<>+8(SB)/4, $1
DATA maxpool2idx<>+12(SB)/4, $1
DATA maxpool2idx<>+16(SB)/4, $2
DATA maxpool2idx<>+20(SB)/4, $2
DATA maxpool2idx<>+24(SB)/4, $3
DATA maxpool2idx<>+28(SB)/4, $3
GLOBL maxpool2idx<>(SB), RODATA|NOPTR, $32

// func maxpool2AVX2(y, x, dy, dx *float32, rows, w, grad int)
// 2×2 max pooling, stride 2, over rows row pairs of width w (even, ≥ 8)
// stored back to back: y[r][o] = max of x[2r][2o:2o+2], x[2r+1][2o:2o+2];
// with grad bit 0 set, dx gets dy at the first maximum of each window (in
// row-major order) and 0 elsewhere. With grad bit 1 set, a ReLU comes
// before the pooling: y is max(0, max) and dx is 0 for windows whose max
// is not above 0. Columns go 8 at a time, the last block overlapping the
// previous one when w is not a multiple of 8.
TEXT ·maxpool2AVX2(SB), NOSPLIT, $0-56
	MOVQ    y+0(FP), DI
	MOVQ    x+8(FP), SI
	MOVQ    dy+16(FP), DX
	MOVQ    dx+24(FP), R8
	MOVQ    rows+32(FP), CX
	MOVQ    w+40(FP), R9
	MOVQ    grad+48(FP), BX
	VMOVUPS maxpool2idx<>(SB), Y15
	VXORPS  Y12, Y12, Y12
	SHLQ    $2, R9       // row bytes
	LEAQ    (R9)(R9*1), R10 // row-pair bytes
	MOVQ    R9, R11
	SHRQ    $1, R11      // output row bytes
	LEAQ    -32(R9), R12 // last block's offset
	TESTQ   CX, CX
	JZ      mpdone

mprow:
	XORQ R13, R13

mpblock:
	CMPQ   R13, R12
	JLE    mpat
	MOVQ   R12, R13

mpat:
	VMOVUPS   (SI)(R13*1), Y0
	ADDQ      R13, SI
	VMOVUPS   (SI)(R9*1), Y1
	SUBQ      R13, SI
	VMAXPS    Y1, Y0, Y2
	VPERMILPS $0xb1, Y2, Y3
	VMAXPS    Y3, Y2, Y2 // each column: its window's max
	MOVQ      R13, AX
	SHRQ      $1, AX
	TESTQ     $1, BX
	JNZ       mpgrad
	VSHUFPS   $0x88, Y2, Y2, Y3
	VPERMPD   $0x08, Y3, Y3
	TESTQ     $2, BX
	JZ        mpstore
	VMAXPS    Y3, Y12, Y3 // max(0, y): y when y is NaN, as reluAVX2

mpstore:
	VMOVUPS X3, (DI)(AX*1)
	JMP     mpnext

mpgrad:
	VMOVUPS (DX)(AX*1), X4
	VPERMPS Y4, Y15, Y4     // dy spread over the window's columns
	TESTQ   $2, BX
	JZ      mpmask
	VCMPPS  $1, Y2, Y12, Y13 // 0 < max
	VANDPS  Y13, Y4, Y4

mpmask:
	VCMPPS  $0, Y2, Y0, Y5  // top row == max
	VCMPPS  $0, Y2, Y1, Y6  // bottom row == max
	VPSLLQ  $32, Y5, Y7
	VPANDN  Y5, Y7, Y8      // first in the top pair
	VPSRLQ  $32, Y5, Y9
	VPOR    Y5, Y7, Y10
	VPOR    Y9, Y10, Y10    // either top element is the max
	VPSLLQ  $32, Y6, Y7
	VPANDN  Y6, Y7, Y9
	VPANDN  Y9, Y10, Y9     // first in the bottom pair, no top one
	VANDPS  Y4, Y8, Y8
	VANDPS  Y4, Y9, Y9
	VMOVUPS Y8, (R8)(R13*1)
	ADDQ    R13, R8
	VMOVUPS Y9, (R8)(R9*1)
	SUBQ    R13, R8

mpnext:
	CMPQ R13, R12
	JEQ  mprowdone
	ADDQ $32, R13
	JMP  mpblock

mprowdone:
	ADDQ R10, SI
	ADDQ R10, R8
	ADDQ R11, DI
	ADDQ R11, DX
	DECQ CX
	JNZ  mprow

mpdone:
	VZEROUPPER
	RET

// func copyRowsAVX2(dst, src *float32, rows, n, dstride, sstride int)
// Copies rows pieces of n ≥ 8 floats, 8 at a time (the last 8 overlapping
// the previous ones when n is not a multiple of 8); strides in floats.
TEXT ·copyRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  rows+16(FP), CX
	MOVQ  n+24(FP), R10
	MOVQ  dstride+32(FP), R8
	MOVQ  sstride+40(FP), R9
	SHLQ  $2, R8
	SHLQ  $2, R9
	SHLQ  $2, R10
	SUBQ  $32, R10 // the last block's offset
	TESTQ CX, CX
	JZ    crdone

crrow:
	XORQ AX, AX

crblock:
	CMPQ    AX, R10
	JGE     crlast
	VMOVUPS (SI)(AX*1), Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     crblock

crlast:
	VMOVUPS (SI)(R10*1), Y0
	VMOVUPS Y0, (DI)(R10*1)
	ADDQ    R8, DI
	ADDQ    R9, SI
	DECQ    CX
	JNZ     crrow

crdone:
	VZEROUPPER
	RET

// func addRowsAVX2(dst, src *float32, rows, n, dstride, sstride int)
// Adds rows pieces of n floats of src into dst, 8 at a time, then one by
// one; strides in floats.
TEXT ·addRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  rows+16(FP), CX
	MOVQ  n+24(FP), R11
	MOVQ  dstride+32(FP), R8
	MOVQ  sstride+40(FP), R9
	SHLQ  $2, R8
	SHLQ  $2, R9
	SHLQ  $2, R11 // bytes per piece
	MOVQ  R11, R10
	ANDQ  $-32, R10 // bytes in whole blocks
	TESTQ CX, CX
	JZ    ardone

arrow:
	XORQ AX, AX

arblock:
	CMPQ    AX, R10
	JGE     artail
	VMOVUPS (SI)(AX*1), Y0
	VADDPS  (DI)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     arblock

artail:
	CMPQ   AX, R11
	JGE    arnext
	VMOVSS (SI)(AX*1), X0
	VADDSS (DI)(AX*1), X0, X0
	VMOVSS X0, (DI)(AX*1)
	ADDQ   $4, AX
	JMP    artail

arnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  arrow

ardone:
	VZEROUPPER
	RET

// headmask: 8 all-ones words then 8 zeros; from word 8 - r, the mask of
// the first r lanes.
DATA headmask<>+0(SB)/8, $-1
DATA headmask<>+8(SB)/8, $-1
DATA headmask<>+16(SB)/8, $-1
DATA headmask<>+24(SB)/8, $-1
DATA headmask<>+32(SB)/8, $0
DATA headmask<>+40(SB)/8, $0
DATA headmask<>+48(SB)/8, $0
DATA headmask<>+56(SB)/8, $0
GLOBL headmask<>(SB), RODATA|NOPTR, $64

// func axpyRowsAVX2(dst, src *float32, rows, n, dstride, sstride int, a float32)
// Adds a times rows pieces of n floats of src into dst, 8 at a time, the
// last n mod 8 through masked loads and stores; strides in floats.
TEXT ·axpyRowsAVX2(SB), NOSPLIT, $0-52
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         rows+16(FP), CX
	MOVQ         n+24(FP), R11
	MOVQ         dstride+32(FP), R8
	MOVQ         sstride+40(FP), R9
	VBROADCASTSS a+48(FP), Y2
	SHLQ         $2, R8
	SHLQ         $2, R9
	SHLQ         $2, R11 // bytes per piece
	MOVQ         R11, R10
	ANDQ         $-32, R10 // bytes in whole blocks
	LEAQ         headmask<>+32(SB), R12
	ADDQ         R10, R12
	SUBQ         R11, R12
	VMOVUPS      (R12), Y5 // the tail's mask
	TESTQ        CX, CX
	JZ           axdone

axrow:
	XORQ AX, AX

axblock:
	CMPQ        AX, R10
	JGE         axtail
	VMOVUPS     (DI)(AX*1), Y0
	VFMADD231PS (SI)(AX*1), Y2, Y0
	VMOVUPS     Y0, (DI)(AX*1)
	ADDQ        $32, AX
	JMP         axblock

axtail:
	CMPQ        AX, R11
	JGE         axnext
	VMASKMOVPS  (DI)(AX*1), Y5, Y0
	VMASKMOVPS  (SI)(AX*1), Y5, Y1
	VFMADD231PS Y1, Y2, Y0
	VMASKMOVPS  Y0, Y5, (DI)(AX*1)

axnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  axrow

axdone:
	VZEROUPPER
	RET

// func dotRowsAVX2(a, b *float32, rows, n, astride, bstride int) float32
// Returns the sum over rows pieces of n floats of a·b, 8 at a time, the
// last n mod 8 through masked loads; strides in floats.
TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-52
	MOVQ    a+0(FP), DI
	MOVQ    b+8(FP), SI
	MOVQ    rows+16(FP), CX
	MOVQ    n+24(FP), R11
	MOVQ    astride+32(FP), R8
	MOVQ    bstride+40(FP), R9
	VXORPS  Y0, Y0, Y0 // sums
	SHLQ    $2, R8
	SHLQ    $2, R9
	SHLQ    $2, R11
	MOVQ    R11, R10
	ANDQ    $-32, R10
	LEAQ    headmask<>+32(SB), R12
	ADDQ    R10, R12
	SUBQ    R11, R12
	VMOVUPS (R12), Y5 // the tail's mask
	TESTQ   CX, CX
	JZ      dtsum

dtrow:
	XORQ AX, AX

dtblock:
	CMPQ        AX, R10
	JGE         dttail
	VMOVUPS     (DI)(AX*1), Y3
	VFMADD231PS (SI)(AX*1), Y3, Y0
	ADDQ        $32, AX
	JMP         dtblock

dttail:
	CMPQ        AX, R11
	JGE         dtnext
	VMASKMOVPS  (DI)(AX*1), Y5, Y3
	VMASKMOVPS  (SI)(AX*1), Y5, Y4
	VFMADD231PS Y4, Y3, Y0

dtnext:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNZ  dtrow

dtsum:
	VEXTRACTF128 $1, Y0, X2
	VADDPS       X2, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, ret+48(FP)
	VZEROUPPER
	RET

// func sigTanhAVX2(o, x *float32, n int, c *[32]float32, tanh int)
// tanh == 0: o = 1/(1+exp(-x)) (sigmoid); else o = tanh(x): for |x| <
// 0.125 the odd polynomial x·(1 + x²·(-1/3 + x²·(2/15 - x²·17/315))),
// elsewhere sign(x)·(1-e)/(1+e) with e = exp(-2|x|), so neither form
// cancels. exp as in expSumAVX2 (its constants are c[0:13]; c[13:17] are
// 0.125, -1/3, 2/15, -17/315). n is a multiple of 8.
TEXT ·sigTanhAVX2(SB), NOSPLIT, $0-40
	MOVQ         o+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVQ         c+24(FP), AX
	MOVQ         tanh+32(FP), BX
	VBROADCASTSS 0(AX), Y14  // hi
	VBROADCASTSS 4(AX), Y13  // lo
	VBROADCASTSS 8(AX), Y12  // log2(e)
	VBROADCASTSS 12(AX), Y11 // 0.5
	VBROADCASTSS 16(AX), Y10 // C1
	VBROADCASTSS 20(AX), Y9  // C2
	VBROADCASTSS 24(AX), Y8  // 1
	MOVL         $127, DX
	VMOVD        DX, X6
	VPBROADCASTD X6, Y6
	MOVL         $0x80000000, DX
	VMOVD        DX, X7
	VPBROADCASTD X7, Y7 // the sign bit
	SHRQ         $3, CX
	JZ           stdone

stloop:
	VMOVUPS (SI), Y15    // x
	TESTQ   BX, BX
	JNZ     sttanharg
	VXORPS  Y7, Y15, Y0  // sigmoid: exp(-x)
	JMP     stexp

sttanharg:
	VANDNPS Y15, Y7, Y0 // |x|
	VADDPS  Y0, Y0, Y0
	VXORPS  Y7, Y0, Y0  // -2|x|

stexp:
	// Y3 = exp(Y0), as expSumAVX2 (scratch Y1, Y2, Y4, Y5).
	VMINPS       Y0, Y14, Y0
	VMAXPS       Y0, Y13, Y0
	VMULPS       Y12, Y0, Y1
	VADDPS       Y11, Y1, Y1
	VROUNDPS     $1, Y1, Y1
	VFNMADD231PS Y10, Y1, Y0
	VFNMADD231PS Y9, Y1, Y0
	VMULPS       Y0, Y0, Y2
	VBROADCASTSS 28(AX), Y3
	VBROADCASTSS 32(AX), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS 36(AX), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS 40(AX), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS 44(AX), Y4
	VFMADD213PS  Y4, Y0, Y3
	VBROADCASTSS 48(AX), Y4
	VFMADD213PS  Y4, Y0, Y3
	VADDPS       Y8, Y0, Y4
	VFMADD213PS  Y4, Y2, Y3
	VCVTPS2DQ    Y1, Y5
	VPADDD       Y6, Y5, Y5
	VPSLLD       $23, Y5, Y5
	VMULPS       Y5, Y3, Y3
	TESTQ        BX, BX
	JNZ          sttanh
	VADDPS       Y8, Y3, Y3 // 1 + exp(-x)
	VDIVPS       Y3, Y8, Y3 // 1/(1 + exp(-x))
	VMOVUPS      Y3, (DI)
	JMP          stnext

sttanh:
	VSUBPS       Y3, Y8, Y4     // 1 - e
	VADDPS       Y8, Y3, Y3     // 1 + e
	VDIVPS       Y3, Y4, Y4     // (1-e)/(1+e)
	VMULPS       Y15, Y15, Y2   // x²
	VBROADCASTSS 64(AX), Y3     // -17/315
	VBROADCASTSS 60(AX), Y5     // 2/15
	VFMADD213PS  Y5, Y2, Y3
	VBROADCASTSS 56(AX), Y5     // -1/3
	VFMADD213PS  Y5, Y2, Y3
	VMULPS       Y2, Y3, Y3
	VFMADD213PS  Y15, Y15, Y3   // x + x·x²·p
	VANDNPS      Y15, Y7, Y0    // |x|
	VBROADCASTSS 52(AX), Y5     // 0.125
	VCMPPS       $1, Y5, Y0, Y5 // |x| < 0.125 (false for NaN)
	VBLENDVPS    Y5, Y3, Y4, Y4
	VANDPS       Y7, Y15, Y5
	VORPS        Y5, Y4, Y4     // with the sign of x (tanh(-0) = -0)
	VMOVUPS      Y4, (DI)

stnext:
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  stloop

stdone:
	VZEROUPPER
	RET
