//go:build amd64

package data

import "golang.org/x/sys/cpu"

// hasDecodeAVX2 reports whether convertBytes and decodeBytes use the AVX2
// kernels and newScaler the FMA one (a variable: the tests run the
// portable loops too).
var hasDecodeAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// convertBytesAVX2 is convertBytes on n values, n a positive multiple of 8.
//
//go:noescape
func convertBytesAVX2(dst *float32, src *byte, n int)

// decodeBytesAVX2 is decodeBytes on n values, n a positive multiple of 8.
//
//go:noescape
func decodeBytesAVX2(dst *float32, src *byte, mul, add *float64, n int)

// scaleBytesFMA is a scaler's decoding of n values, n a positive
// multiple of 8.
//
//go:noescape
func scaleBytesFMA(dst *float32, src *byte, n int, m, d, a float32)

// prefetchBytes asks for the cache lines of p[0:n], n ≥ 1, ahead of
// their use.
//
//go:noescape
func prefetchBytes(p *byte, n int)

// prefetch asks for the cache lines of b ahead of their use.
func prefetch(b []byte) {
	if len(b) > 0 {
		prefetchBytes(&b[0], len(b))
	}
}
