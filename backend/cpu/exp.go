package cpu

import "math"

// expF64 sets dst[i] = math.Exp(x[i]) for the elements of x (dst at
// least as long, not overlapping x): with AVX2 and FMA four at a time,
// the same bits (exp_amd64.s follows math.Exp's code lane for lane).
// Each exp is a chain of about twenty dependent operations, which the
// scalar calls run one after another; the vector kernel runs four lanes
// and keeps many iterations in flight, so it pays on long arrays (a
// block of rows' exps at once, not a row of ten).
func expF64(dst, x []float64) {
	dst = dst[:len(x)]
	i := 0
	if expVector && len(x) >= 4 {
		i = len(x) &^ 3
		if !expAVX2(&dst[0], &x[0], i) {
			i = 0 // an argument out of the kernel's range: all as below
		}
	}
	for ; i < len(x); i++ {
		dst[i] = math.Exp(x[i])
	}
}

// expVector says whether expF64 uses the vector kernel (tests turn it
// off to compare).
var expVector = hasAVX2FMA

// logF64 sets dst[i] = math.Log(x[i]) for the elements of x, as expF64
// does for math.Exp (exp_amd64.s's logAVX2 follows math.Log's code).
func logF64(dst, x []float64) {
	dst = dst[:len(x)]
	i := 0
	if expVector && len(x) >= 4 {
		i = len(x) &^ 3
		if !logAVX2(&dst[0], &x[0], i) {
			i = 0
		}
	}
	for ; i < len(x); i++ {
		dst[i] = math.Log(x[i])
	}
}
