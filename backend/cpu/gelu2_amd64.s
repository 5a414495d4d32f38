//go:build amd64

#include "textflag.h"

// The two-vector GELU kernels: gelu2AVX2 (forward or backward),
// gelu2PhiAVX2 (the forward that keeps Φ(x)) and gelu2GradPhiAVX2 (the
// backward that reads it), sharing their arithmetic through two macros.
// c (geluWide) is in AX.

// GELU2EXP replaces the two arguments in Y3 and Y11 by their
// exponentials, with geluAVX2's operations (the argument clamped to
// geluWide's limits, 2^n split off, the degree-5 polynomial by Estrin's
// scheme); it uses Y4–Y7 and Y12–Y15.
#define GELU2EXP \
	VMOVUPS 192(AX), Y4; \
	VMOVUPS 192(AX), Y12; \
	VMINPS Y3, Y4, Y3; \
	VMINPS Y11, Y12, Y11; \
	VMOVUPS 224(AX), Y4; \
	VMOVUPS 224(AX), Y12; \
	VMAXPS Y3, Y4, Y3; \
	VMAXPS Y11, Y12, Y11; \
	VMULPS 32(AX), Y3, Y4; \
	VMULPS 32(AX), Y11, Y12; \
	VADDPS 64(AX), Y4, Y4; \
	VADDPS 64(AX), Y12, Y12; \
	VROUNDPS $1, Y4, Y4; \
	VROUNDPS $1, Y12, Y12; \
	VFNMADD231PS 128(AX), Y4, Y3; \
	VFNMADD231PS 128(AX), Y12, Y11; \
	VFNMADD231PS 160(AX), Y4, Y3; \
	VFNMADD231PS 160(AX), Y12, Y11; \
	VMULPS Y3, Y3, Y5; \
	VMULPS Y11, Y11, Y13; \
	VMOVUPS 672(AX), Y7; \
	VMOVUPS 672(AX), Y15; \
	VFMADD213PS 704(AX), Y3, Y7; \
	VFMADD213PS 704(AX), Y11, Y15; \
	VMOVUPS 608(AX), Y6; \
	VMOVUPS 608(AX), Y14; \
	VFMADD213PS 640(AX), Y3, Y6; \
	VFMADD213PS 640(AX), Y11, Y14; \
	VFMADD231PS Y6, Y5, Y7; \
	VFMADD231PS Y14, Y13, Y15; \
	VMOVUPS 736(AX), Y6; \
	VMOVUPS 736(AX), Y14; \
	VFMADD213PS 768(AX), Y3, Y6; \
	VFMADD213PS 768(AX), Y11, Y14; \
	VFMADD231PS Y7, Y5, Y6; \
	VFMADD231PS Y15, Y13, Y14; \
	VADDPS 96(AX), Y3, Y7; \
	VADDPS 96(AX), Y11, Y15; \
	VFMADD213PS Y7, Y5, Y6; \
	VFMADD213PS Y15, Y13, Y14; \
	VCVTPS2DQ Y4, Y4; \
	VCVTPS2DQ Y12, Y12; \
	VPADDD 864(AX), Y4, Y4; \
	VPADDD 864(AX), Y12, Y12; \
	VPSLLD $23, Y4, Y4; \
	VPSLLD $23, Y12, Y12; \
	VMULPS Y4, Y6, Y3; \
	VMULPS Y12, Y14, Y11

// GELU2PHI computes Φ(x) into Y1 and Y9 for the two vectors of x in Y0
// and Y8, with geluAVX2's operations (simd_amd64.s: erfc(|x|/√2)/2 below
// 0, 1 minus it above); it uses Y2–Y7 and Y10–Y15.
#define GELU2PHI \
	VANDPS 0(AX), Y0, Y1; \
	VANDPS 0(AX), Y8, Y9; \
	VMULPS 256(AX), Y1, Y1; \
	VMULPS 256(AX), Y9, Y9; \
	VMULPS 64(AX), Y1, Y2; \
	VMULPS 64(AX), Y9, Y10; \
	VADDPS 96(AX), Y2, Y2; \
	VADDPS 96(AX), Y10, Y10; \
	VMOVUPS 96(AX), Y3; \
	VMOVUPS 96(AX), Y11; \
	VDIVPS Y2, Y3, Y2; \
	VDIVPS Y10, Y11, Y10; \
	VMOVUPS 544(AX), Y3; \
	VMOVUPS 544(AX), Y11; \
	VFMADD213PS 576(AX), Y2, Y3; \
	VFMADD213PS 576(AX), Y10, Y11; \
	VMOVUPS 480(AX), Y4; \
	VMOVUPS 480(AX), Y12; \
	VFMADD213PS 512(AX), Y2, Y4; \
	VFMADD213PS 512(AX), Y10, Y12; \
	VMULPS Y2, Y2, Y5; \
	VMULPS Y10, Y10, Y13; \
	VFMADD231PS Y4, Y5, Y3; \
	VFMADD231PS Y12, Y13, Y11; \
	VMOVUPS 416(AX), Y4; \
	VMOVUPS 416(AX), Y12; \
	VFMADD213PS 448(AX), Y2, Y4; \
	VFMADD213PS 448(AX), Y10, Y12; \
	VMOVUPS 352(AX), Y6; \
	VMOVUPS 352(AX), Y14; \
	VFMADD213PS 384(AX), Y2, Y6; \
	VFMADD213PS 384(AX), Y10, Y14; \
	VFMADD231PS Y6, Y5, Y4; \
	VFMADD231PS Y14, Y13, Y12; \
	VMOVUPS 288(AX), Y6; \
	VMOVUPS 288(AX), Y14; \
	VFMADD213PS 320(AX), Y2, Y6; \
	VFMADD213PS 320(AX), Y10, Y14; \
	VMULPS Y5, Y5, Y5; \
	VMULPS Y13, Y13, Y13; \
	VFMADD231PS Y4, Y5, Y3; \
	VFMADD231PS Y12, Y13, Y11; \
	VMULPS Y5, Y5, Y5; \
	VMULPS Y13, Y13, Y13; \
	VFMADD231PS Y6, Y5, Y3; \
	VFMADD231PS Y14, Y13, Y11; \
	VMULPS Y1, Y1, Y4; \
	VMULPS Y9, Y9, Y12; \
	VSUBPS Y4, Y3, Y3; \
	VSUBPS Y12, Y11, Y11; \
	GELU2EXP; \
	VMULPS Y2, Y3, Y3; \
	VMULPS Y10, Y11, Y11; \
	VMULPS 64(AX), Y3, Y3; \
	VMULPS 64(AX), Y11, Y11; \
	VMOVUPS 96(AX), Y4; \
	VMOVUPS 96(AX), Y12; \
	VSUBPS Y3, Y4, Y4; \
	VSUBPS Y11, Y12, Y12; \
	VBLENDVPS Y0, Y3, Y4, Y1; \
	VBLENDVPS Y8, Y11, Y12, Y9

// GELU2DERIV computes the derivative Φ(x) + x·φ(x) into Y3 and Y11 from
// x in Y0, Y8 and Φ(x) in Y1, Y9; it uses Y4–Y7 and Y12–Y15.
#define GELU2DERIV \
	VMULPS Y0, Y0, Y3; \
	VMULPS Y8, Y8, Y11; \
	VMULPS 800(AX), Y3, Y3; \
	VMULPS 800(AX), Y11, Y11; \
	GELU2EXP; \
	VMULPS 832(AX), Y3, Y3; \
	VMULPS 832(AX), Y11, Y11; \
	VMULPS Y0, Y3, Y3; \
	VMULPS Y8, Y11, Y11; \
	VADDPS Y1, Y3, Y3; \
	VADDPS Y9, Y11, Y11

// func gelu2AVX2(o, x, dy *float32, n int, c *[28][8]float32, grad int)
// geluAVX2's operations (simd_amd64.s), in the same order and so with the
// same results, on two 8-lane vectors at once so that their long
// dependency chains overlap; constants are read from geluWide. n is a
// multiple of 16.
TEXT ·gelu2AVX2(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), AX
	MOVQ grad+40(FP), BX
	SHRQ $4, CX
	JZ   gelu2done
	TESTQ BX, BX
	JNZ  gelu2grad

gelu2fwd:
	VMOVUPS      0(SI), Y0
	VMOVUPS      32(SI), Y8
	GELU2PHI
	VMULPS       Y1, Y0, Y1
	VMULPS       Y9, Y8, Y9
	VMOVUPS      Y1, 0(DI)
	VMOVUPS      Y9, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  gelu2fwd
	JMP  gelu2done

gelu2grad:
	VMOVUPS      0(SI), Y0
	VMOVUPS      32(SI), Y8
	GELU2PHI
	GELU2DERIV
	VMULPS       0(DX), Y3, Y3
	VMULPS       32(DX), Y11, Y11
	VMOVUPS      Y3, 0(DI)
	VMOVUPS      Y11, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	DECQ CX
	JNZ  gelu2grad

gelu2done:
	VZEROUPPER
	RET


// func gelu2PhiAVX2(o, x, phi *float32, n int, c *[28][8]float32)
// gelu2AVX2's forward, which also stores Φ(x) (the factor the result is
// x times, before that product) into phi, for a linked gelu_backward.
// n is a multiple of 16.
TEXT ·gelu2PhiAVX2(SB), NOSPLIT, $0-40
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ phi+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), AX
	SHRQ $4, CX
	JZ   gelu2phifwddone

gelu2phifwd:
	VMOVUPS      0(SI), Y0
	VMOVUPS      32(SI), Y8
	GELU2PHI
	VMOVUPS      Y1, 0(DX)
	VMOVUPS      Y9, 32(DX)
	VMULPS       Y1, Y0, Y1
	VMULPS       Y9, Y8, Y9
	VMOVUPS      Y1, 0(DI)
	VMOVUPS      Y9, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	DECQ CX
	JNZ  gelu2phifwd

gelu2phifwddone:
	VZEROUPPER
	RET

// func gelu2GradPhiAVX2(o, x, dy, phi *float32, n int, c *[28][8]float32)
// gelu2AVX2's backward dy·(Φ(x) + x·φ(x)) with Φ(x) read from phi (as
// gelu2PhiAVX2 stored it: the bits gelu2AVX2 computes) instead of
// computed again; φ(x) and the rest are gelu2AVX2's operations. n is a
// multiple of 16.
TEXT ·gelu2GradPhiAVX2(SB), NOSPLIT, $0-48
	MOVQ o+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ phi+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	SHRQ $4, CX
	JZ   gelu2phigraddone

gelu2phigrad:
	VMOVUPS      0(SI), Y0
	VMOVUPS      32(SI), Y8
	VMOVUPS      0(R8), Y1
	VMOVUPS      32(R8), Y9
	GELU2DERIV
	VMULPS       0(DX), Y3, Y3
	VMULPS       32(DX), Y11, Y11
	VMOVUPS      Y3, 0(DI)
	VMOVUPS      Y11, 32(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	ADDQ $64, R8
	DECQ CX
	JNZ  gelu2phigrad

gelu2phigraddone:
	VZEROUPPER
	RET
