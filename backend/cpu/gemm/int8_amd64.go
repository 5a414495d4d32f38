//go:build amd64

package gemm

import "golang.org/x/sys/cpu"

//go:noescape
func qgemmAVX2x4x16(k4 int, a *uint8, b *int8, c *int32, ldc int)

//go:noescape
func qgemmVNNIx4x16(k4 int, a *uint8, b *int8, c *int32, ldc int)

func qArchKernels() []*qkernel {
	var ks []*qkernel
	if cpu.X86.HasAVX2 {
		ks = append(ks, &qkernel{name: "avx2", micro: qgemmAVX2x4x16})
	}
	// vpdpbusd on ymm registers is AVX512_VNNI with AVX512VL (EVEX).
	if cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512VL {
		ks = append(ks, &qkernel{name: "vnni", micro: qgemmVNNIx4x16})
	}
	return ks
}
