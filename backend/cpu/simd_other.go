//go:build !amd64

package cpu

const hasAVX2FMA = false

var simdOn = false

func adamAVX2(p, m, v, g *float32, n int, c *[24]float32, idx *int32, ds *float32, mark int) int {
	panic("unreachable")
}

func reluAVX2(o, x *float32, n int) { panic("unreachable") }

func reluGradAVX2(o, x, dy *float32, n int) { panic("unreachable") }

func expSumAVX2(o, x *float32, n int, shift float32, c *[16]float32) float32 { panic("unreachable") }

func geluVecAVX2(o, x, dy, gd *float32, n int, c *[24][8]float32, mode int) { panic("unreachable") }

func maxpool2AVX2(y, x, dy, dx *float32, rows, w, grad int) { panic("unreachable") }

func copyRowsAVX2(dst, src *float32, rows, n, dstride, sstride int) { panic("unreachable") }

func addRowsAVX2(dst, src *float32, rows, n, dstride, sstride int) { panic("unreachable") }

func axpyRowsAVX2(dst, src *float32, rows, n, dstride, sstride int, a float32) {
	panic("unreachable")
}

func dotRowsAVX2(a, b *float32, rows, n, astride, bstride int) float32 { panic("unreachable") }

func sigTanhAVX2(o, x *float32, n int, c *[32]float32, tanh int) { panic("unreachable") }

func addF32AVX2(o, x, y *float32, n int) { panic("unreachable") }

func subF32AVX2(o, x, y *float32, n int) { panic("unreachable") }

func mulF32AVX2(o, x, y *float32, n int) { panic("unreachable") }

func expSum2AVX2(o0, x0, o1, x1 *float32, n int, shift0, shift1 float32, c *[16]float32) (s0, s1 float32) {
	panic("unreachable")
}
