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

// Go's math.Log on amd64 (math/log_amd64.s), four lanes at a time: the
// same float64 operations in the same order (no fused multiply-adds),
// so that each lane is the bits of math.Log. Only normal finite
// positive arguments take it; the kernel reports the others.

DATA logconst<>+0(SB)/8, $0x000FFFFFFFFFFFFF // MANT
DATA logconst<>+8(SB)/8, $0.5 // HALF
DATA logconst<>+16(SB)/8, $0x7FF // E7FF
DATA logconst<>+24(SB)/8, $0x3FE // E3FE
DATA logconst<>+32(SB)/8, $0x4338000000000000 // MAGIC
DATA logconst<>+40(SB)/8, $7.07106781186547524401e-01 // HSQRT2
DATA logconst<>+48(SB)/8, $1.0 // ONE
DATA logconst<>+56(SB)/8, $2.0 // TWO
DATA logconst<>+64(SB)/8, $6.666666666666735130e-01 // L1
DATA logconst<>+72(SB)/8, $3.999999999940941908e-01 // L2
DATA logconst<>+80(SB)/8, $2.857142874366239149e-01 // L3
DATA logconst<>+88(SB)/8, $2.222219843214978396e-01 // L4
DATA logconst<>+96(SB)/8, $1.818357216161805012e-01 // L5
DATA logconst<>+104(SB)/8, $1.531383769920937332e-01 // L6
DATA logconst<>+112(SB)/8, $1.479819860511658591e-01 // L7
DATA logconst<>+120(SB)/8, $6.93147180369123816490e-01 // LN2HI
DATA logconst<>+128(SB)/8, $1.90821492927058770002e-10 // LN2LO
DATA logconst<>+136(SB)/8, $0x0010000000000000 // MINNORM
DATA logconst<>+144(SB)/8, $0x7FEFFFFFFFFFFFFF // MAXF
GLOBL logconst<>(SB), RODATA|NOPTR, $152

// func logAVX2(dst, x *float64, n int) bool
// dst[i] = math.Log(x[i]) for i in [0, n), n a multiple of 4; false when
// some argument was not a normal finite positive number, its lane then
// holding an unspecified value.
TEXT ·logAVX2(SB), NOSPLIT, $0-25
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VPCMPEQQ     Y15, Y15, Y15 // lanes in range so far: all
	VBROADCASTSD logconst<>+136(SB), Y14
	VBROADCASTSD logconst<>+144(SB), Y13
	VBROADCASTSD logconst<>+48(SB), Y12
	VBROADCASTSD logconst<>+56(SB), Y11
	VBROADCASTSD logconst<>+8(SB), Y10
	SHRQ         $2, CX
	JZ           logdone

logloop:
	VMOVUPD      (SI), Y0              // x
	VCMPPD       $0x1d, Y14, Y0, Y1    // x ≥ the smallest normal
	VCMPPD       $0x12, Y13, Y0, Y2    // x ≤ the largest finite
	VANDPD       Y2, Y1, Y1
	VANDPD       Y1, Y15, Y15
	VBROADCASTSD logconst<>+0(SB), Y2
	VANDPD       Y2, Y0, Y2
	VORPD        Y10, Y2, Y2           // f1: x's mantissa in [0.5, 1)
	VPSRLQ       $52, Y0, Y1
	VBROADCASTSD logconst<>+16(SB), Y3
	VPAND        Y3, Y1, Y1
	VBROADCASTSD logconst<>+24(SB), Y3
	VPSUBQ       Y3, Y1, Y1            // k
	VBROADCASTSD logconst<>+32(SB), Y3
	VPADDQ       Y3, Y1, Y1
	VSUBPD       Y3, Y1, Y1            // float64(k), exactly
	VBROADCASTSD logconst<>+40(SB), Y0
	VCMPPD       $5, Y2, Y0, Y0        // !(√2/2 < f1)
	VANDPD       Y12, Y0, Y3           // 1 or 0
	VSUBPD       Y3, Y1, Y1            // k -= 1 where f1 ≤ √2/2
	VADDPD       Y12, Y3, Y3           // 2 or 1
	VMULPD       Y3, Y2, Y2
	VSUBPD       Y12, Y2, Y2           // f = f1 - 1
	VADDPD       Y2, Y11, Y0           // 2 + f
	VDIVPD       Y0, Y2, Y3            // s = f / (2 + f)
	VMULPD       Y3, Y3, Y4            // s2
	VMULPD       Y4, Y4, Y5            // s4
	VBROADCASTSD logconst<>+112(SB), Y6
	VMULPD       Y5, Y6, Y6
	VBROADCASTSD logconst<>+96(SB), Y7
	VADDPD       Y7, Y6, Y6
	VMULPD       Y5, Y6, Y6
	VBROADCASTSD logconst<>+80(SB), Y7
	VADDPD       Y7, Y6, Y6
	VMULPD       Y5, Y6, Y6
	VBROADCASTSD logconst<>+64(SB), Y7
	VADDPD       Y7, Y6, Y6
	VMULPD       Y6, Y4, Y4            // t1
	VBROADCASTSD logconst<>+104(SB), Y6
	VMULPD       Y5, Y6, Y6
	VBROADCASTSD logconst<>+88(SB), Y7
	VADDPD       Y7, Y6, Y6
	VMULPD       Y5, Y6, Y6
	VBROADCASTSD logconst<>+72(SB), Y7
	VADDPD       Y7, Y6, Y6
	VMULPD       Y6, Y5, Y5            // t2
	VADDPD       Y5, Y4, Y4            // R = t1 + t2
	VMULPD       Y2, Y10, Y0
	VMULPD       Y2, Y0, Y0            // hfsq = 0.5·f·f
	VADDPD       Y0, Y4, Y4            // hfsq + R
	VMULPD       Y4, Y3, Y3            // s·(hfsq+R)
	VBROADCASTSD logconst<>+128(SB), Y4
	VMULPD       Y1, Y4, Y4            // k·Ln2Lo
	VADDPD       Y4, Y3, Y3
	VSUBPD       Y3, Y0, Y0            // hfsq - (s·(hfsq+R) + k·Ln2Lo)
	VSUBPD       Y2, Y0, Y0            // - f
	VBROADCASTSD logconst<>+120(SB), Y4
	VMULPD       Y4, Y1, Y1            // k·Ln2Hi
	VSUBPD       Y0, Y1, Y1
	VMOVUPD      Y1, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	DECQ         CX
	JNZ          logloop

logdone:
	VMOVMSKPD Y15, AX
	CMPQ      AX, $15
	SETEQ     ret+24(FP)
	VZEROUPPER
	RET
