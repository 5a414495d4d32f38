#include "textflag.h"

// func im2colHalfAVX2(dst *uint8, src *uint8, words *int32, nw int, gather *int32, ng int)
//
// Eight consecutive pixels (stride 1, one output row) of the
// channel-major int8 im2col (conv_int8.go): src is pixel 0's patch
// corner, dst its k group 0 in the A panel (groups 64 bytes apart, pixel
// p at 4p). A word group at offset o holds bytes o+p … o+p+3 for pixel
// p: one 16-byte load broadcast to both lanes and one vpshufb (lane 0
// pixels 0–3, lane 1 pixels 4–7). A gathered group (4 offsets) holds
// byte o_b+p as tap b of pixel p: four 8-byte loads interleaved by
// bytes, then by words.
DATA im2colpat<>+0(SB)/8, $0x0403020103020100
DATA im2colpat<>+8(SB)/8, $0x0605040305040302
DATA im2colpat<>+16(SB)/8, $0x0807060507060504
DATA im2colpat<>+24(SB)/8, $0x0a09080709080706
GLOBL im2colpat<>(SB), RODATA|NOPTR, $32

TEXT ·im2colHalfAVX2(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    words+16(FP), BX
	MOVQ    nw+24(FP), CX
	VMOVDQU im2colpat<>(SB), Y15
	TESTQ   CX, CX
	JZ      gather

words:
	MOVLQSX        (BX), AX
	VBROADCASTI128 (SI)(AX*1), Y0
	VPSHUFB        Y15, Y0, Y0
	VMOVDQU        Y0, (DI)
	ADDQ           $4, BX
	ADDQ           $64, DI
	DECQ           CX
	JNZ            words

gather:
	MOVQ  gather+32(FP), BX
	MOVQ  ng+40(FP), CX
	TESTQ CX, CX
	JZ    done

gloop:
	MOVLQSX    (BX), AX
	VMOVQ      (SI)(AX*1), X0
	MOVLQSX    4(BX), AX
	VMOVQ      (SI)(AX*1), X1
	MOVLQSX    8(BX), AX
	VMOVQ      (SI)(AX*1), X2
	MOVLQSX    12(BX), AX
	VMOVQ      (SI)(AX*1), X3
	VPUNPCKLBW X1, X0, X4
	VPUNPCKLBW X3, X2, X5
	VPUNPCKLWD X5, X4, X6
	VPUNPCKHWD X5, X4, X7
	VMOVDQU    X6, (DI)
	VMOVDQU    X7, 16(DI)
	ADDQ       $16, BX
	ADDQ       $64, DI
	DECQ       CX
	JNZ        gloop

done:
	VZEROUPPER
	RET

// func im2colHalf2AVX2(dst *uint8, src1, src2 *uint8, words *int32, nw int, gather *int32, ng int, mask *[32]byte)
//
// im2colHalfAVX2 for eight pixels that cross an output row: pixel p
// reads from src1+p where mask's lane p is 0 and from src2+p where it
// is all ones (both computed, then blended).
TEXT ·im2colHalf2AVX2(SB), NOSPLIT, $0-64
	MOVQ    dst+0(FP), DI
	MOVQ    src1+8(FP), SI
	MOVQ    src2+16(FP), DX
	MOVQ    words+24(FP), BX
	MOVQ    nw+32(FP), CX
	MOVQ    mask+56(FP), AX
	VMOVDQU (AX), Y14
	VMOVDQU im2colpat<>(SB), Y15
	TESTQ   CX, CX
	JZ      gather2

words2:
	MOVLQSX        (BX), AX
	VBROADCASTI128 (SI)(AX*1), Y0
	VBROADCASTI128 (DX)(AX*1), Y1
	VPSHUFB        Y15, Y0, Y0
	VPSHUFB        Y15, Y1, Y1
	VPBLENDVB      Y14, Y1, Y0, Y0
	VMOVDQU        Y0, (DI)
	ADDQ           $4, BX
	ADDQ           $64, DI
	DECQ           CX
	JNZ            words2

gather2:
	MOVQ  gather+40(FP), BX
	MOVQ  ng+48(FP), CX
	TESTQ CX, CX
	JZ    done2

gloop2:
	MOVLQSX        (BX), AX
	VMOVQ          (SI)(AX*1), X0
	VPINSRQ        $1, (DX)(AX*1), X0, X0
	MOVLQSX        4(BX), AX
	VMOVQ          (SI)(AX*1), X1
	VPINSRQ        $1, (DX)(AX*1), X1, X1
	MOVLQSX        8(BX), AX
	VMOVQ          (SI)(AX*1), X2
	VPINSRQ        $1, (DX)(AX*1), X2, X2
	MOVLQSX        12(BX), AX
	VMOVQ          (SI)(AX*1), X3
	VPINSRQ        $1, (DX)(AX*1), X3, X3
	// Low quadwords: pixels from src1, high: from src2.
	VPUNPCKLBW     X1, X0, X4
	VPUNPCKLBW     X3, X2, X5
	VPUNPCKHBW     X1, X0, X8
	VPUNPCKHBW     X3, X2, X9
	VPUNPCKLWD     X5, X4, X6
	VPUNPCKHWD     X5, X4, X7
	VPUNPCKLWD     X9, X8, X10
	VPUNPCKHWD     X9, X8, X11
	VINSERTI128    $1, X7, Y6, Y6
	VINSERTI128    $1, X11, Y10, Y10
	VPBLENDVB      Y14, Y10, Y6, Y6
	VMOVDQU        Y6, (DI)
	ADDQ           $16, BX
	ADDQ           $64, DI
	DECQ           CX
	JNZ            gloop2

done2:
	VZEROUPPER
	RET

// func maxpool2x2U8AVX2(y *uint8, x *uint8, oh, ow, w int)
//
// 2×2 stride-2 max pooling of one uint8 plane (oh output rows of ow ≥ 8,
// input rows w ≥ 2·ow bytes apart), 8 outputs at a time (the last block
// of a row overlaps the one before it): the bytewise maximum of the two
// rows, then of each byte pair (shift by 8 within words), packed.
DATA poolmask<>+0(SB)/8, $0x00ff00ff00ff00ff
DATA poolmask<>+8(SB)/8, $0x00ff00ff00ff00ff
GLOBL poolmask<>(SB), RODATA|NOPTR, $16

TEXT ·maxpool2x2U8AVX2(SB), NOSPLIT, $0-40
	MOVQ    y+0(FP), DI
	MOVQ    x+8(FP), SI
	MOVQ    oh+16(FP), CX
	MOVQ    ow+24(FP), R8
	MOVQ    w+32(FP), R9
	VMOVDQU poolmask<>(SB), X15
	LEAQ    -8(R8), R10          // the last block's first output

prow:
	LEAQ (SI)(R9*1), DX          // row 2r+1
	XORQ BX, BX                  // output index j

pblock:
	CMPQ      BX, R10
	JLE       pdo
	MOVQ      R10, BX            // the overlapping last block
pdo:
	VMOVDQU   (SI)(BX*2), X0
	VPMAXUB   (DX)(BX*2), X0, X0
	VPSRLW    $8, X0, X1
	VPMAXUB   X1, X0, X0
	VPAND     X15, X0, X0
	VPACKUSWB X0, X0, X0
	VMOVQ     X0, (DI)(BX*1)
	ADDQ      $8, BX
	CMPQ      BX, R8
	JLT       pblock
	ADDQ      R8, DI
	LEAQ      (SI)(R9*2), SI
	DECQ      CX
	JNZ       prow
	VZEROUPPER
	RET
