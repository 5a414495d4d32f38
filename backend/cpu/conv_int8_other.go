//go:build !amd64

package cpu

const hasIm2colHalf = false

func im2colHalf(dst *uint8, src *uint8, words []int32, gather []int32) { panic("unreachable") }
