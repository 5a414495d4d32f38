//go:build amd64

#include "textflag.h"

// func sumColsAVX2(x *float32, ldx, rows int, acc *float64, blocks int)
//
// For each of blocks blocks of 16 columns, acc[16b+i] = Σ_r x[r·ldx +
// 16b + i] in float64, the rows added in order from 0 (each column's
// additions are those of the scalar loop, so the bits are the same).
// Pairs of blocks run together: 8 accumulators hide VADDPD's latency.
// rows ≥ 1.
TEXT ·sumColsAVX2(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), R8
	SHLQ $2, R8
	MOVQ rows+16(FP), R9
	MOVQ acc+24(FP), DI
	MOVQ blocks+32(FP), CX

sc32:
	CMPQ CX, $2
	JLT  sc16
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	MOVQ   SI, AX
	MOVQ   R9, DX

sc32row:
	VCVTPS2PD (AX), Y8
	VADDPD    Y8, Y0, Y0
	VCVTPS2PD 16(AX), Y9
	VADDPD    Y9, Y1, Y1
	VCVTPS2PD 32(AX), Y10
	VADDPD    Y10, Y2, Y2
	VCVTPS2PD 48(AX), Y11
	VADDPD    Y11, Y3, Y3
	VCVTPS2PD 64(AX), Y12
	VADDPD    Y12, Y4, Y4
	VCVTPS2PD 80(AX), Y13
	VADDPD    Y13, Y5, Y5
	VCVTPS2PD 96(AX), Y14
	VADDPD    Y14, Y6, Y6
	VCVTPS2PD 112(AX), Y15
	VADDPD    Y15, Y7, Y7
	ADDQ      R8, AX
	DECQ      DX
	JNZ       sc32row

	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VMOVUPD Y4, 128(DI)
	VMOVUPD Y5, 160(DI)
	VMOVUPD Y6, 192(DI)
	VMOVUPD Y7, 224(DI)
	ADDQ    $128, SI
	ADDQ    $256, DI
	SUBQ    $2, CX
	JMP     sc32

sc16:
	TESTQ CX, CX
	JEQ   scdone
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	MOVQ   SI, AX
	MOVQ   R9, DX

sc16row:
	VCVTPS2PD (AX), Y8
	VADDPD    Y8, Y0, Y0
	VCVTPS2PD 16(AX), Y9
	VADDPD    Y9, Y1, Y1
	VCVTPS2PD 32(AX), Y10
	VADDPD    Y10, Y2, Y2
	VCVTPS2PD 48(AX), Y11
	VADDPD    Y11, Y3, Y3
	ADDQ      R8, AX
	DECQ      DX
	JNZ       sc16row

	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)

scdone:
	VZEROUPPER
	RET
