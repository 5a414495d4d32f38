//go:build amd64

package cpu

// expAVX2 sets dst[i] = math.Exp(x[i]), the bits of math.Exp, for n (a
// multiple of 4) elements, and reports whether every argument was in
// [-700, 700]; where one was not, its lane is unspecified (expF64
// computes those with math.Exp). It needs AVX2 and FMA: math.Exp takes
// its FMA path on such a CPU, which the kernel follows.
//
//go:noescape
func expAVX2(dst, x *float64, n int) bool

// logAVX2 sets dst[i] = math.Log(x[i]), the bits of math.Log, for n (a
// multiple of 4) elements, and reports whether every argument was a
// normal finite positive number; where one was not, its lane is
// unspecified (logF64 computes those with math.Log).
//
//go:noescape
func logAVX2(dst, x *float64, n int) bool
