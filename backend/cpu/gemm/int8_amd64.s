#include "textflag.h"

// int8 micro-kernels, 4×16 int32 tile (see int8.go for the layouts).
//
// func qgemmXxx4x16(k4 int, a *uint8, b *int8, c *int32, ldc int)
//
// a: packed A micro-panel, k4 groups of 4 rows × 4 uint8 (16 bytes).
// b: packed B panel, k4 groups of 16 columns × 4 int8 (64 bytes); lane j
// of a ymm holds column j's 4 k values. c: the tile, rows ldc int32s
// apart, overwritten. Y0–Y7: accumulators (row r: Y(2r) columns 0–7,
// Y(2r+1) columns 8–15); Y8, Y9: B group; Y10: A row broadcast.

// AVX2: vpmaddubsw adds the two u8·s8 products of each byte pair into an
// int16 (exact: a ≤ 127, |b| ≤ 127), vpmaddwd by ones adds the two int16
// of each lane into an int32. Y11, Y12: products; Y15: int16 ones.
#define QAVX2ROW(off, acc0, acc1) \
	VPBROADCASTD off(SI), Y10; \
	VPMADDUBSW   Y8, Y10, Y11; \
	VPMADDUBSW   Y9, Y10, Y12; \
	VPMADDWD     Y15, Y11, Y11; \
	VPMADDWD     Y15, Y12, Y12; \
	VPADDD       Y11, acc0, acc0; \
	VPADDD       Y12, acc1, acc1

#define QSTOREROW(acc0, acc1) \
	VMOVDQU acc0, (DX);   \
	VMOVDQU acc1, 32(DX); \
	ADDQ    R8, DX

TEXT ·qgemmAVX2x4x16(SB), NOSPLIT, $0-40
	MOVQ k4+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	VPXOR    Y0, Y0, Y0
	VPXOR    Y1, Y1, Y1
	VPXOR    Y2, Y2, Y2
	VPXOR    Y3, Y3, Y3
	VPXOR    Y4, Y4, Y4
	VPXOR    Y5, Y5, Y5
	VPXOR    Y6, Y6, Y6
	VPXOR    Y7, Y7, Y7
	TESTQ    CX, CX
	JZ       qavx2store

qavx2loop:
	VMOVDQU (DI), Y8
	VMOVDQU 32(DI), Y9
	QAVX2ROW(0, Y0, Y1)
	QAVX2ROW(4, Y2, Y3)
	QAVX2ROW(8, Y4, Y5)
	QAVX2ROW(12, Y6, Y7)
	ADDQ    $16, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     qavx2loop

qavx2store:
	QSTOREROW(Y0, Y1)
	QSTOREROW(Y2, Y3)
	QSTOREROW(Y4, Y5)
	QSTOREROW(Y6, Y7)
	VZEROUPPER
	RET

// AVX-512 VNNI (with VL, on ymm): vpdpbusd adds the four u8·s8 products
// of each lane to the int32 accumulator in one instruction.
#define QVNNIROW(off, acc0, acc1) \
	VPBROADCASTD off(SI), Y10; \
	VPDPBUSD     Y8, Y10, acc0; \
	VPDPBUSD     Y9, Y10, acc1

TEXT ·qgemmVNNIx4x16(SB), NOSPLIT, $0-40
	MOVQ k4+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	TESTQ CX, CX
	JZ    qvnnistore

qvnniloop:
	VMOVDQU (DI), Y8
	VMOVDQU 32(DI), Y9
	QVNNIROW(0, Y0, Y1)
	QVNNIROW(4, Y2, Y3)
	QVNNIROW(8, Y4, Y5)
	QVNNIROW(12, Y6, Y7)
	ADDQ    $16, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     qvnniloop

qvnnistore:
	QSTOREROW(Y0, Y1)
	QSTOREROW(Y2, Y3)
	QSTOREROW(Y4, Y5)
	QSTOREROW(Y6, Y7)
	VZEROUPPER
	RET

// func quantizeAVX2x16(n int, x *float32, dst *uint8, inv float32, zero int32)
//
// dst[i] = clamp(rne(clamp(x[i]·inv, −256, 256)) + zero, 0, 127) for
// 16·n elements (see QParams.Quantize).
DATA qc256<>+0(SB)/4, $256.0
DATA qcm256<>+0(SB)/4, $-256.0
DATA qc127<>+0(SB)/4, $0x7f7f7f7f
GLOBL qc256<>(SB), RODATA|NOPTR, $4
GLOBL qcm256<>(SB), RODATA|NOPTR, $4
GLOBL qc127<>(SB), RODATA|NOPTR, $4

TEXT ·quantizeAVX2x16(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVQ         dst+16(FP), DI
	VBROADCASTSS inv+24(FP), Y15
	MOVL         zero+28(FP), AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	VBROADCASTSS qc256<>(SB), Y13
	VBROADCASTSS qcm256<>(SB), Y12
	VPBROADCASTD qc127<>(SB), X11

qloop:
	VMULPS      (SI), Y15, Y0
	VMULPS      32(SI), Y15, Y1
	VMINPS      Y13, Y0, Y0
	VMINPS      Y13, Y1, Y1
	VMAXPS      Y12, Y0, Y0
	VMAXPS      Y12, Y1, Y1
	VCVTPS2DQ   Y0, Y0
	VCVTPS2DQ   Y1, Y1
	VPADDD      Y14, Y0, Y0
	VPADDD      Y14, Y1, Y1
	VPACKSSDW   Y1, Y0, Y0
	VPERMQ      $0xD8, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKUSWB   X1, X0, X0
	VPMINUB     X11, X0, X0
	VMOVDQU     X0, (DI)
	ADDQ        $64, SI
	ADDQ        $16, DI
	DECQ        CX
	JNZ         qloop
	VZEROUPPER
	RET

// func qgemmAVX2x4x16F32(k4 int, a *uint8, b *int8, c *float32, ldc int, ep *qTileEp)
//
// The AVX2 kernel with the float32 epilogue fused into the write-back:
// c = float32(float32(acc − zc)·mult) + bias, then max(·, 0) with relu.
// ep: zc, mult, bias pointers (16 entries each) and relu (int64).
#define QEPIROW(acc0, acc1) \
	VPSUBD    Y8, acc0, acc0;  \
	VPSUBD    Y9, acc1, acc1;  \
	VCVTDQ2PS acc0, acc0;      \
	VCVTDQ2PS acc1, acc1;      \
	VMULPS    Y10, acc0, acc0; \
	VMULPS    Y11, acc1, acc1; \
	VADDPS    Y12, acc0, acc0; \
	VADDPS    Y13, acc1, acc1

#define QRELUROW(acc0, acc1) \
	VMAXPS Y14, acc0, acc0; \
	VMAXPS Y14, acc1, acc1

TEXT ·qgemmAVX2x4x16F32(SB), NOSPLIT, $0-48
	MOVQ k4+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	MOVQ ep+40(FP), R9

	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	VPXOR    Y0, Y0, Y0
	VPXOR    Y1, Y1, Y1
	VPXOR    Y2, Y2, Y2
	VPXOR    Y3, Y3, Y3
	VPXOR    Y4, Y4, Y4
	VPXOR    Y5, Y5, Y5
	VPXOR    Y6, Y6, Y6
	VPXOR    Y7, Y7, Y7
	TESTQ    CX, CX
	JZ       qf32epi

qf32loop:
	VMOVDQU (DI), Y8
	VMOVDQU 32(DI), Y9
	QAVX2ROW(0, Y0, Y1)
	QAVX2ROW(4, Y2, Y3)
	QAVX2ROW(8, Y4, Y5)
	QAVX2ROW(12, Y6, Y7)
	ADDQ    $16, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     qf32loop

qf32epi:
	MOVQ    0(R9), AX
	VMOVDQU (AX), Y8
	VMOVDQU 32(AX), Y9
	MOVQ    8(R9), AX
	VMOVUPS (AX), Y10
	VMOVUPS 32(AX), Y11
	MOVQ    16(R9), AX
	VMOVUPS (AX), Y12
	VMOVUPS 32(AX), Y13
	QEPIROW(Y0, Y1)
	QEPIROW(Y2, Y3)
	QEPIROW(Y4, Y5)
	QEPIROW(Y6, Y7)
	MOVQ    24(R9), AX
	TESTQ   AX, AX
	JZ      qf32store
	VXORPS  Y14, Y14, Y14
	QRELUROW(Y0, Y1)
	QRELUROW(Y2, Y3)
	QRELUROW(Y4, Y5)
	QRELUROW(Y6, Y7)

qf32store:
	QSTOREROW(Y0, Y1)
	QSTOREROW(Y2, Y3)
	QSTOREROW(Y4, Y5)
	QSTOREROW(Y6, Y7)
	VZEROUPPER
	RET

// func qconvAVX2x6x16(k4 int, a *uint8, w *int8, c unsafe.Pointer, ldc int, ep *qConvEp, u8 int)
//
// Channel-major tile (int8conv.go): 6 output channels × 16 pixels.
// a: k4 groups of 16 pixels × 4 uint8 (64 bytes); w: k4 groups of 6
// channels × 4 int8 (24 bytes). Y0–Y11: accumulators (channel o: Y(2o)
// pixels 0–7, Y(2o+1) pixels 8–15); Y12, Y13: the A group; Y14: one
// channel's weights broadcast; Y15: products. The int16 ones of vpmaddwd
// come from memory (no register left). Epilogue per channel: acc − zc,
// to float32, · mult, + bias, max(·, 0) with relu (as
// qgemmAVX2x4x16F32), then stored as float32 or quantized as
// quantizeAVX2x16 does; rows ldc elements apart.
DATA qcones<>+0(SB)/8, $0x0001000100010001
DATA qcones<>+8(SB)/8, $0x0001000100010001
DATA qcones<>+16(SB)/8, $0x0001000100010001
DATA qcones<>+24(SB)/8, $0x0001000100010001
GLOBL qcones<>(SB), RODATA|NOPTR, $32

#define QCCH(off, acc0, acc1) \
	VPBROADCASTD off(DI), Y14;      \
	VPMADDUBSW   Y14, Y12, Y15;     \
	VPMADDUBSW   Y14, Y13, Y14;     \
	VPMADDWD     qcones<>(SB), Y15, Y15; \
	VPMADDWD     qcones<>(SB), Y14, Y14; \
	VPADDD       Y15, acc0, acc0;   \
	VPADDD       Y14, acc1, acc1

#define QCEPI(zoff, moff, boff, acc0, acc1) \
	VPBROADCASTD zoff(R9), Y12;     \
	VBROADCASTSS moff(R9), Y13;     \
	VBROADCASTSS boff(R9), Y14;     \
	VPSUBD       Y12, acc0, acc0;    \
	VPSUBD       Y12, acc1, acc1;    \
	VCVTDQ2PS    acc0, acc0;         \
	VCVTDQ2PS    acc1, acc1;         \
	VMULPS       Y13, acc0, acc0;    \
	VMULPS       Y13, acc1, acc1;    \
	VADDPS       Y14, acc0, acc0;    \
	VADDPS       Y14, acc1, acc1

#define QCSTOREF(acc0, acc1) \
	VMOVUPS acc0, (DX);   \
	VMOVUPS acc1, 32(DX); \
	ADDQ    R8, DX

// Y12: inv, Y13: 256, Y14: −256, Y15: zero point.
#define QCSTOREU(acc0, acc1, x0, x1) \
	VMULPS       Y12, acc0, acc0;  \
	VMULPS       Y12, acc1, acc1;  \
	VMINPS       Y13, acc0, acc0;  \
	VMINPS       Y13, acc1, acc1;  \
	VMAXPS       Y14, acc0, acc0;  \
	VMAXPS       Y14, acc1, acc1;  \
	VCVTPS2DQ    acc0, acc0;       \
	VCVTPS2DQ    acc1, acc1;       \
	VPADDD       Y15, acc0, acc0;  \
	VPADDD       Y15, acc1, acc1;  \
	VPACKSSDW    acc1, acc0, acc0; \
	VPERMQ       $0xD8, acc0, acc0; \
	VEXTRACTI128 $1, acc0, x1;     \
	VPACKUSWB    x1, x0, x0;       \
	VPMINUB      qc127x16<>(SB), x0, x0; \
	VMOVDQU      x0, (DX);         \
	ADDQ         R8, DX

DATA qc127x16<>+0(SB)/8, $0x7f7f7f7f7f7f7f7f
DATA qc127x16<>+8(SB)/8, $0x7f7f7f7f7f7f7f7f
GLOBL qc127x16<>(SB), RODATA|NOPTR, $16

TEXT ·qconvAVX2x6x16(SB), NOSPLIT, $0-56
	MOVQ  k4+0(FP), CX
	MOVQ  a+8(FP), SI
	MOVQ  w+16(FP), DI
	MOVQ  c+24(FP), DX
	MOVQ  ldc+32(FP), R8
	MOVQ  ep+40(FP), R9
	MOVQ  u8+48(FP), R10
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	TESTQ CX, CX
	JZ    qcepi
qcloop:
	VMOVDQU (SI), Y12
	VMOVDQU 32(SI), Y13
	QCCH(0, Y0, Y1)
	QCCH(4, Y2, Y3)
	QCCH(8, Y4, Y5)
	QCCH(12, Y6, Y7)
	QCCH(16, Y8, Y9)
	QCCH(20, Y10, Y11)
	ADDQ    $64, SI
	ADDQ    $24, DI
	DECQ    CX
	JNZ     qcloop
qcepi:
	QCEPI(0, 24, 48, Y0, Y1)
	QCEPI(4, 28, 52, Y2, Y3)
	QCEPI(8, 32, 56, Y4, Y5)
	QCEPI(12, 36, 60, Y6, Y7)
	QCEPI(16, 40, 64, Y8, Y9)
	QCEPI(20, 44, 68, Y10, Y11)
	MOVQ   72(R9), AX
	TESTQ  AX, AX
	JZ     qcout
	VXORPS Y15, Y15, Y15
	VMAXPS Y15, Y0, Y0
	VMAXPS Y15, Y1, Y1
	VMAXPS Y15, Y2, Y2
	VMAXPS Y15, Y3, Y3
	VMAXPS Y15, Y4, Y4
	VMAXPS Y15, Y5, Y5
	VMAXPS Y15, Y6, Y6
	VMAXPS Y15, Y7, Y7
	VMAXPS Y15, Y8, Y8
	VMAXPS Y15, Y9, Y9
	VMAXPS Y15, Y10, Y10
	VMAXPS Y15, Y11, Y11
qcout:
	TESTQ R10, R10
	JNZ   qcu8
	SHLQ  $2, R8
	QCSTOREF(Y0, Y1)
	QCSTOREF(Y2, Y3)
	QCSTOREF(Y4, Y5)
	QCSTOREF(Y6, Y7)
	QCSTOREF(Y8, Y9)
	QCSTOREF(Y10, Y11)
	VZEROUPPER
	RET
qcu8:
	VBROADCASTSS 80(R9), Y12
	VBROADCASTSS qc256<>(SB), Y13
	VBROADCASTSS qcm256<>(SB), Y14
	VPBROADCASTD 84(R9), Y15
	QCSTOREU(Y0, Y1, X0, X1)
	QCSTOREU(Y2, Y3, X2, X3)
	QCSTOREU(Y4, Y5, X4, X5)
	QCSTOREU(Y6, Y7, X6, X7)
	QCSTOREU(Y8, Y9, X8, X9)
	QCSTOREU(Y10, Y11, X10, X11)
	VZEROUPPER
	RET

// func qconvVNNIx6x16(k4 int, a *uint8, w *int8, c unsafe.Pointer, ldc int, ep *qConvEp, u8 int)
//
// qconvAVX2x6x16 with AVX-512 VNNI (on ymm, EVEX): vpdpbusd adds the four
// u8·s8 products of each lane to the accumulator in one instruction.
// Not run on the machines this was written on (no VNNI); the tests run
// it where the CPU has it.
#define QVCH(off, acc0, acc1) \
	VPBROADCASTD off(DI), Y14;  \
	VPDPBUSD     Y14, Y12, acc0; \
	VPDPBUSD     Y14, Y13, acc1

TEXT ·qconvVNNIx6x16(SB), NOSPLIT, $0-56
	MOVQ  k4+0(FP), CX
	MOVQ  a+8(FP), SI
	MOVQ  w+16(FP), DI
	MOVQ  c+24(FP), DX
	MOVQ  ldc+32(FP), R8
	MOVQ  ep+40(FP), R9
	MOVQ  u8+48(FP), R10
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	TESTQ CX, CX
	JZ    qvepi
qvloop:
	VMOVDQU (SI), Y12
	VMOVDQU 32(SI), Y13
	QVCH(0, Y0, Y1)
	QVCH(4, Y2, Y3)
	QVCH(8, Y4, Y5)
	QVCH(12, Y6, Y7)
	QVCH(16, Y8, Y9)
	QVCH(20, Y10, Y11)
	ADDQ    $64, SI
	ADDQ    $24, DI
	DECQ    CX
	JNZ     qvloop
qvepi:
	QCEPI(0, 24, 48, Y0, Y1)
	QCEPI(4, 28, 52, Y2, Y3)
	QCEPI(8, 32, 56, Y4, Y5)
	QCEPI(12, 36, 60, Y6, Y7)
	QCEPI(16, 40, 64, Y8, Y9)
	QCEPI(20, 44, 68, Y10, Y11)
	MOVQ   72(R9), AX
	TESTQ  AX, AX
	JZ     qvout
	VXORPS Y15, Y15, Y15
	VMAXPS Y15, Y0, Y0
	VMAXPS Y15, Y1, Y1
	VMAXPS Y15, Y2, Y2
	VMAXPS Y15, Y3, Y3
	VMAXPS Y15, Y4, Y4
	VMAXPS Y15, Y5, Y5
	VMAXPS Y15, Y6, Y6
	VMAXPS Y15, Y7, Y7
	VMAXPS Y15, Y8, Y8
	VMAXPS Y15, Y9, Y9
	VMAXPS Y15, Y10, Y10
	VMAXPS Y15, Y11, Y11
qvout:
	TESTQ R10, R10
	JNZ   qvu8
	SHLQ  $2, R8
	QCSTOREF(Y0, Y1)
	QCSTOREF(Y2, Y3)
	QCSTOREF(Y4, Y5)
	QCSTOREF(Y6, Y7)
	QCSTOREF(Y8, Y9)
	QCSTOREF(Y10, Y11)
	VZEROUPPER
	RET
qvu8:
	VBROADCASTSS 80(R9), Y12
	VBROADCASTSS qc256<>(SB), Y13
	VBROADCASTSS qcm256<>(SB), Y14
	VPBROADCASTD 84(R9), Y15
	QCSTOREU(Y0, Y1, X0, X1)
	QCSTOREU(Y2, Y3, X2, X3)
	QCSTOREU(Y4, Y5, X4, X5)
	QCSTOREU(Y6, Y7, X6, X7)
	QCSTOREU(Y8, Y9, X8, X9)
	QCSTOREU(Y10, Y11, X10, X11)
	VZEROUPPER
	RET
