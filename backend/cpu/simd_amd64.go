//go:build amd64

package cpu

import "golang.org/x/sys/cpu"

// hasAVX2FMA says whether the vector kernels of simd_amd64.s can run.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// adamAVX2 runs the fused Adam update on n (a multiple of 8) elements;
// c holds b1, 1-b1, b2, 1-b2, 1/√(1-β2^t), eps, 1-lr·wd, lr/(1-β1^t).
//
//go:noescape
func adamAVX2(p, m, v, gr *float32, n int, c *[8]float32)
