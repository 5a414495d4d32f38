//go:build amd64

#include "textflag.h"

// func sumRuns4AVX2(x *float32, n, stride int, lanes *[16]float64)
// For runs r < 4 of n (a multiple of 4, ≥ 4) floats, stride floats
// apart: lanes[4r+i] = the float64 sum of x[r·stride + 4j + i] over j, in
// order of j. These are sumRun's four accumulators; the four runs are
// independent chains, so the adds of one hide the latency of the others.
TEXT ·sumRuns4AVX2(SB), NOSPLIT, $0-32
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	MOVQ   stride+16(FP), R8
	MOVQ   lanes+24(FP), DI
	SHLQ   $2, R8
	LEAQ   (SI)(R8*1), R9
	LEAQ   (R9)(R8*1), R10
	LEAQ   (R10)(R8*1), R11
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	SHRQ   $2, CX
	XORQ   AX, AX

srloop:
	VCVTPS2PD (SI)(AX*1), Y4
	VCVTPS2PD (R9)(AX*1), Y5
	VCVTPS2PD (R10)(AX*1), Y6
	VCVTPS2PD (R11)(AX*1), Y7
	VADDPD    Y4, Y0, Y0
	VADDPD    Y5, Y1, Y1
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	ADDQ      $16, AX
	DECQ      CX
	JNZ       srloop

	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VZEROUPPER
	RET
