//go:build !amd64

package gemm

func qpack4x16(n int, src []uint8, lds int, dst []uint8) { qpack4x16Go(n, src, lds, dst) }
