//go:build amd64

#include "textflag.h"

// ---------------------------------------------------------------------------
// Attention's per-item products without packing A: 6×16 tiles of
// C = op(A)·B with the FMA chains of gemm's sgemmAVX2x6x16 (element (i, j)
// is Σ_p A(i,p)·B(p,j) accumulated in p order from 0), so the results are
// those of gemm.Sgemm for K ≤ 256, bit for bit. Registers: Y0, Y1 hold a
// B row, Y2, Y3 broadcast A elements, Y4–Y15 are the 12 accumulators.

#define ATTNFMA(r0, r1) \
	VFMADD231PS Y0, Y2, r0; \
	VFMADD231PS Y1, Y2, r1

#define ATTNBROW \
	VMOVUPS (DI), Y0;   \
	VMOVUPS 32(DI), Y1; \
	ADDQ    R10, DI

// One depth step of attnRowsAVX2 at byte offset o of the six row pointers.
#define ATTNRSTEP(o) \
	ATTNBROW;                  \
	VBROADCASTSS o(SI), Y2;    \
	ATTNFMA(Y4, Y5);           \
	VBROADCASTSS o(R11), Y2;   \
	ATTNFMA(Y6, Y7);           \
	VBROADCASTSS o(R12), Y2;   \
	ATTNFMA(Y8, Y9);           \
	VBROADCASTSS o(R13), Y2;   \
	ATTNFMA(Y10, Y11);         \
	VBROADCASTSS o(AX), Y2;    \
	ATTNFMA(Y12, Y13);         \
	VBROADCASTSS o(BX), Y2;    \
	ATTNFMA(Y14, Y15)

#define ATTNZERO \
	VXORPS Y4, Y4, Y4;    \
	VXORPS Y5, Y5, Y5;    \
	VXORPS Y6, Y6, Y6;    \
	VXORPS Y7, Y7, Y7;    \
	VXORPS Y8, Y8, Y8;    \
	VXORPS Y9, Y9, Y9;    \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11; \
	VXORPS Y12, Y12, Y12; \
	VXORPS Y13, Y13, Y13; \
	VXORPS Y14, Y14, Y14; \
	VXORPS Y15, Y15, Y15

#define ATTNSTORE(r0, r1) \
	VMOVUPS r0, (DX);   \
	VMOVUPS r1, 32(DX); \
	ADDQ    R8, DX

// func attnRowsAVX2(kc int, a *float32, lda, rows int, b *float32, ldb int, c *float32, ldc int)
//
// C[0:rows, 0:16] = A[0:rows, 0:kc]·B[0:kc, 0:16]: A row-major (row r at
// a + r·lda), B rows ldb apart, C rows ldc apart; 1 ≤ rows ≤ 6 (rows past
// the last repeat it and are not stored), kc ≥ 1.
TEXT ·attnRowsAVX2(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	SHLQ $2, R9
	MOVQ rows+24(FP), R14
	MOVQ b+32(FP), DI
	MOVQ ldb+40(FP), R10
	SHLQ $2, R10
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R8

	// Row pointers, each the previous one plus lda while it is a row.
	MOVQ SI, R11
	CMPQ R14, $2
	JLT  rp1
	ADDQ R9, R11
rp1:
	MOVQ R11, R12
	CMPQ R14, $3
	JLT  rp2
	ADDQ R9, R12
rp2:
	MOVQ R12, R13
	CMPQ R14, $4
	JLT  rp3
	ADDQ R9, R13
rp3:
	MOVQ R13, AX
	CMPQ R14, $5
	JLT  rp4
	ADDQ R9, AX
rp4:
	MOVQ AX, BX
	CMPQ R14, $6
	JLT  rp5
	ADDQ R9, BX
rp5:

	ATTNZERO
	CMPQ CX, $4
	JLT  rtail

rloop4:
	ATTNRSTEP(0)
	ATTNRSTEP(4)
	ATTNRSTEP(8)
	ATTNRSTEP(12)
	ADDQ $16, SI
	ADDQ $16, R11
	ADDQ $16, R12
	ADDQ $16, R13
	ADDQ $16, AX
	ADDQ $16, BX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  rloop4

rtail:
	TESTQ CX, CX
	JEQ   rstore

rloop1:
	ATTNRSTEP(0)
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ $4, AX
	ADDQ $4, BX
	DECQ CX
	JNZ  rloop1

rstore:
	ATTNSTORE(Y4, Y5)
	DECQ R14
	JEQ  rdone
	ATTNSTORE(Y6, Y7)
	DECQ R14
	JEQ  rdone
	ATTNSTORE(Y8, Y9)
	DECQ R14
	JEQ  rdone
	ATTNSTORE(Y10, Y11)
	DECQ R14
	JEQ  rdone
	ATTNSTORE(Y12, Y13)
	DECQ R14
	JEQ  rdone
	ATTNSTORE(Y14, Y15)

rdone:
	VZEROUPPER
	RET

// One depth step of attnColsAVX2: the six A elements are contiguous at SI.
#define ATTNCSTEP \
	ATTNBROW;                  \
	VBROADCASTSS (SI), Y2;     \
	ATTNFMA(Y4, Y5);           \
	VBROADCASTSS 4(SI), Y2;    \
	ATTNFMA(Y6, Y7);           \
	VBROADCASTSS 8(SI), Y2;    \
	ATTNFMA(Y8, Y9);           \
	VBROADCASTSS 12(SI), Y2;   \
	ATTNFMA(Y10, Y11);         \
	VBROADCASTSS 16(SI), Y2;   \
	ATTNFMA(Y12, Y13);         \
	VBROADCASTSS 20(SI), Y2;   \
	ATTNFMA(Y14, Y15);         \
	ADDQ R9, SI

// func attnColsAVX2(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)
//
// C[0:6, 0:16] = Aᵀ[0:6, 0:kc]·B[0:kc, 0:16] for A stored kc×6 (row p at
// a + p·lda, its six elements contiguous), B rows ldb apart, C rows ldc
// apart; kc ≥ 1.
TEXT ·attnColsAVX2(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	SHLQ $2, R9
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R10
	SHLQ $2, R10
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8

	ATTNZERO
	CMPQ CX, $4
	JLT  ctail

cloop4:
	ATTNCSTEP
	ATTNCSTEP
	ATTNCSTEP
	ATTNCSTEP
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  cloop4

ctail:
	TESTQ CX, CX
	JEQ   cstore

cloop1:
	ATTNCSTEP
	DECQ CX
	JNZ  cloop1

cstore:
	ATTNSTORE(Y4, Y5)
	ATTNSTORE(Y6, Y7)
	ATTNSTORE(Y8, Y9)
	ATTNSTORE(Y10, Y11)
	ATTNSTORE(Y12, Y13)
	ATTNSTORE(Y14, Y15)
	VZEROUPPER
	RET

// One depth step of attnCols4AVX2: the four A elements are contiguous at
// SI.
#define ATTNC4STEP \
	ATTNBROW;                  \
	VBROADCASTSS (SI), Y2;     \
	ATTNFMA(Y4, Y5);           \
	VBROADCASTSS 4(SI), Y2;    \
	ATTNFMA(Y6, Y7);           \
	VBROADCASTSS 8(SI), Y2;    \
	ATTNFMA(Y8, Y9);           \
	VBROADCASTSS 12(SI), Y2;   \
	ATTNFMA(Y10, Y11);         \
	ADDQ R9, SI

// func attnCols4AVX2(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)
//
// attnColsAVX2 for four rows of C: C[0:4, 0:16] = Aᵀ·B for A stored kc×4
// (its four elements of a depth step contiguous), the same FMA chains;
// kc ≥ 1.
TEXT ·attnCols4AVX2(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	SHLQ $2, R9
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R10
	SHLQ $2, R10
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8

	ATTNZERO
	CMPQ CX, $4
	JLT  c4tail

c4loop4:
	ATTNC4STEP
	ATTNC4STEP
	ATTNC4STEP
	ATTNC4STEP
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  c4loop4

c4tail:
	TESTQ CX, CX
	JEQ   c4store

c4loop1:
	ATTNC4STEP
	DECQ CX
	JNZ  c4loop1

c4store:
	ATTNSTORE(Y4, Y5)
	ATTNSTORE(Y6, Y7)
	ATTNSTORE(Y8, Y9)
	ATTNSTORE(Y10, Y11)
	VZEROUPPER
	RET

// Sum of the four lanes of Xr as dotF32 combines its running sums,
// (s0+s1)+(s2+s3), broadcast into Yb (Xt is scratch).
#define DSHSUM(Xr, Xt, Yb) \
	VMOVSHDUP    Xr, Xt;     \
	VADDPS       Xt, Xr, Xr; \
	VMOVHLPS     Xr, Xr, Xt; \
	VADDSS       Xt, Xr, Xr; \
	VBROADCASTSS Xr, Yb

// ds = p·(ds − dot)·scale for the eight elements at AX of the row at
// (pr, dr), dot broadcast in Yd.
#define DSAPPLY(pr, dr, Yd) \
	VMOVUPS (dr)(AX*4), Y1; \
	VSUBPS  Yd, Y1, Y1;     \
	VMULPS  (pr)(AX*4), Y1, Y1; \
	VMULPS  Y7, Y1, Y1;     \
	VMOVUPS Y1, (dr)(AX*4)

// func attnDsAVX2(p, ds *float32, ld, rows, n int, scale float32)
//
// attention_backward's score gradients in place, row by row (rows ld
// apart): dot = Σ ds·p with four running sums (lane i%4, multiply then
// add, combined as (s0+s1)+(s2+s3): dotF32's order), then ds = p·(ds −
// dot)·scale. n is a multiple of 8, ≥ 8. Four rows at a time, their dot
// chains interleaved (one row's chain waits on the adds' latency), then
// one row at a time.
TEXT ·attnDsAVX2(SB), NOSPLIT, $0-44
	MOVQ         p+0(FP), SI
	MOVQ         ds+8(FP), DI
	MOVQ         ld+16(FP), R8
	SHLQ         $2, R8
	MOVQ         rows+24(FP), R9
	MOVQ         n+32(FP), R10
	VBROADCASTSS scale+40(FP), Y7
	CMPQ         R9, $4
	JLT          dsrest

ds4row:
	// Rows SI/DI, R11/R12, R13/R14, BX/DX.
	LEAQ   (SI)(R8*1), R11
	LEAQ   (DI)(R8*1), R12
	LEAQ   (R11)(R8*1), R13
	LEAQ   (R12)(R8*1), R14
	LEAQ   (R13)(R8*1), BX
	LEAQ   (R14)(R8*1), DX
	VXORPS X0, X0, X0
	VXORPS X2, X2, X2
	VXORPS X3, X3, X3
	VXORPS X4, X4, X4
	XORQ   AX, AX

ds4dot:
	VMOVUPS (DI)(AX*4), X1
	VMULPS  (SI)(AX*4), X1, X1
	VADDPS  X1, X0, X0
	VMOVUPS (R12)(AX*4), X5
	VMULPS  (R11)(AX*4), X5, X5
	VADDPS  X5, X2, X2
	VMOVUPS (R14)(AX*4), X1
	VMULPS  (R13)(AX*4), X1, X1
	VADDPS  X1, X3, X3
	VMOVUPS (DX)(AX*4), X5
	VMULPS  (BX)(AX*4), X5, X5
	VADDPS  X5, X4, X4
	ADDQ    $4, AX
	CMPQ    AX, R10
	JLT     ds4dot

	DSHSUM(X0, X1, Y6)
	DSHSUM(X2, X1, Y8)
	DSHSUM(X3, X1, Y9)
	DSHSUM(X4, X1, Y10)
	XORQ AX, AX

ds4apply:
	DSAPPLY(SI, DI, Y6)
	DSAPPLY(R11, R12, Y8)
	DSAPPLY(R13, R14, Y9)
	DSAPPLY(BX, DX, Y10)
	ADDQ $8, AX
	CMPQ AX, R10
	JLT  ds4apply

	LEAQ (BX)(R8*1), SI
	LEAQ (DX)(R8*1), DI
	SUBQ $4, R9
	CMPQ R9, $4
	JGE  ds4row

dsrest:
	TESTQ R9, R9
	JEQ   dsdone

dsrow:
	VXORPS X0, X0, X0
	XORQ   AX, AX

dsdot:
	VMOVUPS (DI)(AX*4), X1
	VMULPS  (SI)(AX*4), X1, X1
	VADDPS  X1, X0, X0
	ADDQ    $4, AX
	CMPQ    AX, R10
	JLT     dsdot

	DSHSUM(X0, X1, Y6)
	XORQ AX, AX

dsapply:
	DSAPPLY(SI, DI, Y6)
	ADDQ $8, AX
	CMPQ AX, R10
	JLT  dsapply

	ADDQ R8, SI
	ADDQ R8, DI
	DECQ R9
	JNZ  dsrow

dsdone:
	VZEROUPPER
	RET

// func prefetchRows(p *float32, rows, ld, n int)
// PREFETCHT0 of the cache lines of rows rows of n floats, ld floats apart
// (rows, n ≥ 1).
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ n+24(FP), R9
	SHLQ $2, R9
	DECQ R9 // the row's last byte

pfrow:
	XORQ AX, AX

pfline:
	PREFETCHT0 (SI)(AX*1)
	ADDQ       $64, AX
	CMPQ       AX, R9
	JLE        pfline
	PREFETCHT0 (SI)(R9*1)
	ADDQ       R8, SI
	DECQ       CX
	JNZ        pfrow
	RET


// func copyScaleRowsAVX2(dst, src *float32, rows, n, dstride, sstride int, a float32)
// dst = src·a for rows pieces of n ≥ 8 floats, 8 at a time (the last 8
// overlapping the previous ones when n is not a multiple of 8: the same
// products again); strides in floats. Each element is one VMULPS, as
// scaleF32 computes it.
TEXT ·copyScaleRowsAVX2(SB), NOSPLIT, $0-52
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         rows+16(FP), CX
	MOVQ         n+24(FP), R10
	MOVQ         dstride+32(FP), R8
	MOVQ         sstride+40(FP), R9
	VBROADCASTSS a+48(FP), Y1
	SHLQ         $2, R8
	SHLQ         $2, R9
	SHLQ         $2, R10
	SUBQ         $32, R10 // the last block's offset
	TESTQ        CX, CX
	JZ           csdone

csrow:
	XORQ AX, AX

csblock:
	CMPQ    AX, R10
	JGE     cslast
	VMULPS  (SI)(AX*1), Y1, Y0
	VMOVUPS Y0, (DI)(AX*1)
	ADDQ    $32, AX
	JMP     csblock

cslast:
	VMULPS  (SI)(R10*1), Y1, Y0
	VMOVUPS Y0, (DI)(R10*1)
	ADDQ    R8, DI
	ADDQ    R9, SI
	DECQ    CX
	JNZ     csrow

csdone:
	VZEROUPPER
	RET
