//go:build amd64

#include "textflag.h"

// EXP8 is one iteration of expSumAVX2's loop for eight elements at SRC:
// DST = exp(SRC - SHIFT), ACC += DST, with the same instructions on the
// same operands (the constants it kept in registers are broadcast from
// c at AX instead, so that two rows' shifts and sums fit). Clobbers Y0-Y5;
// Y6 holds the exponent bias 127, Y12-Y14 log2(e) and the clamp bounds.
#define EXP8(SRC, DST, SHIFT, ACC) \
	VMOVUPS      SRC, Y0         \
	VSUBPS       SHIFT, Y0, Y0   \
	VMINPS       Y0, Y14, Y0     \
	VMAXPS       Y0, Y13, Y0     \
	VMULPS       Y12, Y0, Y1     \
	VBROADCASTSS 12(AX), Y2      \
	VADDPS       Y2, Y1, Y1      \
	VROUNDPS     $1, Y1, Y1      \
	VBROADCASTSS 16(AX), Y2      \
	VFNMADD231PS Y2, Y1, Y0      \
	VBROADCASTSS 20(AX), Y2      \
	VFNMADD231PS Y2, Y1, Y0      \
	VMULPS       Y0, Y0, Y2      \
	VBROADCASTSS 28(AX), Y3      \
	VBROADCASTSS 32(AX), Y4      \
	VFMADD213PS  Y4, Y0, Y3      \
	VBROADCASTSS 36(AX), Y4      \
	VFMADD213PS  Y4, Y0, Y3      \
	VBROADCASTSS 40(AX), Y4      \
	VFMADD213PS  Y4, Y0, Y3      \
	VBROADCASTSS 44(AX), Y4      \
	VFMADD213PS  Y4, Y0, Y3      \
	VBROADCASTSS 48(AX), Y4      \
	VFMADD213PS  Y4, Y0, Y3      \
	VBROADCASTSS 24(AX), Y4      \
	VADDPS       Y4, Y0, Y4      \
	VFMADD213PS  Y4, Y2, Y3      \
	VCVTPS2DQ    Y1, Y5          \
	VPADDD       Y6, Y5, Y5      \
	VPSLLD       $23, Y5, Y5     \
	VMULPS       Y5, Y3, Y3      \
	VMOVUPS      Y3, DST         \
	VADDPS       Y3, ACC, ACC

// HSUM reduces the eight lanes of ACC (its X form XACC) into X0 as
// expSumAVX2 does.
#define HSUM(ACC, XACC) \
	VEXTRACTF128 $1, ACC, X0 \
	VADDPS       X0, XACC, X0 \
	VMOVHLPS     X0, X0, X1   \
	VADDPS       X1, X0, X0   \
	VPSHUFD      $1, X0, X1   \
	VADDSS       X1, X0, X0

// func expSum2AVX2(o0, x0, o1, x1 *float32, n int, shift0, shift1 float32, c *[16]float32) (s0, s1 float32)
// expSumAVX2 for two rows side by side (their chains overlap), each bit
// for bit as alone: o_r = exp(x_r - shift_r) for n (a multiple of 8)
// elements, and the two sums.
TEXT ·expSum2AVX2(SB), NOSPLIT, $0-64
	MOVQ         o0+0(FP), DI
	MOVQ         x0+8(FP), SI
	MOVQ         o1+16(FP), R8
	MOVQ         x1+24(FP), R9
	MOVQ         n+32(FP), CX
	VBROADCASTSS shift0+40(FP), Y15
	VBROADCASTSS shift1+44(FP), Y8
	MOVQ         c+48(FP), AX
	VBROADCASTSS 0(AX), Y14 // hi
	VBROADCASTSS 4(AX), Y13 // lo
	VBROADCASTSS 8(AX), Y12 // log2(e)
	VXORPS       Y7, Y7, Y7
	VXORPS       Y9, Y9, Y9
	MOVL         $127, DX
	VMOVD        DX, X6
	VPBROADCASTD X6, Y6
	SHRQ         $3, CX
	JZ           exp2done

exp2loop:
	EXP8((SI), (DI), Y15, Y7)
	EXP8((R9), (R8), Y8, Y9)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R9
	ADDQ $32, R8
	DECQ CX
	JNZ  exp2loop

exp2done:
	HSUM(Y7, X7)
	MOVSS X0, s0+56(FP)
	HSUM(Y9, X9)
	MOVSS X0, s1+60(FP)
	VZEROUPPER
	RET

// ROWMAX broadcasts into OUT the largest of the CX·8 elements at PTR (as
// maxAVX2 finds it), or a NaN if any is a NaN. Clobbers Y0-Y5, DX, R13
// and R14.
#define ROWMAX(PTR, OUT, LBL, OK) \
	MOVQ         PTR, R13             \
	MOVQ         CX, R14              \
	VMOVUPS      (R13), Y0            \
	VXORPS       Y2, Y2, Y2           \
LBL:                                  \
	VMOVUPS      (R13), Y4            \
	VCMPPS       $3, Y4, Y4, Y5       \
	VORPS        Y5, Y2, Y2           \
	VMAXPS       Y4, Y0, Y0           \
	ADDQ         $32, R13             \
	DECQ         R14                  \
	JNZ          LBL                  \
	VEXTRACTF128 $1, Y0, X1           \
	VMAXPS       X1, X0, X0           \
	VPERMILPS    $0x4e, X0, X1        \
	VMAXPS       X1, X0, X0           \
	VPERMILPS    $0xb1, X0, X1        \
	VMAXPS       X1, X0, X0           \
	VBROADCASTSS X0, OUT              \
	VMOVMSKPS    Y2, DX               \
	TESTL        DX, DX               \
	JZ           OK                   \
	VPCMPEQD     OUT, OUT, OUT        \
OK:

// RECIP broadcasts into OUT 1/s for the float32 s in X0 (X1 clobbered).
#define RECIP(OUT) \
	VMOVSS       24(AX), X1 \
	VDIVSS       X0, X1, X1 \
	VBROADCASTSS X1, OUT

// EXPSTEP2 is EXP8 in place at PA and PB (rows A and B, shifts Y15 and
// Y14, sums Y11 and Y12) with the two chains' instructions interleaved
// and the constants read as vectors from R12 (cv), all but lo (Y13) and
// the exponent bias (Y6): the same operations on each element, so the
// same bits, but the scheduler holds two short waits instead of one long
// chain behind another (EXP8's chains are ~55 cycles long; alone they ran
// at ~15 cycles per eight elements). The upper clamp is left out: x - m
// ≤ 0 below a row's max m, and a NaN stays a NaN either way. Chain A uses
// Y0-Y4, chain B Y5 and Y7-Y10.
#define EXPSTEP2(PA, PB) \
	VMOVUPS      PA, Y0            \
	VMOVUPS      PB, Y5            \
	VSUBPS       Y15, Y0, Y0       \
	VSUBPS       Y14, Y5, Y5       \
	VMAXPS       Y0, Y13, Y0       \
	VMAXPS       Y5, Y13, Y5       \
	VMULPS       64(R12), Y0, Y1   \
	VMULPS       64(R12), Y5, Y7   \
	VADDPS       96(R12), Y1, Y1   \
	VADDPS       96(R12), Y7, Y7   \
	VROUNDPS     $1, Y1, Y1        \
	VROUNDPS     $1, Y7, Y7        \
	VFNMADD231PS 128(R12), Y1, Y0  \
	VFNMADD231PS 128(R12), Y7, Y5  \
	VFNMADD231PS 160(R12), Y1, Y0  \
	VFNMADD231PS 160(R12), Y7, Y5  \
	VMOVUPS      224(R12), Y3      \
	VMOVUPS      224(R12), Y9      \
	VFMADD213PS  256(R12), Y0, Y3  \
	VFMADD213PS  256(R12), Y5, Y9  \
	VMULPS       Y0, Y0, Y2        \
	VMULPS       Y5, Y5, Y8        \
	VFMADD213PS  288(R12), Y0, Y3  \
	VFMADD213PS  288(R12), Y5, Y9  \
	VCVTPS2DQ    Y1, Y1            \
	VCVTPS2DQ    Y7, Y7            \
	VFMADD213PS  320(R12), Y0, Y3  \
	VFMADD213PS  320(R12), Y5, Y9  \
	VPADDD       Y6, Y1, Y1        \
	VPADDD       Y6, Y7, Y7        \
	VFMADD213PS  352(R12), Y0, Y3  \
	VFMADD213PS  352(R12), Y5, Y9  \
	VPSLLD       $23, Y1, Y1       \
	VPSLLD       $23, Y7, Y7       \
	VFMADD213PS  384(R12), Y0, Y3  \
	VFMADD213PS  384(R12), Y5, Y9  \
	VADDPS       192(R12), Y0, Y4  \
	VADDPS       192(R12), Y5, Y10 \
	VFMADD213PS  Y4, Y2, Y3        \
	VFMADD213PS  Y10, Y8, Y9       \
	VMULPS       Y1, Y3, Y3        \
	VMULPS       Y7, Y9, Y9        \
	VMOVUPS      Y3, PA            \
	VMOVUPS      Y9, PB            \
	VADDPS       Y3, Y11, Y11      \
	VADDPS       Y9, Y12, Y12

// func softmaxRowsAVX2(p *float32, ld, rows, n int, c *[16]float32, cv *[16][8]float32)
// Softmax in place of rows rows of n (a multiple of 8, ≥ 8) elements, ld
// apart, with the bits of the portable steps attention takes: each row's
// max m (maxF32), e = exp(x - m) and their sum s (expSum: two rows at a
// time with EXPSTEP2, a last odd row with EXP8), then e·(1/s)
// (scaleF32). A row holding a NaN becomes all NaN, as it does there. cv
// holds c's constants broadcast to eight lanes.
TEXT ·softmaxRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ         p+0(FP), SI
	MOVQ         ld+8(FP), R10
	SHLQ         $2, R10
	MOVQ         rows+16(FP), R11
	MOVQ         n+24(FP), CX
	SHRQ         $3, CX
	MOVQ         c+32(FP), AX
	MOVQ         cv+40(FP), R12
	VBROADCASTSS 4(AX), Y13 // lo
	MOVL         $127, DX
	VMOVD        DX, X6
	VPBROADCASTD X6, Y6
	TESTQ        CX, CX
	JZ           smdone

smpair:
	CMPQ   R11, $2
	JLT    smone
	LEAQ   (SI)(R10*1), R9
	ROWMAX(SI, Y15, smmax0, smok0)
	ROWMAX(R9, Y14, smmax1, smok1)
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	MOVQ   SI, DI
	MOVQ   R9, R8
	MOVQ   CX, BX

smexp2:
	EXPSTEP2((DI), (R8))
	ADDQ $32, DI
	ADDQ $32, R8
	DECQ BX
	JNZ  smexp2
	HSUM(Y11, X11)
	RECIP(Y10)
	HSUM(Y12, X12)
	RECIP(Y9)
	MOVQ SI, DI
	MOVQ R9, R8
	MOVQ CX, BX

smscale2:
	VMULPS  (DI), Y10, Y0
	VMOVUPS Y0, (DI)
	VMULPS  (R8), Y9, Y1
	VMOVUPS Y1, (R8)
	ADDQ    $32, DI
	ADDQ    $32, R8
	DECQ    BX
	JNZ     smscale2
	LEAQ    (R9)(R10*1), SI
	SUBQ    $2, R11
	JMP     smpair

smone:
	TESTQ        R11, R11
	JZ           smdone
	VBROADCASTSS 0(AX), Y14 // hi
	VBROADCASTSS 8(AX), Y12 // log2(e)
	ROWMAX(SI, Y15, smmax2, smok2)
	VXORPS       Y7, Y7, Y7
	MOVQ         SI, DI
	MOVQ         CX, BX

smexp1:
	EXP8((DI), (DI), Y15, Y7)
	ADDQ $32, DI
	DECQ BX
	JNZ  smexp1
	HSUM(Y7, X7)
	RECIP(Y10)
	MOVQ SI, DI
	MOVQ CX, BX

smscale1:
	VMULPS  (DI), Y10, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	DECQ    BX
	JNZ     smscale1

smdone:
	VZEROUPPER
	RET
