//go:build amd64

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:noescape
func qgemmAVX2x4x16(k4 int, a *uint8, b *int8, c *int32, ldc int)

//go:noescape
func qgemmAVX2x4x16F32(k4 int, a *uint8, b *int8, c *float32, ldc int, ep *qTileEp)

//go:noescape
func qconvAVX2x6x16(k4 int, a *uint8, w *int8, c unsafe.Pointer, ldc int, ep *qConvEp, u8 int)

//go:noescape
func qconvVNNIx6x16(k4 int, a *uint8, w *int8, c unsafe.Pointer, ldc int, ep *qConvEp, u8 int)

//go:noescape
func qgemmVNNIx4x16(k4 int, a *uint8, b *int8, c *int32, ldc int)

func qArchKernels() []*qkernel {
	var ks []*qkernel
	if cpu.X86.HasAVX2 {
		ks = append(ks, &qkernel{name: "avx2", micro: qgemmAVX2x4x16, microF32: qgemmAVX2x4x16F32, conv: qconvAVX2x6x16})
	}
	// vpdpbusd on ymm registers is AVX512_VNNI with AVX512VL (EVEX).
	if cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512VL {
		ks = append(ks, &qkernel{name: "vnni", micro: qgemmVNNIx4x16, conv: qconvVNNIx6x16})
	}
	return ks
}

//go:noescape
func quantizeAVX2x16(n int, x *float32, dst *uint8, inv float32, zero int32)

// quantizeVec quantizes the leading multiple of 16 elements of x with
// AVX2 and returns how many it did.
func quantizeVec(dst []uint8, x []float32, inv float32, zero int32) int {
	n := len(x) &^ 15
	if n == 0 || !cpu.X86.HasAVX2 {
		return 0
	}
	_ = dst[n-1]
	quantizeAVX2x16(n/16, &x[0], &dst[0], inv, zero)
	return n
}
