//go:build amd64

package cpu

// convTaps6AVX2 writes out[j][p] = Σ_t w[6t+j]·x[off[t]+p], plus bias[j]
// when bias is not nil, for 6 rows j and p < n (a multiple of 16): the
// taps summed in order from zero by FMA, the bias added last.
//
//go:noescape
func convTaps6AVX2(x *float32, off *int, ntaps int, w *float32, bias *float32, out *[6]*float32, n int)
