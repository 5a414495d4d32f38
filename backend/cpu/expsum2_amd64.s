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
