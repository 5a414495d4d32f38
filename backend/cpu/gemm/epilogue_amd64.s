//go:build amd64

#include "textflag.h"

// func biasTileAVX2(rows int, c *float32, ldc int, bias *float32, relu int)
//
// biasActAVX2 on a tile of rows rows (≥ 1) of 16 floats, ldc apart: each
// row gets bias[0:16] added, then ReLU when relu != 0 (max(x, 0) + 0,
// NaN kept), with biasActAVX2's operations and so its bits.
TEXT ·biasTileAVX2(SB), NOSPLIT, $0-40
	MOVQ         rows+0(FP), CX
	MOVQ         c+8(FP), DI
	MOVQ         ldc+16(FP), R8
	SHLQ         $2, R8
	MOVQ         bias+24(FP), SI
	MOVQ         relu+32(FP), AX
	VMOVUPS      (SI), Y4
	VMOVUPS      32(SI), Y5
	TESTQ        CX, CX
	JEQ          btdone
	TESTQ        AX, AX
	JNE          btrelu

btloop:
	VADDPS  (DI), Y4, Y0
	VADDPS  32(DI), Y5, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R8, DI
	DECQ    CX
	JNZ     btloop
	JMP     btdone

btrelu:
	VXORPS       Y15, Y15, Y15
	MOVL         $0x7fc00000, BX
	VMOVD        BX, X14
	VBROADCASTSS X14, Y14

btreluloop:
	VMOVUPS   (DI), Y0
	VADDPS    Y4, Y0, Y0
	VMAXPS    Y0, Y15, Y1
	VADDPS    Y15, Y1, Y1
	VCMPPS    $3, Y0, Y0, Y2
	VBLENDVPS Y2, Y14, Y1, Y1
	VMOVUPS   Y1, (DI)
	VMOVUPS   32(DI), Y0
	VADDPS    Y5, Y0, Y0
	VMAXPS    Y0, Y15, Y1
	VADDPS    Y15, Y1, Y1
	VCMPPS    $3, Y0, Y0, Y2
	VBLENDVPS Y2, Y14, Y1, Y1
	VMOVUPS   Y1, 32(DI)
	ADDQ      R8, DI
	DECQ      CX
	JNZ       btreluloop

btdone:
	VZEROUPPER
	RET
