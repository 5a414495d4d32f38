#include "textflag.h"

// func qpack4x16AVX(n int, src *uint8, lds int, dst *uint8)
//
// Packs n chunks of 16 bytes of 4 rows (row r at src + r·lds) into the
// micro-panel layout of packQA: chunk c's 4-byte groups g = 0…3 go to
// dst + 64c + 16g + 4r, a 4×4 transpose of 32-bit words.
TEXT ·qpack4x16AVX(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), DX
	MOVQ dst+24(FP), DI
	LEAQ (SI)(DX*2), BX // row 2

ploop:
	VMOVDQU    (SI), X0
	VMOVDQU    (SI)(DX*1), X1
	VMOVDQU    (BX), X2
	VMOVDQU    (BX)(DX*1), X3
	VPUNPCKLDQ X1, X0, X4  // a0 b0 a1 b1
	VPUNPCKHDQ X1, X0, X5  // a2 b2 a3 b3
	VPUNPCKLDQ X3, X2, X6  // c0 d0 c1 d1
	VPUNPCKHDQ X3, X2, X7  // c2 d2 c3 d3
	VPUNPCKLQDQ X6, X4, X0 // a0 b0 c0 d0
	VPUNPCKHQDQ X6, X4, X1 // a1 b1 c1 d1
	VPUNPCKLQDQ X7, X5, X2 // a2 b2 c2 d2
	VPUNPCKHQDQ X7, X5, X3 // a3 b3 c3 d3
	VMOVDQU    X0, (DI)
	VMOVDQU    X1, 16(DI)
	VMOVDQU    X2, 32(DI)
	VMOVDQU    X3, 48(DI)
	ADDQ       $16, SI
	ADDQ       $16, BX
	ADDQ       $64, DI
	DECQ       CX
	JNZ        ploop
	RET
