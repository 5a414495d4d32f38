#include "textflag.h"

// The column kernels' common parts (sgemmAVX2x6x16Col and
// sgemmAVX2x6x16ColBias share their frame up to pfLines), defined here
// before any TEXT because go vet's asmdecl reads a macro's FP names as
// the enclosing function's.
//
// AVX2COLSETUP loads the arguments.
#define AVX2COLSETUP \
	MOVQ a+8(FP), SI;         \
	MOVQ ldb+24(FP), R10;     \
	SHLQ $2, R10;             \
	MOVQ c+32(FP), R13;       \
	MOVQ ldc+40(FP), R8;      \
	SHLQ $2, R8;              \
	MOVQ tiles+56(FP), R11;   \
	MOVQ pf+64(FP), BX;       \
	LEAQ (R8)(R8*2), R12;     \
	SHLQ $1, R12 // R12 = 6 rows of C in bytes

// AVX2COLTILE is one tile of a column kernel up to its store: pfLines
// lines of the next block prefetched at BX, then the kc depth steps into
// Y4–Y15 (DX = R13, the tile's C). The labels are the caller's, so that
// each kernel has its own.
#define AVX2COLTILE(pf, pfdone, loop4, tail, loop1, store) \
	MOVQ  pfLines+72(FP), CX; \
	TESTQ CX, CX;             \
	JLE   pfdone;             \
pf:                           \
	PREFETCHT0 (BX);          \
	ADDQ  $64, BX;            \
	DECQ  CX;                 \
	JNZ   pf;                 \
pfdone:                       \
	MOVQ  kc+0(FP), CX;       \
	MOVQ  b+16(FP), DI;       \
	MOVQ  R13, DX;            \
	AVX2BEGIN6;               \
	CMPQ  CX, $4;             \
	JLT   tail;               \
loop4:                        \
	AVX2STEP(0);              \
	AVX2STEP(24);             \
	AVX2STEP(48);             \
	AVX2STEP(72);             \
	ADDQ  $96, SI;            \
	SUBQ  $4, CX;             \
	CMPQ  CX, $4;             \
	JGE   loop4;              \
tail:                         \
	TESTQ CX, CX;             \
	JEQ   store;              \
loop1:                        \
	AVX2STEP(0);              \
	ADDQ  $24, SI;            \
	DECQ  CX;                 \
	JNZ   loop1

// ---------------------------------------------------------------------------
// AVX2+FMA micro-kernel, 6×16 register tile.
//
// func sgemmAVX2x6x16(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)
//
// a: packed A micro-panel, kc steps of 6 floats. b: B micro-panel, kc rows
// of 16 floats, ldb floats apart (16 when packed; B's own row stride when
// B is used in place). c: the C tile, rows ldc floats apart. acc != 0
// adds the product to C, acc == 0 overwrites C. Registers: Y0, Y1 hold a
// B row, Y2, Y3 broadcast A elements, Y4–Y15 are the 12 accumulators.

#define AVX2STEP(ao) \
	VMOVUPS      (DI), Y0;         \
	VMOVUPS      32(DI), Y1;       \
	ADDQ         R10, DI;          \
	VBROADCASTSS ao(SI), Y2;       \
	VFMADD231PS  Y0, Y2, Y4;       \
	VFMADD231PS  Y1, Y2, Y5;       \
	VBROADCASTSS ao+4(SI), Y3;     \
	VFMADD231PS  Y0, Y3, Y6;       \
	VFMADD231PS  Y1, Y3, Y7;       \
	VBROADCASTSS ao+8(SI), Y2;     \
	VFMADD231PS  Y0, Y2, Y8;       \
	VFMADD231PS  Y1, Y2, Y9;       \
	VBROADCASTSS ao+12(SI), Y3;    \
	VFMADD231PS  Y0, Y3, Y10;      \
	VFMADD231PS  Y1, Y3, Y11;      \
	VBROADCASTSS ao+16(SI), Y2;    \
	VFMADD231PS  Y0, Y2, Y12;      \
	VFMADD231PS  Y1, Y2, Y13;      \
	VBROADCASTSS ao+20(SI), Y3;    \
	VFMADD231PS  Y0, Y3, Y14;      \
	VFMADD231PS  Y1, Y3, Y15

#define AVX2ADDROW(r0, r1) \
	VADDPS  (DX), r0, r0;   \
	VADDPS  32(DX), r1, r1; \
	VMOVUPS r0, (DX);       \
	VMOVUPS r1, 32(DX);     \
	ADDQ    R8, DX

#define AVX2SETROW(r0, r1) \
	VMOVUPS r0, (DX);       \
	VMOVUPS r1, 32(DX);     \
	ADDQ    R8, DX

// AVX2BEGIN6 prefetches the 6 rows of the C tile at DX (row stride R8
// bytes; R9 is clobbered) while the product is computed, and zeroes the
// 12 accumulators Y4–Y15 of a 6×16 tile.
#define AVX2BEGIN6 \
	MOVQ       DX, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); ADDQ R8, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); ADDQ R8, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); ADDQ R8, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); ADDQ R8, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); ADDQ R8, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); \
	VXORPS Y4, Y4, Y4; VXORPS Y5, Y5, Y5; VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; VXORPS Y8, Y8, Y8; VXORPS Y9, Y9, Y9; \
	VXORPS Y10, Y10, Y10; VXORPS Y11, Y11, Y11; VXORPS Y12, Y12, Y12; \
	VXORPS Y13, Y13, Y13; VXORPS Y14, Y14, Y14; VXORPS Y15, Y15, Y15

// AVX2ADD6 adds the 6×16 tile Y4–Y15 to C; AVX2SET6 stores it over C.
#define AVX2ADD6 \
	AVX2ADDROW(Y4, Y5); AVX2ADDROW(Y6, Y7); AVX2ADDROW(Y8, Y9); \
	AVX2ADDROW(Y10, Y11); AVX2ADDROW(Y12, Y13); AVX2ADDROW(Y14, Y15)

#define AVX2SET6 \
	AVX2SETROW(Y4, Y5); AVX2SETROW(Y6, Y7); AVX2SETROW(Y8, Y9); \
	AVX2SETROW(Y10, Y11); AVX2SETROW(Y12, Y13); AVX2SETROW(Y14, Y15)

TEXT ·sgemmAVX2x6x16(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R10
	SHLQ $2, R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	AVX2BEGIN6

	CMPQ CX, $4
	JLT  avx2tail

avx2loop4:
	AVX2STEP(0)
	AVX2STEP(24)
	AVX2STEP(48)
	AVX2STEP(72)
	ADDQ $96, SI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  avx2loop4

avx2tail:
	TESTQ CX, CX
	JEQ   avx2store

avx2loop1:
	AVX2STEP(0)
	ADDQ $24, SI
	DECQ CX
	JNZ  avx2loop1

avx2store:
	MOVQ  acc+48(FP), AX
	TESTQ AX, AX
	JEQ   avx2overwrite
	AVX2ADD6
	VZEROUPPER
	RET

avx2overwrite:
	AVX2SET6
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX2+FMA micro-kernel over a column of tiles.
//
// func sgemmAVX2x6x16Col(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int, tiles int, pf uintptr, pfLines int)
//
// sgemmAVX2x6x16 on tiles ≥ 1 whole 6×16 tiles one under another: tile
// t multiplies the packed A micro-panel at a + t·kc·6 floats (the panels
// of a packed A block, one after another) by the same B micro-panel and
// stores into the C tile at c + 6·t·ldc floats; each element is the same
// FMA chain as in sgemmAVX2x6x16, so the same bits. Before each tile it
// prefetches pfLines cache lines from pf on (pf advancing), which may be
// 0 lines (the driver prefetches the next B micro-panel that way). One
// call per column instead of one per tile saves the Go call and the
// driver's per-tile work.
TEXT ·sgemmAVX2x6x16Col(SB), NOSPLIT, $0-80
	AVX2COLSETUP

coltile:
	AVX2COLTILE(colpf, colpfdone, colloop4, coltail, colloop1, colstore)

colstore:
	MOVQ  R13, DX
	MOVQ  acc+48(FP), AX
	TESTQ AX, AX
	JEQ   coloverwrite
	AVX2ADD6
	JMP   colnext

coloverwrite:
	AVX2SET6

colnext:
	ADDQ R12, R13
	DECQ R11
	JNZ  coltile
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// sgemmAVX2x6x16Col with the column bias added as the tiles are stored.
//
// func sgemmAVX2x6x16ColBias(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int, tiles int, pf uintptr, pfLines int, bias *float32)
//
// The tiles of the last KC slice of a product whose epilogue is a column
// bias alone: each row of each tile is (C +) the sum, then + bias[0:16],
// the additions biasTileAVX2 makes after the store, in the same order, so
// the same bits, without storing the tile and loading it back (one call
// per column where the epilogue took a kernel call and a bias call per
// tile).

#define AVX2ADDROWB(r0, r1) \
	VADDPS  (DX), r0, r0;   \
	VADDPS  32(DX), r1, r1; \
	VADDPS  Y0, r0, r0;     \
	VADDPS  Y1, r1, r1;     \
	VMOVUPS r0, (DX);       \
	VMOVUPS r1, 32(DX);     \
	ADDQ    R8, DX

#define AVX2SETROWB(r0, r1) \
	VADDPS  Y0, r0, r0;     \
	VADDPS  Y1, r1, r1;     \
	VMOVUPS r0, (DX);       \
	VMOVUPS r1, 32(DX);     \
	ADDQ    R8, DX

TEXT ·sgemmAVX2x6x16ColBias(SB), NOSPLIT, $0-88
	AVX2COLSETUP

cbtile:
	AVX2COLTILE(cbpf, cbpfdone, cbloop4, cbtail, cbloop1, cbstore)

cbstore:
	MOVQ    bias+80(FP), AX
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	MOVQ    R13, DX
	MOVQ    acc+48(FP), AX
	TESTQ   AX, AX
	JEQ     cboverwrite
	AVX2ADDROWB(Y4, Y5); AVX2ADDROWB(Y6, Y7); AVX2ADDROWB(Y8, Y9)
	AVX2ADDROWB(Y10, Y11); AVX2ADDROWB(Y12, Y13); AVX2ADDROWB(Y14, Y15)
	JMP     cbnext

cboverwrite:
	AVX2SETROWB(Y4, Y5); AVX2SETROWB(Y6, Y7); AVX2SETROWB(Y8, Y9)
	AVX2SETROWB(Y10, Y11); AVX2SETROWB(Y12, Y13); AVX2SETROWB(Y14, Y15)

cbnext:
	ADDQ R12, R13
	DECQ R11
	JNZ  cbtile
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX2+FMA micro-kernel reading A in place.
//
// func sgemmAVX2x6x16A(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc int)
//
// sgemmAVX2x6x16 with A not packed: a is row 0 of six rows of A stored
// m×k, lda floats apart, kc consecutive floats each. Each element of the
// tile is the same FMA chain as in the packed kernel (same depth order),
// so the bits are those of packing A first (with alpha == 1). SI points
// at rows 0–2 and BX at rows 3–5 (R11 = lda in bytes).

#define AVX2STEPA(ao) \
	VMOVUPS      (DI), Y0;           \
	VMOVUPS      32(DI), Y1;         \
	ADDQ         R10, DI;            \
	VBROADCASTSS ao(SI), Y2;         \
	VFMADD231PS  Y0, Y2, Y4;         \
	VFMADD231PS  Y1, Y2, Y5;         \
	VBROADCASTSS ao(SI)(R11*1), Y3;  \
	VFMADD231PS  Y0, Y3, Y6;         \
	VFMADD231PS  Y1, Y3, Y7;         \
	VBROADCASTSS ao(SI)(R11*2), Y2;  \
	VFMADD231PS  Y0, Y2, Y8;         \
	VFMADD231PS  Y1, Y2, Y9;         \
	VBROADCASTSS ao(BX), Y3;         \
	VFMADD231PS  Y0, Y3, Y10;        \
	VFMADD231PS  Y1, Y3, Y11;        \
	VBROADCASTSS ao(BX)(R11*1), Y2;  \
	VFMADD231PS  Y0, Y2, Y12;        \
	VFMADD231PS  Y1, Y2, Y13;        \
	VBROADCASTSS ao(BX)(R11*2), Y3;  \
	VFMADD231PS  Y0, Y3, Y14;        \
	VFMADD231PS  Y1, Y3, Y15

TEXT ·sgemmAVX2x6x16A(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R11
	SHLQ $2, R11
	LEAQ (SI)(R11*2), BX
	ADDQ R11, BX
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R10
	SHLQ $2, R10
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8

	AVX2BEGIN6

	CMPQ CX, $4
	JLT  avx2atail

avx2aloop4:
	AVX2STEPA(0)
	AVX2STEPA(4)
	AVX2STEPA(8)
	AVX2STEPA(12)
	ADDQ $16, SI
	ADDQ $16, BX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  avx2aloop4

avx2atail:
	TESTQ CX, CX
	JEQ   avx2astore

avx2aloop1:
	AVX2STEPA(0)
	ADDQ $4, SI
	ADDQ $4, BX
	DECQ CX
	JNZ  avx2aloop1

avx2astore:
	MOVQ  acc+56(FP), AX
	TESTQ AX, AX
	JEQ   avx2aoverwrite
	AVX2ADD6
	VZEROUPPER
	RET

avx2aoverwrite:
	AVX2SET6
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX2+FMA edge kernel: the first 4 rows of a 6×16 tile.
//
// func sgemmAVX2x4x16(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)
//
// The contract of sgemmAVX2x6x16 (a is still a 6-row micro-panel, 6
// floats per depth step) for rows 0–3 only: the edge panel of an M that
// leaves 4 rows (M = 64: 10 whole panels and 4 rows) costs 4/6 of a
// whole one and is stored in place. Each element is the same FMA chain
// as in the 6-row kernel, so the bits are those of the scratch-tile path.

#define AVX2STEP4(ao) \
	VMOVUPS      (DI), Y0;         \
	VMOVUPS      32(DI), Y1;       \
	ADDQ         R10, DI;          \
	VBROADCASTSS ao(SI), Y2;       \
	VFMADD231PS  Y0, Y2, Y4;       \
	VFMADD231PS  Y1, Y2, Y5;       \
	VBROADCASTSS ao+4(SI), Y3;     \
	VFMADD231PS  Y0, Y3, Y6;       \
	VFMADD231PS  Y1, Y3, Y7;       \
	VBROADCASTSS ao+8(SI), Y2;     \
	VFMADD231PS  Y0, Y2, Y8;       \
	VFMADD231PS  Y1, Y2, Y9;       \
	VBROADCASTSS ao+12(SI), Y3;    \
	VFMADD231PS  Y0, Y3, Y10;      \
	VFMADD231PS  Y1, Y3, Y11

TEXT ·sgemmAVX2x4x16(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R10
	SHLQ $2, R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	CMPQ CX, $4
	JLT  e4tail

e4loop4:
	AVX2STEP4(0)
	AVX2STEP4(24)
	AVX2STEP4(48)
	AVX2STEP4(72)
	ADDQ $96, SI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  e4loop4

e4tail:
	TESTQ CX, CX
	JEQ   e4store

e4loop1:
	AVX2STEP4(0)
	ADDQ $24, SI
	DECQ CX
	JNZ  e4loop1

e4store:
	MOVQ  acc+48(FP), AX
	TESTQ AX, AX
	JEQ   e4overwrite
	AVX2ADDROW(Y4, Y5)
	AVX2ADDROW(Y6, Y7)
	AVX2ADDROW(Y8, Y9)
	AVX2ADDROW(Y10, Y11)
	VZEROUPPER
	RET

e4overwrite:
	AVX2SETROW(Y4, Y5)
	AVX2SETROW(Y6, Y7)
	AVX2SETROW(Y8, Y9)
	AVX2SETROW(Y10, Y11)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX2+FMA 5-row kernels: the first 5 rows of a 6×16 tile.
//
// func sgemmAVX2x5x16(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)
// func sgemmAVX2x5x16A(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, acc int)
//
// sgemmAVX2x5x16 has the contract of sgemmAVX2x6x16 (a is a 6-row packed
// micro-panel, 6 floats per depth step) for rows 0–4 only, stored in
// place; sgemmAVX2x5x16A that of sgemmAVX2x6x16A for 5 rows of A read in
// place (SI points at rows 0–2, BX at rows 3–4). Ten accumulators keep
// both FMA pipes busy where the 4-row kernel's eight do not: a block of
// M ≢ 0 (mod 6) rows goes as 6-row tiles and then 1–5 tiles of 5 rows
// (M = 64: 9 + 2) instead of an edge tile of 1–5 rows (see block). Each
// element is the same FMA chain as in the 6-row kernels, so the bits are
// those of the 6-row tiles.

#define AVX2STEP5(ao) \
	VMOVUPS      (DI), Y0;         \
	VMOVUPS      32(DI), Y1;       \
	ADDQ         R10, DI;          \
	VBROADCASTSS ao(SI), Y2;       \
	VFMADD231PS  Y0, Y2, Y4;       \
	VFMADD231PS  Y1, Y2, Y5;       \
	VBROADCASTSS ao+4(SI), Y3;     \
	VFMADD231PS  Y0, Y3, Y6;       \
	VFMADD231PS  Y1, Y3, Y7;       \
	VBROADCASTSS ao+8(SI), Y2;     \
	VFMADD231PS  Y0, Y2, Y8;       \
	VFMADD231PS  Y1, Y2, Y9;       \
	VBROADCASTSS ao+12(SI), Y3;    \
	VFMADD231PS  Y0, Y3, Y10;      \
	VFMADD231PS  Y1, Y3, Y11;      \
	VBROADCASTSS ao+16(SI), Y2;    \
	VFMADD231PS  Y0, Y2, Y12;      \
	VFMADD231PS  Y1, Y2, Y13

#define AVX2STEP5A(ao) \
	VMOVUPS      (DI), Y0;           \
	VMOVUPS      32(DI), Y1;         \
	ADDQ         R10, DI;            \
	VBROADCASTSS ao(SI), Y2;         \
	VFMADD231PS  Y0, Y2, Y4;         \
	VFMADD231PS  Y1, Y2, Y5;         \
	VBROADCASTSS ao(SI)(R11*1), Y3;  \
	VFMADD231PS  Y0, Y3, Y6;         \
	VFMADD231PS  Y1, Y3, Y7;         \
	VBROADCASTSS ao(SI)(R11*2), Y2;  \
	VFMADD231PS  Y0, Y2, Y8;         \
	VFMADD231PS  Y1, Y2, Y9;         \
	VBROADCASTSS ao(BX), Y3;         \
	VFMADD231PS  Y0, Y3, Y10;        \
	VFMADD231PS  Y1, Y3, Y11;        \
	VBROADCASTSS ao(BX)(R11*1), Y2;  \
	VFMADD231PS  Y0, Y2, Y12;        \
	VFMADD231PS  Y1, Y2, Y13

// AVX2BEGIN5 prefetches the 5 rows of the C tile at DX (R9 clobbered)
// and zeroes the 10 accumulators Y4–Y13.
#define AVX2BEGIN5 \
	MOVQ       DX, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); ADDQ R8, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); ADDQ R8, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); ADDQ R8, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); ADDQ R8, R9; \
	PREFETCHT0 (R9); PREFETCHT0 60(R9); \
	VXORPS Y4, Y4, Y4; VXORPS Y5, Y5, Y5; VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; VXORPS Y8, Y8, Y8; VXORPS Y9, Y9, Y9; \
	VXORPS Y10, Y10, Y10; VXORPS Y11, Y11, Y11; VXORPS Y12, Y12, Y12; \
	VXORPS Y13, Y13, Y13

#define AVX2ADD5 \
	AVX2ADDROW(Y4, Y5); AVX2ADDROW(Y6, Y7); AVX2ADDROW(Y8, Y9); \
	AVX2ADDROW(Y10, Y11); AVX2ADDROW(Y12, Y13)

#define AVX2SET5 \
	AVX2SETROW(Y4, Y5); AVX2SETROW(Y6, Y7); AVX2SETROW(Y8, Y9); \
	AVX2SETROW(Y10, Y11); AVX2SETROW(Y12, Y13)

TEXT ·sgemmAVX2x5x16(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R10
	SHLQ $2, R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	AVX2BEGIN5

	CMPQ CX, $4
	JLT  e5tail

e5loop4:
	AVX2STEP5(0)
	AVX2STEP5(24)
	AVX2STEP5(48)
	AVX2STEP5(72)
	ADDQ $96, SI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  e5loop4

e5tail:
	TESTQ CX, CX
	JEQ   e5store

e5loop1:
	AVX2STEP5(0)
	ADDQ $24, SI
	DECQ CX
	JNZ  e5loop1

e5store:
	MOVQ  acc+48(FP), AX
	TESTQ AX, AX
	JEQ   e5overwrite
	AVX2ADD5
	VZEROUPPER
	RET

e5overwrite:
	AVX2SET5
	VZEROUPPER
	RET

TEXT ·sgemmAVX2x5x16A(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R11
	SHLQ $2, R11
	LEAQ (SI)(R11*2), BX
	ADDQ R11, BX
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R10
	SHLQ $2, R10
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8

	AVX2BEGIN5

	CMPQ CX, $4
	JLT  e5atail

e5aloop4:
	AVX2STEP5A(0)
	AVX2STEP5A(4)
	AVX2STEP5A(8)
	AVX2STEP5A(12)
	ADDQ $16, SI
	ADDQ $16, BX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  e5aloop4

e5atail:
	TESTQ CX, CX
	JEQ   e5astore

e5aloop1:
	AVX2STEP5A(0)
	ADDQ $4, SI
	ADDQ $4, BX
	DECQ CX
	JNZ  e5aloop1

e5astore:
	MOVQ  acc+56(FP), AX
	TESTQ AX, AX
	JEQ   e5aoverwrite
	AVX2ADD5
	VZEROUPPER
	RET

e5aoverwrite:
	AVX2SET5
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX-512 micro-kernel, 12×32 register tile.
//
// func sgemmAVX512x12x32(kc int, a, b *float32, ldb int, c *float32, ldc int, acc int)
//
// Same contract as the AVX2 kernel with 12-float A steps and 32-float B
// steps. Z0, Z1 hold a B row, Z2, Z3 broadcast A, Z8–Z31 accumulate.

#define Z512ROW(ao, bc, r0, r1) \
	VBROADCASTSS ao(SI), bc; \
	VFMADD231PS  Z0, bc, r0; \
	VFMADD231PS  Z1, bc, r1

#define Z512STEP(ao) \
	VMOVUPS (DI), Z0;                \
	VMOVUPS 64(DI), Z1;              \
	ADDQ    R10, DI;                 \
	Z512ROW(ao, Z2, Z8, Z9);         \
	Z512ROW(ao+4, Z3, Z10, Z11);     \
	Z512ROW(ao+8, Z4, Z12, Z13);     \
	Z512ROW(ao+12, Z5, Z14, Z15);    \
	Z512ROW(ao+16, Z2, Z16, Z17);    \
	Z512ROW(ao+20, Z3, Z18, Z19);    \
	Z512ROW(ao+24, Z4, Z20, Z21);    \
	Z512ROW(ao+28, Z5, Z22, Z23);    \
	Z512ROW(ao+32, Z2, Z24, Z25);    \
	Z512ROW(ao+36, Z3, Z26, Z27);    \
	Z512ROW(ao+40, Z4, Z28, Z29);    \
	Z512ROW(ao+44, Z5, Z30, Z31)

#define Z512ADDROW(r0, r1) \
	VADDPS  (DX), r0, r0;   \
	VADDPS  64(DX), r1, r1; \
	VMOVUPS r0, (DX);       \
	VMOVUPS r1, 64(DX);     \
	ADDQ    R8, DX

#define Z512SETROW(r0, r1) \
	VMOVUPS r0, (DX);   \
	VMOVUPS r1, 64(DX); \
	ADDQ    R8, DX

#define Z512PREF \
	PREFETCHT0 (R9);    \
	PREFETCHT0 64(R9);  \
	PREFETCHT0 124(R9); \
	ADDQ       R8, R9

TEXT ·sgemmAVX512x12x32(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R10
	SHLQ $2, R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	MOVQ DX, R9
	Z512PREF
	Z512PREF
	Z512PREF
	Z512PREF
	Z512PREF
	Z512PREF
	Z512PREF
	Z512PREF
	Z512PREF
	Z512PREF
	Z512PREF
	Z512PREF

	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	VPXORD Z31, Z31, Z31

	CMPQ CX, $4
	JLT  z512tail

z512loop4:
	Z512STEP(0)
	Z512STEP(48)
	Z512STEP(96)
	Z512STEP(144)
	ADDQ $192, SI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  z512loop4

z512tail:
	TESTQ CX, CX
	JEQ   z512store

z512loop1:
	Z512STEP(0)
	ADDQ $48, SI
	DECQ CX
	JNZ  z512loop1

z512store:
	MOVQ  acc+48(FP), AX
	TESTQ AX, AX
	JEQ   z512overwrite
	Z512ADDROW(Z8, Z9)
	Z512ADDROW(Z10, Z11)
	Z512ADDROW(Z12, Z13)
	Z512ADDROW(Z14, Z15)
	Z512ADDROW(Z16, Z17)
	Z512ADDROW(Z18, Z19)
	Z512ADDROW(Z20, Z21)
	Z512ADDROW(Z22, Z23)
	Z512ADDROW(Z24, Z25)
	Z512ADDROW(Z26, Z27)
	Z512ADDROW(Z28, Z29)
	Z512ADDROW(Z30, Z31)
	VZEROUPPER
	RET

z512overwrite:
	Z512SETROW(Z8, Z9)
	Z512SETROW(Z10, Z11)
	Z512SETROW(Z12, Z13)
	Z512SETROW(Z14, Z15)
	Z512SETROW(Z16, Z17)
	Z512SETROW(Z18, Z19)
	Z512SETROW(Z20, Z21)
	Z512SETROW(Z22, Z23)
	Z512SETROW(Z24, Z25)
	Z512SETROW(Z26, Z27)
	Z512SETROW(Z28, Z29)
	Z512SETROW(Z30, Z31)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// GEMV, B not transposed: y[0:64] (+)= sum_p x[p] * b[p*ldb : p*ldb+64].
//
// func gemvNAVX2x64(k int, x, b *float32, ldb int, y *float32, acc int)

#define GEMVROW(off) \
	VBROADCASTSS off(SI), Y0;  \
	VFMADD231PS  (DI), Y0, Y8;    \
	VFMADD231PS  32(DI), Y0, Y9;  \
	VFMADD231PS  64(DI), Y0, Y10; \
	VFMADD231PS  96(DI), Y0, Y11; \
	VFMADD231PS  128(DI), Y0, Y12; \
	VFMADD231PS  160(DI), Y0, Y13; \
	VFMADD231PS  192(DI), Y0, Y14; \
	VFMADD231PS  224(DI), Y0, Y15; \
	ADDQ         R8, DI

TEXT ·gemvNAVX2x64(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ y+32(FP), DX

	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	CMPQ CX, $2
	JLT  gemvtail

gemvloop2:
	GEMVROW(0)
	GEMVROW(4)
	ADDQ $8, SI
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  gemvloop2

gemvtail:
	TESTQ CX, CX
	JEQ   gemvstore
	GEMVROW(0)

gemvstore:
	MOVQ  acc+40(FP), AX
	TESTQ AX, AX
	JEQ   gemvset
	VADDPS (DX), Y8, Y8
	VADDPS 32(DX), Y9, Y9
	VADDPS 64(DX), Y10, Y10
	VADDPS 96(DX), Y11, Y11
	VADDPS 128(DX), Y12, Y12
	VADDPS 160(DX), Y13, Y13
	VADDPS 192(DX), Y14, Y14
	VADDPS 224(DX), Y15, Y15

gemvset:
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	VMOVUPS Y10, 64(DX)
	VMOVUPS Y11, 96(DX)
	VMOVUPS Y12, 128(DX)
	VMOVUPS Y13, 160(DX)
	VMOVUPS Y14, 192(DX)
	VMOVUPS Y15, 224(DX)
	VZEROUPPER
	RET

// func gemvNAVX2x8(k int, x, b *float32, ldb int, y *float32, acc int)
//
// The 8-column form of gemvNAVX2x64, for the columns left over.
TEXT ·gemvNAVX2x8(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ y+32(FP), DX

	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	CMPQ   CX, $2
	JLT    gemv8tail

gemv8loop2:
	VBROADCASTSS (SI), Y0
	VFMADD231PS  (DI), Y0, Y8
	ADDQ         R8, DI
	VBROADCASTSS 4(SI), Y1
	VFMADD231PS  (DI), Y1, Y9
	ADDQ         R8, DI
	ADDQ         $8, SI
	SUBQ         $2, CX
	CMPQ         CX, $2
	JGE          gemv8loop2

gemv8tail:
	TESTQ CX, CX
	JEQ   gemv8store
	VBROADCASTSS (SI), Y0
	VFMADD231PS  (DI), Y0, Y8

gemv8store:
	VADDPS Y9, Y8, Y8
	MOVQ   acc+40(FP), AX
	TESTQ  AX, AX
	JEQ    gemv8set
	VADDPS (DX), Y8, Y8

gemv8set:
	VMOVUPS Y8, (DX)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// GEMV, B transposed: out[r] = dot(x[0:k], b[r*ldb : r*ldb+k]) for r < 4.
//
// func dot4AVX2(k int, x, b *float32, ldb int, out *float32)

#define HSUM(y, x) \
	VEXTRACTF128 $1, y, X0; \
	VADDPS       X0, x, x;  \
	VHADDPS      x, x, x;   \
	VHADDPS      x, x, x

TEXT ·dot4AVX2(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ out+32(FP), DX
	LEAQ (DI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	CMPQ CX, $16
	JLT  dot8

dot16:
	VMOVUPS     (SI), Y0
	VMOVUPS     32(SI), Y1
	VFMADD231PS (DI), Y0, Y4
	VFMADD231PS 32(DI), Y1, Y8
	VFMADD231PS (R9), Y0, Y5
	VFMADD231PS 32(R9), Y1, Y9
	VFMADD231PS (R10), Y0, Y6
	VFMADD231PS 32(R10), Y1, Y10
	VFMADD231PS (R11), Y0, Y7
	VFMADD231PS 32(R11), Y1, Y11
	ADDQ        $64, SI
	ADDQ        $64, DI
	ADDQ        $64, R9
	ADDQ        $64, R10
	ADDQ        $64, R11
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         dot16

dot8:
	CMPQ        CX, $8
	JLT         dotreduce
	VMOVUPS     (SI), Y0
	VFMADD231PS (DI), Y0, Y4
	VFMADD231PS (R9), Y0, Y5
	VFMADD231PS (R10), Y0, Y6
	VFMADD231PS (R11), Y0, Y7
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, R9
	ADDQ        $32, R10
	ADDQ        $32, R11
	SUBQ        $8, CX

dotreduce:
	VADDPS Y8, Y4, Y4
	VADDPS Y9, Y5, Y5
	VADDPS Y10, Y6, Y6
	VADDPS Y11, Y7, Y7
	HSUM(Y4, X4)
	HSUM(Y5, X5)
	HSUM(Y6, X6)
	HSUM(Y7, X7)
	TESTQ  CX, CX
	JEQ    dotstore

dot1:
	VMOVSS      (SI), X0
	VFMADD231SS (DI), X0, X4
	VFMADD231SS (R9), X0, X5
	VFMADD231SS (R10), X0, X6
	VFMADD231SS (R11), X0, X7
	ADDQ        $4, SI
	ADDQ        $4, DI
	ADDQ        $4, R9
	ADDQ        $4, R10
	ADDQ        $4, R11
	DECQ        CX
	JNZ         dot1

dotstore:
	VMOVSS X4, (DX)
	VMOVSS X5, 4(DX)
	VMOVSS X6, 8(DX)
	VMOVSS X7, 12(DX)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// 8×8 transposes for packing: for b < blocks, r, q < 8:
//   dst[(8b+q)*ldd + r] = src[r*lds + 8b + q]
// i.e. 8 rows of src, 8·blocks long, become 8·blocks rows of 8 in dst.
//
// func transpose8AVX2(blocks int, src *float32, lds int, dst *float32, ldd int)
TEXT ·transpose8AVX2(SB), NOSPLIT, $0-40
	MOVQ blocks+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), R9
	SHLQ $2, R9
	LEAQ (R8)(R8*2), R10
	LEAQ (R9)(R9*2), R11
	TESTQ CX, CX
	JEQ   t8done

t8loop:
	MOVQ       SI, AX
	VMOVUPS    (AX), Y0
	VMOVUPS    (AX)(R8*1), Y1
	VMOVUPS    (AX)(R8*2), Y2
	VMOVUPS    (AX)(R10*1), Y3
	LEAQ       (AX)(R8*4), AX
	VMOVUPS    (AX), Y4
	VMOVUPS    (AX)(R8*1), Y5
	VMOVUPS    (AX)(R8*2), Y6
	VMOVUPS    (AX)(R10*1), Y7
	VUNPCKLPS  Y1, Y0, Y8
	VUNPCKHPS  Y1, Y0, Y9
	VUNPCKLPS  Y3, Y2, Y10
	VUNPCKHPS  Y3, Y2, Y11
	VUNPCKLPS  Y5, Y4, Y12
	VUNPCKHPS  Y5, Y4, Y13
	VUNPCKLPS  Y7, Y6, Y14
	VUNPCKHPS  Y7, Y6, Y15
	VSHUFPS    $0x44, Y10, Y8, Y0
	VSHUFPS    $0xEE, Y10, Y8, Y1
	VSHUFPS    $0x44, Y11, Y9, Y2
	VSHUFPS    $0xEE, Y11, Y9, Y3
	VSHUFPS    $0x44, Y14, Y12, Y4
	VSHUFPS    $0xEE, Y14, Y12, Y5
	VSHUFPS    $0x44, Y15, Y13, Y6
	VSHUFPS    $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	MOVQ       DI, BX
	VMOVUPS    Y8, (BX)
	VMOVUPS    Y9, (BX)(R9*1)
	VMOVUPS    Y10, (BX)(R9*2)
	VMOVUPS    Y11, (BX)(R11*1)
	LEAQ       (BX)(R9*4), BX
	VMOVUPS    Y12, (BX)
	VMOVUPS    Y13, (BX)(R9*1)
	VMOVUPS    Y14, (BX)(R9*2)
	VMOVUPS    Y15, (BX)(R11*1)
	ADDQ       $32, SI
	LEAQ       (DI)(R9*8), DI
	DECQ       CX
	JNZ        t8loop

t8done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// pack6AVX2 packs 6 rows of A into a 6-wide micro-panel, 8 depth steps per
// block: dst[q*6 + r] = src[r*lds + q] for r < 6 and q < 8·blocks. Rows
// 6 and 7 of the 8×8 transpose are zero; each transposed row is stored
// with one 8-float store at q*6, so the next store overwrites its two
// zero lanes. The last store writes 2 floats past dst[48·blocks-1]: the
// caller leaves room for them. The caller checks bounds.
//
// func pack6AVX2(blocks int, src *float32, lds int, dst *float32)
TEXT ·pack6AVX2(SB), NOSPLIT, $0-32
	MOVQ   blocks+0(FP), CX
	MOVQ   src+8(FP), SI
	MOVQ   lds+16(FP), R8
	SHLQ   $2, R8
	MOVQ   dst+24(FP), DI
	LEAQ   (R8)(R8*2), R10
	VXORPS Y6, Y6, Y6
	TESTQ  CX, CX
	JEQ    p6done

p6loop:
	MOVQ       SI, AX
	VMOVUPS    (AX), Y0
	VMOVUPS    (AX)(R8*1), Y1
	VMOVUPS    (AX)(R8*2), Y2
	VMOVUPS    (AX)(R10*1), Y3
	LEAQ       (AX)(R8*4), AX
	VMOVUPS    (AX), Y4
	VMOVUPS    (AX)(R8*1), Y5
	VUNPCKLPS  Y1, Y0, Y8
	VUNPCKHPS  Y1, Y0, Y9
	VUNPCKLPS  Y3, Y2, Y10
	VUNPCKHPS  Y3, Y2, Y11
	VUNPCKLPS  Y5, Y4, Y12
	VUNPCKHPS  Y5, Y4, Y13
	VSHUFPS    $0x44, Y10, Y8, Y0
	VSHUFPS    $0xEE, Y10, Y8, Y1
	VSHUFPS    $0x44, Y11, Y9, Y2
	VSHUFPS    $0xEE, Y11, Y9, Y3
	VSHUFPS    $0x44, Y6, Y12, Y4
	VSHUFPS    $0xEE, Y6, Y12, Y5
	VSHUFPS    $0x44, Y6, Y13, Y7
	VSHUFPS    $0xEE, Y6, Y13, Y15
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y7, Y2, Y10
	VPERM2F128 $0x20, Y15, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y7, Y2, Y14
	VPERM2F128 $0x31, Y15, Y3, Y15
	VMOVUPS    Y8, (DI)
	VMOVUPS    Y9, 24(DI)
	VMOVUPS    Y10, 48(DI)
	VMOVUPS    Y11, 72(DI)
	VMOVUPS    Y12, 96(DI)
	VMOVUPS    Y13, 120(DI)
	VMOVUPS    Y14, 144(DI)
	VMOVUPS    Y15, 168(DI)
	ADDQ       $32, SI
	ADDQ       $192, DI
	DECQ       CX
	JNZ        p6loop

p6done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// biasActAVX2 adds bias[0:n] to row[0:n] and, when relu != 0, applies
// max(x, 0) as Go's max does it: a NaN becomes Go's NaN (0x7fc00000,
// blended in where x is unordered), and -0 becomes +0 (adding +0 after
// the max).
// n is a multiple of 8. The caller checks bounds.
//
// func biasActAVX2(n int, row, bias *float32, relu int)
TEXT ·biasActAVX2(SB), NOSPLIT, $0-32
	MOVQ   n+0(FP), CX
	MOVQ   row+8(FP), DI
	MOVQ   bias+16(FP), SI
	MOVQ   relu+24(FP), AX
	VXORPS Y15, Y15, Y15
	MOVL   $0x7fc00000, BX
	VMOVD  BX, X14
	VBROADCASTSS X14, Y14
	SHRQ   $3, CX
	JEQ    badone
	TESTQ  AX, AX
	JNE    barelu

baloop:
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     baloop
	JMP     badone

barelu:
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMAXPS  Y0, Y15, Y1
	VADDPS  Y15, Y1, Y1
	VCMPPS  $3, Y0, Y0, Y2
	VBLENDVPS Y2, Y14, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     barelu

badone:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// packB16AVX2 packs np whole 16-column micro-panels of B stored k×n,
// reading B row by row: for q < kc, i < np, c < 16:
//   dst[i*pstride + q*16 + c] = src[q*ldb + 16*i + c]
// One pass reads each row of the block contiguously (np·64 bytes), so
// the hardware prefetchers follow it; the panel-by-panel order read 64
// bytes per row, a new page for every row of a large B. The caller
// checks bounds.
//
// func packB16AVX2(kc int, src *float32, ldb int, np int, dst *float32, pstride int)
TEXT ·packB16AVX2(SB), NOSPLIT, $0-48
	MOVQ  kc+0(FP), CX
	MOVQ  src+8(FP), SI
	MOVQ  ldb+16(FP), R8
	SHLQ  $2, R8
	MOVQ  np+24(FP), R11
	MOVQ  dst+32(FP), DI
	MOVQ  pstride+40(FP), R9
	SHLQ  $2, R9
	TESTQ CX, CX
	JEQ   pbdone
	TESTQ R11, R11
	JEQ   pbdone

pbrow:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R11, DX

pbpanel:
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS Y0, (BX)
	VMOVUPS Y1, 32(BX)
	ADDQ    $64, AX
	ADDQ    R9, BX
	DECQ    DX
	JNZ     pbpanel

	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  pbrow

pbdone:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// func prefetchLines(p uintptr, lines int)
//
// Asks for lines cache lines of 64 bytes from p on (PREFETCHT0), reading
// nothing and faulting on no address: the driver prefetches the next
// packed B micro-panel a few lines per micro-kernel call.
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ  p+0(FP), SI
	MOVQ  lines+8(FP), CX
	TESTQ CX, CX
	JLE   pfdone

pfloop:
	PREFETCHT0 (SI)
	ADDQ       $64, SI
	DECQ       CX
	JNZ        pfloop

pfdone:
	RET

// ---------------------------------------------------------------------------
// packAT6AVX2 packs np whole 6-row micro-panels of A stored k×m (op(A) =
// Aᵀ), kc depth steps of each: for i < np, q < kc, c < 6:
//   dst[i*pstride + q*6 + c] = src[q*lds + 6*i + c]
// Panel by panel, a 16-byte and an 8-byte move per depth step; the caller
// (packATRows) hands it a few depth steps at a time, whose rows stay in
// L1 while every panel takes its run. The caller checks bounds.
//
// func packAT6AVX2(kc int, src *float32, lds int, np int, dst *float32, pstride int)
TEXT ·packAT6AVX2(SB), NOSPLIT, $0-48
	MOVQ  kc+0(FP), CX
	MOVQ  src+8(FP), SI
	MOVQ  lds+16(FP), R8
	SHLQ  $2, R8
	MOVQ  np+24(FP), R11
	MOVQ  dst+32(FP), DI
	MOVQ  pstride+40(FP), R9
	SHLQ  $2, R9
	TESTQ CX, CX
	JEQ   patdone
	TESTQ R11, R11
	JEQ   patdone

patpanel:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ CX, DX

patrow:
	VMOVUPS (AX), X0
	MOVQ    16(AX), R10
	VMOVUPS X0, (BX)
	MOVQ    R10, 16(BX)
	ADDQ    R8, AX
	ADDQ    $24, BX
	DECQ    DX
	JNZ     patrow

	ADDQ $24, SI
	ADDQ R9, DI
	DECQ R11
	JNZ  patpanel

patdone:
	RET

// dotmask: 8 zero words then 8 all-ones; from word r, the mask of the
// last r lanes (the k mod 8 last depth steps of a dot product, read as
// the 8 floats that end at k: the lanes before them were summed).
DATA dotmask<>+0(SB)/8, $0
DATA dotmask<>+8(SB)/8, $0
DATA dotmask<>+16(SB)/8, $0
DATA dotmask<>+24(SB)/8, $0
DATA dotmask<>+32(SB)/8, $-1
DATA dotmask<>+40(SB)/8, $-1
DATA dotmask<>+48(SB)/8, $-1
DATA dotmask<>+56(SB)/8, $-1
GLOBL dotmask<>(SB), RODATA|NOPTR, $64

// The 4×3 dot micro-kernel, written once (DOT4X3*), run by two entries:
// dotNT4x3AVX2 (gemm's small batches: rows lda apart, tiles down C) and
// Dot4x3AVX2 (backend/cpu's convolution weight gradients: rows by
// pointer, sums over segments). Rows i < 4 of A at SI, DI, R8, R9, rows
// j < 3 of B at R10, R11, R12, k ≥ 8 in CX; accumulator i·3+j in Y(3i+j)
// (8 lanes: lane l takes the depth steps q ≡ l mod 8 in order, by FMA).

// DOT4X3ZERO clears the 12 accumulators.
#define DOT4X3ZERO \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; \
	VXORPS Y8, Y8, Y8; \
	VXORPS Y9, Y9, Y9; \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11

// DOT4X3BLOCK adds the 8 depth steps at byte AX.
#define DOT4X3BLOCK \
	VMOVUPS     (R10)(AX*1), Y12; \
	VMOVUPS     (R11)(AX*1), Y13; \
	VMOVUPS     (R12)(AX*1), Y14; \
	VMOVUPS     (SI)(AX*1), Y15; \
	VFMADD231PS Y12, Y15, Y0; \
	VFMADD231PS Y13, Y15, Y1; \
	VFMADD231PS Y14, Y15, Y2; \
	VMOVUPS     (DI)(AX*1), Y15; \
	VFMADD231PS Y12, Y15, Y3; \
	VFMADD231PS Y13, Y15, Y4; \
	VFMADD231PS Y14, Y15, Y5; \
	VMOVUPS     (R8)(AX*1), Y15; \
	VFMADD231PS Y12, Y15, Y6; \
	VFMADD231PS Y13, Y15, Y7; \
	VFMADD231PS Y14, Y15, Y8; \
	VMOVUPS     (R9)(AX*1), Y15; \
	VFMADD231PS Y12, Y15, Y9; \
	VFMADD231PS Y13, Y15, Y10; \
	VFMADD231PS Y14, Y15, Y11

// DOT4X3TAIL adds the DX = k mod 8 (> 0) last depth steps: the 8 floats
// that end at k, B's masked to the last DX lanes. Clobbers AX.
#define DOT4X3TAIL \
	LEAQ        dotmask<>(SB), AX; \
	VMOVUPS     (AX)(DX*4), Y15; \
	MOVQ        CX, AX; \
	SUBQ        $8, AX; \
	SHLQ        $2, AX; \
	VANDPS      (R10)(AX*1), Y15, Y12; \
	VANDPS      (R11)(AX*1), Y15, Y13; \
	VANDPS      (R12)(AX*1), Y15, Y14; \
	VFMADD231PS (SI)(AX*1), Y12, Y0; \
	VFMADD231PS (SI)(AX*1), Y13, Y1; \
	VFMADD231PS (SI)(AX*1), Y14, Y2; \
	VFMADD231PS (DI)(AX*1), Y12, Y3; \
	VFMADD231PS (DI)(AX*1), Y13, Y4; \
	VFMADD231PS (DI)(AX*1), Y14, Y5; \
	VFMADD231PS (R8)(AX*1), Y12, Y6; \
	VFMADD231PS (R8)(AX*1), Y13, Y7; \
	VFMADD231PS (R8)(AX*1), Y14, Y8; \
	VFMADD231PS (R9)(AX*1), Y12, Y9; \
	VFMADD231PS (R9)(AX*1), Y13, Y10; \
	VFMADD231PS (R9)(AX*1), Y14, Y11

// DOT4X3REDUCE sums each accumulator's lanes pairwise, (l0+l1)+(l2+l3)
// and the same of l4…l7, added: column j of the tile (rows 0…3) in X12,
// X14, X0.
#define DOT4X3REDUCE \
	VHADDPS      Y3, Y0, Y12; \
	VHADDPS      Y9, Y6, Y13; \
	VHADDPS      Y13, Y12, Y12; \
	VEXTRACTF128 $1, Y12, X13; \
	VADDPS       X13, X12, X12; \
	VHADDPS      Y4, Y1, Y14; \
	VHADDPS      Y10, Y7, Y13; \
	VHADDPS      Y13, Y14, Y14; \
	VEXTRACTF128 $1, Y14, X13; \
	VADDPS       X13, X14, X14; \
	VHADDPS      Y5, Y2, Y0; \
	VHADDPS      Y11, Y8, Y13; \
	VHADDPS      Y13, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X13; \
	VADDPS       X13, X0, X0

// DOT4X3ADDC adds the tile's C (rows at BX, AX, DI, R8) into X12, X14, X0.
#define DOT4X3ADDC \
	VMOVSS    (BX), X13; \
	VINSERTPS $0x10, (AX), X13, X13; \
	VINSERTPS $0x20, (DI), X13, X13; \
	VINSERTPS $0x30, (R8), X13, X13; \
	VADDPS    X13, X12, X12; \
	VMOVSS    4(BX), X13; \
	VINSERTPS $0x10, 4(AX), X13, X13; \
	VINSERTPS $0x20, 4(DI), X13, X13; \
	VINSERTPS $0x30, 4(R8), X13, X13; \
	VADDPS    X13, X14, X14; \
	VMOVSS    8(BX), X13; \
	VINSERTPS $0x10, 8(AX), X13, X13; \
	VINSERTPS $0x20, 8(DI), X13, X13; \
	VINSERTPS $0x30, 8(R8), X13, X13; \
	VADDPS    X13, X0, X0

// DOT4X3STORE writes X12, X14, X0 to the tile of C (rows at BX, AX, DI, R8).
#define DOT4X3STORE \
	VMOVSS     X12, (BX); \
	VMOVSS     X14, 4(BX); \
	VMOVSS     X0, 8(BX); \
	VEXTRACTPS $1, X12, (AX); \
	VEXTRACTPS $1, X14, 4(AX); \
	VEXTRACTPS $1, X0, 8(AX); \
	VEXTRACTPS $2, X12, (DI); \
	VEXTRACTPS $2, X14, 4(DI); \
	VEXTRACTPS $2, X0, 8(DI); \
	VEXTRACTPS $3, X12, (R8); \
	VEXTRACTPS $3, X14, 4(R8); \
	VEXTRACTPS $3, X0, 8(R8)

// func dotNT4x3AVX2(k int, a *float32, lda, tiles int, b *float32, ldb int, c *float32, ldc, acc int)
// For t < tiles (≥ 1), rows i < 4 of A (a + (4t+i)·lda) and rows j < 3 of
// B (b + j·ldb), k ≥ 8 floats each (strides in floats):
//   c[(4t+i)·ldc + j] = (acc ? c[…] : 0) + Σ_q a[(4t+i)·lda+q]·b[j·ldb+q]
// The bits are Dot4x3AVX2's with one segment.
TEXT ·dotNT4x3AVX2(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R15
	SHLQ $2, R15
	MOVQ b+32(FP), R10
	MOVQ ldb+40(FP), DX
	SHLQ $2, DX
	LEAQ (R10)(DX*1), R11
	LEAQ (R11)(DX*1), R12
	MOVQ c+48(FP), BX
	MOVQ ldc+56(FP), R14
	SHLQ $2, R14
	MOVQ tiles+24(FP), R13

dnttile:
	LEAQ (SI)(R15*1), DI
	LEAQ (DI)(R15*1), R8
	LEAQ (R8)(R15*1), R9
	DOT4X3ZERO
	MOVQ CX, DX
	SHRQ $3, DX
	XORQ AX, AX

dntloop:
	DOT4X3BLOCK
	ADDQ $32, AX
	DECQ DX
	JNZ  dntloop

	MOVQ CX, DX
	ANDQ $7, DX
	JZ   dntreduce
	DOT4X3TAIL

dntreduce:
	DOT4X3REDUCE

	// Rows of C at BX, AX, DI, R8.
	LEAQ  (BX)(R14*1), AX
	LEAQ  (AX)(R14*1), DI
	LEAQ  (DI)(R14*1), R8
	MOVQ  acc+64(FP), DX
	TESTQ DX, DX
	JZ    dntstore
	DOT4X3ADDC

dntstore:
	DOT4X3STORE
	LEAQ (R9)(R15*1), SI
	LEAQ (R8)(R14*1), BX
	DECQ R13
	JNZ  dnttile
	VZEROUPPER
	RET

// func Dot4x3AVX2(k, nseg, astride, bstride int, a *[4]*float32, b *[3]*float32, tiles, atile int, c *float32, ldc, acc int)
// For t < tiles (≥ 1), the 4×3 tile of dot products of rows i < 4 of A
// (a[i] + t·atile) with rows j < 3 of B (b[j]), each over nseg ≥ 1
// segments s of k ≥ 8 floats (A's at s·astride, B's at s·bstride;
// strides and atile in bytes):
//   c[(4t+i)·ldc + j] = (acc ? c[…] : 0) + Σ_s Σ_q a_i[s·astride+q]·b_j[s·bstride+q]
// (ldc in floats). The bits depend on the rows of A and B, k and nseg
// only. (Every tile reloads its row pointers: its users run one tile a
// call.)
TEXT ·Dot4x3AVX2(SB), NOSPLIT, $0-88
	MOVQ k+0(FP), CX
	MOVQ c+64(FP), BX
	MOVQ tiles+48(FP), R15
	XORQ R14, R14 // A's offset of the tile

dottile:
	MOVQ a+32(FP), AX
	MOVQ 0(AX), SI
	MOVQ 8(AX), DI
	MOVQ 16(AX), R8
	MOVQ 24(AX), R9
	ADDQ R14, SI
	ADDQ R14, DI
	ADDQ R14, R8
	ADDQ R14, R9
	MOVQ b+40(FP), AX
	MOVQ 0(AX), R10
	MOVQ 8(AX), R11
	MOVQ 16(AX), R12
	DOT4X3ZERO
	MOVQ nseg+8(FP), R13

dotseg:
	MOVQ CX, DX
	SHRQ $3, DX
	XORQ AX, AX

dotloop:
	DOT4X3BLOCK
	ADDQ $32, AX
	DECQ DX
	JNZ  dotloop

	MOVQ CX, DX
	ANDQ $7, DX
	JZ   dotnext
	DOT4X3TAIL

dotnext:
	DECQ R13
	JZ   dotreduce
	MOVQ astride+16(FP), DX
	ADDQ DX, SI
	ADDQ DX, DI
	ADDQ DX, R8
	ADDQ DX, R9
	MOVQ bstride+24(FP), DX
	ADDQ DX, R10
	ADDQ DX, R11
	ADDQ DX, R12
	JMP  dotseg

dotreduce:
	DOT4X3REDUCE

	// Rows of C at BX, AX, DI, R8.
	MOVQ  ldc+72(FP), DX
	SHLQ  $2, DX
	LEAQ  (BX)(DX*1), AX
	LEAQ  (AX)(DX*1), DI
	LEAQ  (DI)(DX*1), R8
	MOVQ  acc+80(FP), R13
	TESTQ R13, R13
	JZ    dotstore
	DOT4X3ADDC

dotstore:
	DOT4X3STORE
	LEAQ (R8)(DX*1), BX
	ADDQ atile+56(FP), R14
	DECQ R15
	JNZ  dottile
	VZEROUPPER
	RET
