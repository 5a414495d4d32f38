//go:build amd64

#include "textflag.h"

// The float64-accumulating kernels of layernorm and of column sums. Each
// does, lane for lane, the float64 operations of the portable loop it
// replaces, in the same order and without fused multiply-adds, so that
// its results are bit-identical to them.

// func colSumAVX2(acc *float64, x *float32, rows, n, stride int)
// acc[i] += x[r·stride+i] for r in [0, rows), i in [0, n); n a multiple
// of 4, rows ≥ 1.
TEXT ·colSumAVX2(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), R8
	MOVQ n+24(FP), CX
	MOVQ stride+32(FP), R9
	SHLQ $2, R9

	// Strips of 32 columns first: 8 accumulators keep both adders busy
	// (each column's chain waits an add's latency per row; 4 chains of
	// the 16-column strip left them half idle).
colsum32:
	CMPQ    CX, $32
	JLT     colsum16
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3
	VMOVUPD 128(DI), Y8
	VMOVUPD 160(DI), Y9
	VMOVUPD 192(DI), Y10
	VMOVUPD 224(DI), Y11
	MOVQ    SI, AX
	MOVQ    R8, BX

colsum32row:
	VCVTPS2PD 0(AX), Y4
	VCVTPS2PD 16(AX), Y5
	VCVTPS2PD 32(AX), Y6
	VCVTPS2PD 48(AX), Y7
	VCVTPS2PD 64(AX), Y12
	VCVTPS2PD 80(AX), Y13
	VCVTPS2PD 96(AX), Y14
	VCVTPS2PD 112(AX), Y15
	VADDPD    Y4, Y0, Y0
	VADDPD    Y5, Y1, Y1
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	VADDPD    Y12, Y8, Y8
	VADDPD    Y13, Y9, Y9
	VADDPD    Y14, Y10, Y10
	VADDPD    Y15, Y11, Y11
	ADDQ      R9, AX
	DECQ      BX
	JNZ       colsum32row
	VMOVUPD   Y0, 0(DI)
	VMOVUPD   Y1, 32(DI)
	VMOVUPD   Y2, 64(DI)
	VMOVUPD   Y3, 96(DI)
	VMOVUPD   Y8, 128(DI)
	VMOVUPD   Y9, 160(DI)
	VMOVUPD   Y10, 192(DI)
	VMOVUPD   Y11, 224(DI)
	ADDQ      $256, DI
	ADDQ      $128, SI
	SUBQ      $32, CX
	JMP       colsum32

colsum16:
	CMPQ    CX, $16
	JLT     colsum4
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3
	MOVQ    SI, AX
	MOVQ    R8, BX

colsum16row:
	VCVTPS2PD 0(AX), Y4
	VCVTPS2PD 16(AX), Y5
	VCVTPS2PD 32(AX), Y6
	VCVTPS2PD 48(AX), Y7
	VADDPD    Y4, Y0, Y0
	VADDPD    Y5, Y1, Y1
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	ADDQ      R9, AX
	DECQ      BX
	JNZ       colsum16row
	VMOVUPD   Y0, 0(DI)
	VMOVUPD   Y1, 32(DI)
	VMOVUPD   Y2, 64(DI)
	VMOVUPD   Y3, 96(DI)
	ADDQ      $128, DI
	ADDQ      $64, SI
	SUBQ      $16, CX
	JMP       colsum16

colsum4:
	CMPQ    CX, $4
	JLT     colsumdone
	VMOVUPD (DI), Y0
	MOVQ    SI, AX
	MOVQ    R8, BX

colsum4row:
	VCVTPS2PD (AX), Y4
	VADDPD    Y4, Y0, Y0
	ADDQ      R9, AX
	DECQ      BX
	JNZ       colsum4row
	VMOVUPD   Y0, (DI)
	ADDQ      $32, DI
	ADDQ      $16, SI
	SUBQ      $4, CX
	JMP       colsum4

colsumdone:
	VZEROUPPER
	RET

// func lnColAVX2(acc *float64, x, dy *float32, st *float64, rows, n, stride int)
// acc[i] += dy·(x - mean)·rstd at [r·stride+i] for r in [0, rows), i in
// [0, n), with mean, rstd = st[2r], st[2r+1]; n a multiple of 4, rows ≥ 1.
TEXT ·lnColAVX2(SB), NOSPLIT, $0-56
	MOVQ acc+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ st+24(FP), R10
	MOVQ rows+32(FP), R8
	MOVQ n+40(FP), CX
	MOVQ stride+48(FP), R9
	SHLQ $2, R9

lncol8:
	CMPQ    CX, $8
	JLT     lncol4
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1
	MOVQ    SI, AX
	MOVQ    DX, R11
	MOVQ    R10, R12
	MOVQ    R8, BX

lncol8row:
	VBROADCASTSD 0(R12), Y12 // mean
	VBROADCASTSD 8(R12), Y13 // rstd
	VCVTPS2PD    0(AX), Y4
	VCVTPS2PD    16(AX), Y5
	VCVTPS2PD    0(R11), Y6
	VCVTPS2PD    16(R11), Y7
	VSUBPD       Y12, Y4, Y4
	VSUBPD       Y12, Y5, Y5
	VMULPD       Y4, Y6, Y4
	VMULPD       Y5, Y7, Y5
	VMULPD       Y13, Y4, Y4
	VMULPD       Y13, Y5, Y5
	VADDPD       Y4, Y0, Y0
	VADDPD       Y5, Y1, Y1
	ADDQ         R9, AX
	ADDQ         R9, R11
	ADDQ         $16, R12
	DECQ         BX
	JNZ          lncol8row
	VMOVUPD      Y0, 0(DI)
	VMOVUPD      Y1, 32(DI)
	ADDQ         $64, DI
	ADDQ         $32, SI
	ADDQ         $32, DX
	SUBQ         $8, CX
	JMP          lncol8

lncol4:
	CMPQ    CX, $4
	JLT     lncoldone
	VMOVUPD (DI), Y0
	MOVQ    SI, AX
	MOVQ    DX, R11
	MOVQ    R10, R12
	MOVQ    R8, BX

lncol4row:
	VBROADCASTSD 0(R12), Y12
	VBROADCASTSD 8(R12), Y13
	VCVTPS2PD    (AX), Y4
	VCVTPS2PD    (R11), Y6
	VSUBPD       Y12, Y4, Y4
	VMULPD       Y4, Y6, Y4
	VMULPD       Y13, Y4, Y4
	VADDPD       Y4, Y0, Y0
	ADDQ         R9, AX
	ADDQ         R9, R11
	ADDQ         $16, R12
	DECQ         BX
	JNZ          lncol4row
	VMOVUPD      Y0, (DI)
	ADDQ         $32, DI
	ADDQ         $16, SI
	ADDQ         $16, DX
	SUBQ         $4, CX
	JMP          lncol4

lncoldone:
	VZEROUPPER
	RET

// func lnSumsAVX2(x *float32, n int, mean float64, sq int, s *[4]float64)
// sq == 0: s[k] = Σ x[4i+k]; else s[k] = Σ (x[4i+k]-mean)², summed in
// order over i; n a multiple of 4, ≥ 4.
TEXT ·lnSumsAVX2(SB), NOSPLIT, $0-40
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD mean+16(FP), Y12
	MOVQ         sq+24(FP), BX
	MOVQ         s+32(FP), DI
	SHRQ         $2, CX
	VXORPD       Y0, Y0, Y0
	TESTQ        BX, BX
	JNZ          lnsq

lnsum:
	VCVTPS2PD (SI), Y4
	VADDPD    Y4, Y0, Y0
	ADDQ      $16, SI
	DECQ      CX
	JNZ       lnsum
	JMP       lnsumsdone

lnsq:
	VCVTPS2PD (SI), Y4
	VSUBPD    Y12, Y4, Y4
	VMULPD    Y4, Y4, Y4
	VADDPD    Y4, Y0, Y0
	ADDQ      $16, SI
	DECQ      CX
	JNZ       lnsq

lnsumsdone:
	VMOVUPD Y0, (DI)
	VZEROUPPER
	RET

// func lnApplyAVX2(o, x, w, b *float32, n int, mean, rstd float64)
// o = float32((x-mean)·rstd·w + b), n a multiple of 4, ≥ 4.
TEXT ·lnApplyAVX2(SB), NOSPLIT, $0-56
	MOVQ         o+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         b+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSD mean+40(FP), Y12
	VBROADCASTSD rstd+48(FP), Y13
	SHRQ         $2, CX

lnapply:
	VCVTPS2PD   (SI), Y4
	VCVTPS2PD   (DX), Y5
	VCVTPS2PD   (R8), Y6
	VSUBPD      Y12, Y4, Y4
	VMULPD      Y13, Y4, Y4
	VMULPD      Y5, Y4, Y4
	VADDPD      Y6, Y4, Y4
	VCVTPD2PSY  Y4, X4
	VMOVUPS     X4, (DI)
	ADDQ        $16, SI
	ADDQ        $16, DX
	ADDQ        $16, R8
	ADDQ        $16, DI
	DECQ        CX
	JNZ         lnapply
	VZEROUPPER
	RET

// func lnBackAVX2(o, x, w, dy *float32, n int, mean, rstd, mg, mgx float64)
// o = float32(rstd·(dy·w - mg - (x-mean)·rstd·mgx)), n a multiple of 4, ≥ 4.
TEXT ·lnBackAVX2(SB), NOSPLIT, $0-72
	MOVQ         o+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         dy+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSD mean+40(FP), Y12
	VBROADCASTSD rstd+48(FP), Y13
	VBROADCASTSD mg+56(FP), Y14
	VBROADCASTSD mgx+64(FP), Y15
	SHRQ         $2, CX

lnback:
	VCVTPS2PD   (SI), Y4
	VCVTPS2PD   (DX), Y5
	VCVTPS2PD   (R8), Y6
	VSUBPD      Y12, Y4, Y4
	VMULPD      Y13, Y4, Y4 // h
	VMULPD      Y15, Y4, Y4 // h·mgx
	VMULPD      Y5, Y6, Y6  // dy·w
	VSUBPD      Y14, Y6, Y6
	VSUBPD      Y4, Y6, Y6
	VMULPD      Y6, Y13, Y6
	VCVTPD2PSY  Y6, X6
	VMOVUPS     X6, (DI)
	ADDQ        $16, SI
	ADDQ        $16, DX
	ADDQ        $16, R8
	ADDQ        $16, DI
	DECQ        CX
	JNZ         lnback
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) (m float32, nan bool)
// The largest of n (a multiple of 8, ≥ 8) elements, and whether any is NaN.
TEXT ·maxAVX2(SB), NOSPLIT, $0-21
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	VMOVUPS (SI), Y0
	VXORPS  Y2, Y2, Y2
	SHRQ    $3, CX

maxloop:
	VMOVUPS  (SI), Y4
	VCMPPS   $3, Y4, Y4, Y5 // unordered: NaN
	VORPS    Y5, Y2, Y2
	VMAXPS   Y4, Y0, Y0
	ADDQ     $32, SI
	DECQ     CX
	JNZ      maxloop
	VEXTRACTF128 $1, Y0, X1
	VMAXPS   X1, X0, X0
	VPERMILPS $0x4e, X0, X1
	VMAXPS   X1, X0, X0
	VPERMILPS $0xb1, X0, X1
	VMAXPS   X1, X0, X0
	MOVSS    X0, m+16(FP)
	VMOVMSKPS Y2, AX
	TESTL    AX, AX
	SETNE    nan+20(FP)
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, a float32)
// x *= a for n (a multiple of 8) elements.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS a+16(FP), Y1
	SHRQ         $3, CX
	JZ           scaledone

scaleloop:
	VMULPS  (SI), Y1, Y0
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	DECQ    CX
	JNZ     scaleloop

scaledone:
	VZEROUPPER
	RET

// func lnDotsAVX2(x, w, dy *float32, n int, mean, rstd float64, s *[8]float64)
// layernorm_backward_input's sums in four strided lanes: s[k] = Σ g and
// s[4+k] = Σ g·(x-mean)·rstd over the elements 4i+k, g = dy·w, summed in
// order over i; n a multiple of 4, ≥ 4.
TEXT ·lnDotsAVX2(SB), NOSPLIT, $0-56
	MOVQ         x+0(FP), SI
	MOVQ         w+8(FP), DX
	MOVQ         dy+16(FP), R8
	MOVQ         n+24(FP), CX
	VBROADCASTSD mean+32(FP), Y12
	VBROADCASTSD rstd+40(FP), Y13
	MOVQ         s+48(FP), DI
	SHRQ         $2, CX
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1

lndots:
	VCVTPS2PD (R8), Y4
	VCVTPS2PD (DX), Y5
	VMULPD    Y5, Y4, Y4 // g = dy·w
	VADDPD    Y4, Y0, Y0
	VCVTPS2PD (SI), Y6
	VSUBPD    Y12, Y6, Y6
	VMULPD    Y6, Y4, Y6
	VMULPD    Y13, Y6, Y6
	VADDPD    Y6, Y1, Y1
	ADDQ      $16, SI
	ADDQ      $16, DX
	ADDQ      $16, R8
	DECQ      CX
	JNZ       lndots
	VMOVUPD   Y0, (DI)
	VMOVUPD   Y1, 32(DI)
	VZEROUPPER
	RET

// func lnSums4AVX2(x *float32, n, stride int, mean *[4]float64, sq int, s *[16]float64)
// lnSumsAVX2 for the four rows at x + r·stride floats, r < 4, side by
// side (four independent chains instead of one): s[4r+k] = Σ x[4i+k]
// (sq == 0) or Σ (x[4i+k]-mean[r])², summed in order over i; n a
// multiple of 4, ≥ 4.
TEXT ·lnSums4AVX2(SB), NOSPLIT, $0-48
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	MOVQ   stride+16(FP), R9
	MOVQ   mean+24(FP), R10
	MOVQ   sq+32(FP), BX
	MOVQ   s+40(FP), DI
	SHLQ   $2, R9
	SHRQ   $2, CX
	LEAQ   (SI)(R9*1), R11
	LEAQ   (R11)(R9*1), R12
	LEAQ   (R12)(R9*1), R13
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	TESTQ  BX, BX
	JNZ    ln4sqstart

ln4sum:
	VCVTPS2PD (SI), Y4
	VCVTPS2PD (R11), Y5
	VCVTPS2PD (R12), Y6
	VCVTPS2PD (R13), Y7
	VADDPD    Y4, Y0, Y0
	VADDPD    Y5, Y1, Y1
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	ADDQ      $16, SI
	ADDQ      $16, R11
	ADDQ      $16, R12
	ADDQ      $16, R13
	DECQ      CX
	JNZ       ln4sum
	JMP       ln4done

ln4sqstart:
	VBROADCASTSD 0(R10), Y8
	VBROADCASTSD 8(R10), Y9
	VBROADCASTSD 16(R10), Y10
	VBROADCASTSD 24(R10), Y11

ln4sq:
	VCVTPS2PD (SI), Y4
	VCVTPS2PD (R11), Y5
	VCVTPS2PD (R12), Y6
	VCVTPS2PD (R13), Y7
	VSUBPD    Y8, Y4, Y4
	VSUBPD    Y9, Y5, Y5
	VSUBPD    Y10, Y6, Y6
	VSUBPD    Y11, Y7, Y7
	VMULPD    Y4, Y4, Y4
	VMULPD    Y5, Y5, Y5
	VMULPD    Y6, Y6, Y6
	VMULPD    Y7, Y7, Y7
	VADDPD    Y4, Y0, Y0
	VADDPD    Y5, Y1, Y1
	VADDPD    Y6, Y2, Y2
	VADDPD    Y7, Y3, Y3
	ADDQ      $16, SI
	ADDQ      $16, R11
	ADDQ      $16, R12
	ADDQ      $16, R13
	DECQ      CX
	JNZ       ln4sq

ln4done:
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VZEROUPPER
	RET

// func lnBackSumsAVX2(o, x, w, dy *float32, n int, mean, rstd, mg, mgx float64, dw, db *float64)
// lnBackAVX2's rstd·(dy·w - mg - h·mgx), h = (x-mean)·rstd, into o, and
// dw[i] += h·dy, db[i] += dy (a block's weight and bias gradient sums,
// fuseLayerNormBackward) over n (a multiple of 4, ≥ 4) elements.
TEXT ·lnBackSumsAVX2(SB), NOSPLIT, $0-88
	MOVQ         o+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         dy+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSD mean+40(FP), Y12
	VBROADCASTSD rstd+48(FP), Y13
	VBROADCASTSD mg+56(FP), Y14
	VBROADCASTSD mgx+64(FP), Y15
	MOVQ         dw+72(FP), R9
	MOVQ         db+80(FP), R10
	SHRQ         $2, CX

lnbacksums:
	VCVTPS2PD   (SI), Y4
	VCVTPS2PD   (DX), Y5
	VCVTPS2PD   (R8), Y6
	VSUBPD      Y12, Y4, Y4
	VMULPD      Y13, Y4, Y4 // h
	VMULPD      Y6, Y4, Y7  // h·dy
	VADDPD      (R9), Y7, Y7
	VMOVUPD     Y7, (R9)
	VADDPD      (R10), Y6, Y8
	VMOVUPD     Y8, (R10)
	VMULPD      Y15, Y4, Y4 // h·mgx
	VMULPD      Y5, Y6, Y6  // dy·w
	VSUBPD      Y14, Y6, Y6
	VSUBPD      Y4, Y6, Y6
	VMULPD      Y6, Y13, Y6
	VCVTPD2PSY  Y6, X6
	VMOVUPS     X6, (DI)
	ADDQ        $16, SI
	ADDQ        $16, DX
	ADDQ        $16, R8
	ADDQ        $16, DI
	ADDQ        $32, R9
	ADDQ        $32, R10
	DECQ        CX
	JNZ         lnbacksums
	VZEROUPPER
	RET
