//go:build !amd64

package cpu

func attnRowsAVX2(kc int, a *float32, lda, rows int, b *float32, ldb int, c *float32, ldc int) {
	panic("unreachable")
}

func attnColsAVX2(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	panic("unreachable")
}

func attnCols4AVX2(kc int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int) {
	panic("unreachable")
}

func attnDsAVX2(p, ds *float32, ld, rows, n int, scale float32) { panic("unreachable") }

func softmaxRowsAVX2(p *float32, ld, rows, n int, c *[16]float32, cv *[16][8]float32) {
	panic("unreachable")
}

func prefetchRows(p *float32, rows, ld, n int) {}

func copyScaleRowsAVX2(dst, src *float32, rows, n, dstride, sstride int, a float32) {
	panic("unreachable")
}
