//go:build amd64

package cpu

import "golang.org/x/sys/cpu"

//go:noescape
func im2colHalfAVX2(dst *uint8, src *uint8, words *int32, nw int, gather *int32, ng int)

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
