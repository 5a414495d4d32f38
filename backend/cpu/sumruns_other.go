//go:build !amd64

package cpu

func sumRuns4AVX2(x *float32, n, stride int, lanes *[16]float64) { panic("unreachable") }
