//go:build !amd64

package gemm

// archKernels: only the portable kernel outside amd64.
func archKernels() []*kernel { return nil }

// Dot4x3AVX2 is amd64's dot micro-kernel (see kernel_amd64.go); callers
// check for AVX2 first, so it is never called here.
func Dot4x3AVX2(k, nseg, astride, bstride int, a *[4]*float32, b *[3]*float32, tiles, atile int, c *float32, ldc, acc int) {
	panic("gemm: Dot4x3AVX2 without amd64")
}
