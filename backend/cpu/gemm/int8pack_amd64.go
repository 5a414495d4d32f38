//go:build amd64

package gemm

import "golang.org/x/sys/cpu"

//go:noescape
func qpack4x16AVX(n int, src *uint8, lds int, dst *uint8)

// qpack4x16 packs n 16-byte chunks of 4 rows (see qpack4x16Go).
func qpack4x16(n int, src []uint8, lds int, dst []uint8) {
	if n <= 0 {
		return
	}
	_ = src[3*lds+16*n-1]
	_ = dst[64*n-1]
	if cpu.X86.HasAVX {
		qpack4x16AVX(n, &src[0], lds, &dst[0])
		return
	}
	qpack4x16Go(n, src, lds, dst)
}
