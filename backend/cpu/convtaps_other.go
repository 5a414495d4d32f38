//go:build !amd64

package cpu

func convTaps6AVX2(x *float32, off *int, ntaps int, w *float32, bias *float32, out *[6]*float32, n int) {
	panic("unreachable")
}
