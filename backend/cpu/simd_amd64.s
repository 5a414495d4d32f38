//go:build amd64

#include "textflag.h"

// func adamAVX2(p, m, v, gr *float32, n int, c *[8]float32)
TEXT ·adamAVX2(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ v+16(FP), DX
	MOVQ gr+24(FP), BX
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	VBROADCASTSS 0(AX), Y8   // b1
	VBROADCASTSS 4(AX), Y9   // 1-b1
	VBROADCASTSS 8(AX), Y10  // b2
	VBROADCASTSS 12(AX), Y11 // 1-b2
	VBROADCASTSS 16(AX), Y12 // 1/bc2
	VBROADCASTSS 20(AX), Y13 // eps
	VBROADCASTSS 24(AX), Y14 // shrink
	VBROADCASTSS 28(AX), Y15 // step size
	SHRQ $3, CX
	JZ   adamdone

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
	JNZ          adamloop

adamdone:
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
