//go:build amd64

#include "textflag.h"

// BINF32 is the body of an elementwise binary op over n (a multiple of
// 8) floats: o[i] = x[i] op y[i], 32 then 8 at a time; x is the first
// source operand of the instruction, as in the compiled scalar loop (the
// same NaN is kept).
#define BINF32(OP, L32, L8, DONE) \
	MOVQ o+0(FP), DI           \
	MOVQ x+8(FP), SI           \
	MOVQ y+16(FP), DX          \
	MOVQ n+24(FP), CX          \
	SHLQ $2, CX                \
	MOVQ CX, R10               \
	ANDQ $-128, R10            \
	XORQ AX, AX                \
L32:                           \
	CMPQ    AX, R10            \
	JGE     L8                 \
	VMOVUPS (SI)(AX*1), Y0     \
	VMOVUPS 32(SI)(AX*1), Y1   \
	VMOVUPS 64(SI)(AX*1), Y2   \
	VMOVUPS 96(SI)(AX*1), Y3   \
	OP      (DX)(AX*1), Y0, Y0 \
	OP      32(DX)(AX*1), Y1, Y1 \
	OP      64(DX)(AX*1), Y2, Y2 \
	OP      96(DX)(AX*1), Y3, Y3 \
	VMOVUPS Y0, (DI)(AX*1)     \
	VMOVUPS Y1, 32(DI)(AX*1)   \
	VMOVUPS Y2, 64(DI)(AX*1)   \
	VMOVUPS Y3, 96(DI)(AX*1)   \
	ADDQ    $128, AX           \
	JMP     L32                \
L8:                            \
	CMPQ    AX, CX             \
	JGE     DONE               \
	VMOVUPS (SI)(AX*1), Y0     \
	OP      (DX)(AX*1), Y0, Y0 \
	VMOVUPS Y0, (DI)(AX*1)     \
	ADDQ    $32, AX            \
	JMP     L8                 \
DONE:                          \
	VZEROUPPER                 \
	RET

// func addF32AVX2(o, x, y *float32, n int)
TEXT ·addF32AVX2(SB), NOSPLIT, $0-32
	BINF32(VADDPS, add32, add8, adddone)

// func subF32AVX2(o, x, y *float32, n int)
TEXT ·subF32AVX2(SB), NOSPLIT, $0-32
	BINF32(VSUBPS, sub32, sub8, subdone)

// func mulF32AVX2(o, x, y *float32, n int)
TEXT ·mulF32AVX2(SB), NOSPLIT, $0-32
	BINF32(VMULPS, mul32, mul8, muldone)
