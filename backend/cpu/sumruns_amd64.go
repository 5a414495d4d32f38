//go:build amd64

package cpu

// sumRuns4AVX2 writes the four accumulators of sumRun for each of 4 runs
// of n (a multiple of 4, ≥ 4) floats, stride floats apart: lanes[4r+i]
// sums x[r·stride + 4j + i] over j in order.
//
//go:noescape
func sumRuns4AVX2(x *float32, n, stride int, lanes *[16]float64)
