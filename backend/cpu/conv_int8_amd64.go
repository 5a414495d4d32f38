//go:build amd64

package cpu

import "golang.org/x/sys/cpu"

//go:noescape
func im2colHalfAVX2(dst *uint8, src *uint8, words *int32, nw int, gather *int32, ng int)

//go:noescape
func im2colHalf2AVX2(dst *uint8, src1, src2 *uint8, words *int32, nw int, gather *int32, ng int, mask *[32]byte)

//go:noescape
func maxpool2x2U8AVX2(y *uint8, x *uint8, oh, ow, w int)

// hasIm2colHalf reports whether im2colHalf has a vector form.
var hasIm2colHalf = cpu.X86.HasAVX2

func im2colHalf(dst *uint8, src *uint8, words []int32, gather []int32) {
	var w, g *int32
	if len(words) > 0 {
		w = &words[0]
	}
	if len(gather) > 0 {
		g = &gather[0]
	}
	im2colHalfAVX2(dst, src, w, len(words), g, len(gather)/4)
}

// im2colHalf2 is im2colHalf for pixels that cross a row: pixel p reads
// from src1+p when p < n1, from src2+p otherwise.
func im2colHalf2(dst *uint8, src1, src2 *uint8, words []int32, gather []int32, n1 int) {
	var w, g *int32
	if len(words) > 0 {
		w = &words[0]
	}
	if len(gather) > 0 {
		g = &gather[0]
	}
	im2colHalf2AVX2(dst, src1, src2, w, len(words), g, len(gather)/4, &halfMasks[n1])
}

// halfMasks[n1] selects pixels n1…7 (bytes 4·n1 on) in im2colHalf2.
var halfMasks = func() (m [9][32]byte) {
	for n1 := range m {
		for i := 4 * n1; i < 32; i++ {
			m[n1][i] = 0xff
		}
	}
	return m
}()

// maxpool2x2U8 pools one plane (2×2, stride 2, no padding) into y when
// it has a vector form for the shape (ow ≥ 8), and reports whether.
func maxpool2x2U8(y, x []uint8, oh, ow, w int) bool {
	if !hasIm2colHalf || ow < 8 || oh <= 0 || w < 2*ow || len(x) < (2*oh-1)*w+2*ow || len(y) < oh*ow {
		return false
	}
	maxpool2x2U8AVX2(&y[0], &x[0], oh, ow, w)
	return true
}
