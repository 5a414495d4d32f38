//go:build !amd64

package cpu

const hasIm2colHalf = false

func im2colHalf(dst *uint8, src *uint8, words []int32, gather []int32) { panic("unreachable") }

func im2colHalf2(dst *uint8, src1, src2 *uint8, words []int32, gather []int32, n1 int) {
	panic("unreachable")
}

func maxpool2x2U8(y, x []uint8, oh, ow, w int) bool { return false }
