//go:build amd64

#include "textflag.h"

// Go's math.Exp on amd64 with AVX and FMA (math/exp_amd64.s, its avxfma
// path), four lanes at a time: the same float64 operations in the same
// order (the reduction by k·ln2 in two parts, the Taylor series of
// degree 8 on x/16 and its squaring four times, the scaling by 2^k), so
// that each lane is the bits of math.Exp. Only arguments in [-700, 700]
// take it: there the scalar code takes no special branch (k + 1023
// stays in [1, 2046]); the kernel reports the others, and its caller
// computes those with math.Exp.

DATA expconst<>+0(SB)/8, $1.4426950408889634073599246810018920 // LOG2E
DATA expconst<>+8(SB)/8, $0.69314718055966295651160180568695068359375 // LN2U
DATA expconst<>+16(SB)/8, $0.28235290563031577122588448175013436025525412068e-12 // LN2L
DATA expconst<>+24(SB)/8, $0.0625 // Q
DATA expconst<>+32(SB)/8, $2.0 // TWO
DATA expconst<>+40(SB)/8, $1.0 // ONE
DATA expconst<>+48(SB)/8, $-700.0 // LO
DATA expconst<>+56(SB)/8, $700.0 // HI
DATA expconst<>+64(SB)/8, $2.4801587301587301587e-5 // C64
DATA expconst<>+72(SB)/8, $1.9841269841269841270e-4 // C56
DATA expconst<>+80(SB)/8, $1.3888888888888888889e-3 // C48
DATA expconst<>+88(SB)/8, $8.3333333333333333333e-3 // C40
DATA expconst<>+96(SB)/8, $4.1666666666666666667e-2 // C32
DATA expconst<>+104(SB)/8, $1.6666666666666666667e-1 // C24
DATA expconst<>+112(SB)/8, $0.5 // C0
GLOBL expconst<>(SB), RODATA|NOPTR, $120

// func expAVX2(dst, x *float64, n int) bool
// dst[i] = math.Exp(x[i]) for i in [0, n), n a multiple of 4; false when
// some argument was outside [-700, 700] (or NaN), its lane then holding
// an unspecified value.
TEXT ·expAVX2(SB), NOSPLIT, $0-25
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSD expconst<>+0(SB), Y14
	VBROADCASTSD expconst<>+8(SB), Y13
	VBROADCASTSD expconst<>+16(SB), Y12
	VBROADCASTSD expconst<>+24(SB), Y11
	VBROADCASTSD expconst<>+32(SB), Y10
	VBROADCASTSD expconst<>+40(SB), Y9
	VBROADCASTSD expconst<>+48(SB), Y8
	VBROADCASTSD expconst<>+56(SB), Y7
	VPCMPEQQ     Y6, Y6, Y6 // lanes in range so far: all
	MOVQ         $1023, AX
	MOVQ         AX, X5
	VPBROADCASTQ X5, Y5     // the exponent's bias
	SHRQ         $2, CX
	JZ           expdone

exploop:
	VMOVUPD      (SI), Y0
	VCMPPD       $0x1d, Y8, Y0, Y1     // x ≥ -700
	VCMPPD       $0x12, Y7, Y0, Y2     // x ≤ 700
	VANDPD       Y2, Y1, Y1
	VANDPD       Y1, Y6, Y6
	VMULPD       Y14, Y0, Y1           // x·log2(e)
	VCVTPD2DQY   Y1, X1                // k, rounded to nearest
	VCVTDQ2PD    X1, Y2
	VPMOVSXDQ    X1, Y3
	VFNMADD231PD Y13, Y2, Y0           // x - k·ln2 (upper part)
	VFNMADD231PD Y12, Y2, Y0           // - k·ln2 (lower part)
	VMULPD       Y11, Y0, Y0           // /16
	VBROADCASTSD expconst<>+64(SB), Y1
	VBROADCASTSD expconst<>+72(SB), Y4
	VFMADD213PD  Y4, Y0, Y1
	VBROADCASTSD expconst<>+80(SB), Y4
	VFMADD213PD  Y4, Y0, Y1
	VBROADCASTSD expconst<>+88(SB), Y4
	VFMADD213PD  Y4, Y0, Y1
	VBROADCASTSD expconst<>+96(SB), Y4
	VFMADD213PD  Y4, Y0, Y1
	VBROADCASTSD expconst<>+104(SB), Y4
	VFMADD213PD  Y4, Y0, Y1
	VBROADCASTSD expconst<>+112(SB), Y4
	VFMADD213PD  Y4, Y0, Y1
	VFMADD213PD  Y9, Y0, Y1
	VMULPD       Y1, Y0, Y0
	VADDPD       Y10, Y0, Y1
	VMULPD       Y1, Y0, Y0
	VADDPD       Y10, Y0, Y1
	VMULPD       Y1, Y0, Y0
	VADDPD       Y10, Y0, Y1
	VMULPD       Y1, Y0, Y0
	VADDPD       Y10, Y0, Y1
	VFMADD213PD  Y9, Y1, Y0            // y·(y+2) + 1
	VPADDQ       Y5, Y3, Y3
	VPSLLQ       $52, Y3, Y3           // 2^k
	VMULPD       Y3, Y0, Y0
	VMOVUPD      Y0, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	DECQ         CX
	JNZ          exploop

expdone:
	VMOVMSKPD Y6, AX
	CMPQ      AX, $15
	SETEQ     ret+24(FP)
	VZEROUPPER
	RET
