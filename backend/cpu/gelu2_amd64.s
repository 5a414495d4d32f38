//go:build amd64

#include "textflag.h"

// geluVecAVX2: GELU (erf form) and its derivative, two 8-lane vectors at
// a time so that the long chains of the two overlap. c (geluTable, in
// AX) holds each constant over 8 lanes, 32 bytes apart:
//
//	  0 0x7fffffff      32 p/√2 (p = 0.3)   64 1
//	 96..352 Q's c8..c0 (Q(t) ≈ erfc(z)·exp(z²)/(2t), t = 1/(1+p·z))
//	384 -0.5           416 13.25 (|x|'s limit in exp(-x²/2))
//	448 log2(e)        480 ln2 high part    512 ln2 low part
//	544..672 exp's e4..e0 (e^r ≈ 1 + r + r²·(e0 + e1·r + … + e4·r⁴))
//	704 1/√(2π)        736 127 (int32)
//
// For x in Y0 (and Y8), with a = |x|, z = a/√2, t = 1/(1 + a·p/√2):
// E = exp(-x²/2) with -x²/2 = x·(-x/2) = u + lo split exactly by an FMA
// (so that the rounding of x² does not grow with it: exp's argument is u,
// reduced by n·ln2, and then lo added), h = t·Q(t)·E = erfc(z)/2 = Φ(-a), and
// Φ(x) = h below 0, 1 - h from 0 up. GELU(x) = x·Φ(x); its derivative
// Φ(x) + x·φ(x) = Φ(x) + x·E/√(2π) reuses E, the one exp.

// GELU2CORE leaves Φ(x) in Y1, Y9 and E in Y6, Y14; it uses Y1–Y7 and
// Y9–Y15.
#define GELU2CORE \
	VANDPS 0(AX), Y0, Y1; \
	VANDPS 0(AX), Y8, Y9; \
	VMOVUPS 64(AX), Y2; \
	VMOVUPS 64(AX), Y10; \
	VFMADD231PS 32(AX), Y1, Y2; \
	VFMADD231PS 32(AX), Y9, Y10; \
	VMOVUPS 64(AX), Y3; \
	VMOVUPS 64(AX), Y11; \
	VDIVPS Y2, Y3, Y2; \
	VDIVPS Y10, Y11, Y10; \
	VMINPS 416(AX), Y1, Y7; \
	VMINPS 416(AX), Y9, Y15; \
	VMULPS 384(AX), Y7, Y4; \
	VMULPS 384(AX), Y15, Y12; \
	VMULPS Y4, Y7, Y3; \
	VMULPS Y12, Y15, Y11; \
	VFMSUB213PS Y3, Y7, Y4; \
	VFMSUB213PS Y11, Y15, Y12; \
	VMULPS 448(AX), Y3, Y5; \
	VMULPS 448(AX), Y11, Y13; \
	VROUNDPS $0, Y5, Y5; \
	VROUNDPS $0, Y13, Y13; \
	VFNMADD231PS 480(AX), Y5, Y3; \
	VFNMADD231PS 480(AX), Y13, Y11; \
	VFNMADD231PS 512(AX), Y5, Y3; \
	VFNMADD231PS 512(AX), Y13, Y11; \
	VADDPS Y4, Y3, Y3; \
	VADDPS Y12, Y11, Y11; \
	VMOVUPS 544(AX), Y6; \
	VMOVUPS 544(AX), Y14; \
	VFMADD213PS 576(AX), Y3, Y6; \
	VFMADD213PS 576(AX), Y11, Y14; \
	VFMADD213PS 608(AX), Y3, Y6; \
	VFMADD213PS 608(AX), Y11, Y14; \
	VFMADD213PS 640(AX), Y3, Y6; \
	VFMADD213PS 640(AX), Y11, Y14; \
	VFMADD213PS 672(AX), Y3, Y6; \
	VFMADD213PS 672(AX), Y11, Y14; \
	VFMADD213PS 64(AX), Y3, Y6; \
	VFMADD213PS 64(AX), Y11, Y14; \
	VFMADD213PS 64(AX), Y3, Y6; \
	VFMADD213PS 64(AX), Y11, Y14; \
	VCVTPS2DQ Y5, Y5; \
	VCVTPS2DQ Y13, Y13; \
	VPADDD 736(AX), Y5, Y5; \
	VPADDD 736(AX), Y13, Y13; \
	VPSLLD $23, Y5, Y5; \
	VPSLLD $23, Y13, Y13; \
	VMULPS Y5, Y6, Y6; \
	VMULPS Y13, Y14, Y14; \
	VMOVUPS 96(AX), Y1; \
	VMOVUPS 96(AX), Y9; \
	VFMADD213PS 128(AX), Y2, Y1; \
	VFMADD213PS 128(AX), Y10, Y9; \
	VFMADD213PS 160(AX), Y2, Y1; \
	VFMADD213PS 160(AX), Y10, Y9; \
	VFMADD213PS 192(AX), Y2, Y1; \
	VFMADD213PS 192(AX), Y10, Y9; \
	VFMADD213PS 224(AX), Y2, Y1; \
	VFMADD213PS 224(AX), Y10, Y9; \
	VFMADD213PS 256(AX), Y2, Y1; \
	VFMADD213PS 256(AX), Y10, Y9; \
	VFMADD213PS 288(AX), Y2, Y1; \
	VFMADD213PS 288(AX), Y10, Y9; \
	VFMADD213PS 320(AX), Y2, Y1; \
	VFMADD213PS 320(AX), Y10, Y9; \
	VFMADD213PS 352(AX), Y2, Y1; \
	VFMADD213PS 352(AX), Y10, Y9; \
	VMULPS Y2, Y1, Y1; \
	VMULPS Y10, Y9, Y9; \
	VMULPS Y6, Y1, Y1; \
	VMULPS Y14, Y9, Y9; \
	VMOVUPS 64(AX), Y2; \
	VMOVUPS 64(AX), Y10; \
	VSUBPS Y1, Y2, Y2; \
	VSUBPS Y9, Y10, Y10; \
	VBLENDVPS Y0, Y1, Y2, Y1; \
	VBLENDVPS Y8, Y9, Y10, Y9

// GELU2DERIV replaces Φ(x) in Y1, Y9 by the derivative Φ(x) + x·φ(x),
// from x in Y0, Y8 and E in Y6, Y14.
#define GELU2DERIV \
	VMULPS 704(AX), Y6, Y6; \
	VMULPS 704(AX), Y14, Y14; \
	VFMADD231PS Y6, Y0, Y1; \
	VFMADD231PS Y14, Y8, Y9

// func geluVecAVX2(o, x, dy, gd *float32, n int, c *[24][8]float32, mode int)
// mode 0: o = GELU(x); mode 1: o = GELU(x) and gd = GELU'(x) (for a
// linked gelu_backward, which then only multiplies: dy·gd); mode 2:
// o = dy·GELU'(x) (gelu_backward). n is a multiple of 16.
TEXT ·geluVecAVX2(SB), NOSPLIT, $0-56
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ gd+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	MOVQ mode+48(FP), BX
	SHRQ $4, CX
	JZ   geluvecdone
	CMPQ BX, $1
	JEQ  geluvecderiv
	JGT  geluvecgrad

geluvecfwd:
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y8
	GELU2CORE
	VMULPS  Y1, Y0, Y1
	VMULPS  Y9, Y8, Y9
	VMOVUPS Y1, 0(DI)
	VMOVUPS Y9, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     geluvecfwd
	JMP     geluvecdone

geluvecderiv:
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y8
	GELU2CORE
	VMULPS  Y1, Y0, Y7
	VMULPS  Y9, Y8, Y15
	VMOVUPS Y7, 0(DI)
	VMOVUPS Y15, 32(DI)
	GELU2DERIV
	VMOVUPS Y1, 0(R8)
	VMOVUPS Y9, 32(R8)
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $64, R8
	DECQ    CX
	JNZ     geluvecderiv
	JMP     geluvecdone

geluvecgrad:
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y8
	GELU2CORE
	GELU2DERIV
	VMULPS  0(DX), Y1, Y1
	VMULPS  32(DX), Y9, Y9
	VMOVUPS Y1, 0(DI)
	VMOVUPS Y9, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $64, DX
	DECQ    CX
	JNZ     geluvecgrad

geluvecdone:
	VZEROUPPER
	RET
