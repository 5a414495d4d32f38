//go:build !amd64

package data

var hasDecodeAVX2 = false

func convertBytesAVX2(dst *float32, src *byte, n int) { panic("data: no AVX2") }

func decodeBytesAVX2(dst *float32, src *byte, mul, add *float64, n int) { panic("data: no AVX2") }

func prefetch(b []byte) {}

func scaleBytesFMA(dst *float32, src *byte, n int, m, d, a float32) { panic("data: no FMA") }
