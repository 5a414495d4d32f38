//go:build amd64

#include "textflag.h"

// The byte decoders of decode.go, eight values an iteration. Each lane
// does the operations of the portable loop: the byte widened exactly,
// then (decodeBytesAVX2) a float64 multiply and a float64 add, each
// rounded, and the rounding to float32 (no fused multiply-add), so the
// results are bit-identical to it.

// func convertBytesAVX2(dst *float32, src *byte, n int)
TEXT ·convertBytesAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX

convert8:
	VPMOVZXBD (SI), Y0
	VCVTDQ2PS Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $8, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       convert8
	VZEROUPPER
	RET

// func decodeBytesAVX2(dst *float32, src *byte, mul, add *float64, n int)
TEXT ·decodeBytesAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ mul+16(FP), R8
	MOVQ add+24(FP), R9
	MOVQ n+32(FP), CX
	SHRQ $3, CX

decode8:
	VPMOVZXBD    (SI), Y0
	VCVTDQ2PD    X0, Y1
	VEXTRACTI128 $1, Y0, X2
	VCVTDQ2PD    X2, Y2
	VMULPD       (R8), Y1, Y1
	VMULPD       32(R8), Y2, Y2
	VADDPD       (R9), Y1, Y1
	VADDPD       32(R9), Y2, Y2
	VCVTPD2PSY   Y1, X1
	VCVTPD2PSY   Y2, X2
	VINSERTF128  $1, X2, Y1, Y1
	VMOVUPS      Y1, (DI)
	ADDQ         $8, SI
	ADDQ         $32, DI
	ADDQ         $64, R8
	ADDQ         $64, R9
	DECQ         CX
	JNZ          decode8
	VZEROUPPER
	RET

// func prefetchBytes(p *byte, n int)
// Prefetches the cache lines of p[0:n], n ≥ 1, into every level.
TEXT ·prefetchBytes(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	ADDQ SI, CX

prefetch64:
	PREFETCHT0 (SI)
	ADDQ       $64, SI
	CMPQ       SI, CX
	JLT        prefetch64
	PREFETCHT0 -1(CX)
	RET

// func scaleBytesFMA(dst *float32, src *byte, n int, m, d, a float32)
// dst[i] = q + r·m + a in float32 for x = float32(src[i]), q = x·m and
// r = x − q·d (fused), n a positive multiple of 8: x/d correctly
// rounded, refined from x·m (m ≈ 1/d), for the scales newScaler accepts.
TEXT ·scaleBytesFMA(SB), NOSPLIT, $0-36
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS m+24(FP), Y3
	VBROADCASTSS d+28(FP), Y4
	VBROADCASTSS a+32(FP), Y5
	SHRQ         $3, CX

scale8:
	VPMOVZXBD    (SI), Y0
	VCVTDQ2PS    Y0, Y0
	VMULPS       Y3, Y0, Y1
	VFNMADD231PS Y4, Y1, Y0
	VFMADD231PS  Y3, Y0, Y1
	VADDPS       Y5, Y1, Y1
	VMOVUPS      Y1, (DI)
	ADDQ         $8, SI
	ADDQ         $32, DI
	DECQ         CX
	JNZ          scale8
	VZEROUPPER
	RET
