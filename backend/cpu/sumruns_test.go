package cpu

import (
	"math"
	"math/rand"
	"testing"
)

// TestSumRuns checks that sumRuns gives sumRun's result bit for bit,
// for runs of lengths around multiples of 4, counts around multiples of
// 4, and runs further apart than their length.
func TestSumRuns(t *testing.T) {
	defer func(b bool) { simdOn = b }(simdOn)
	simdOn = hasAVX2FMA
	r := rand.New(rand.NewSource(8))
	for _, n := range []int{1, 3, 4, 5, 8, 11, 784} {
		for _, runs := range []int{1, 3, 4, 6, 9} {
			stride := n + r.Intn(5)
			x := make([]float32, (runs-1)*stride+n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * math.Exp(4*r.NormFloat64()))
			}
			s := make([]float64, runs)
			sumRuns(s, x, n, stride)
			for i, got := range s {
				if want := sumRun(x[i*stride:][:n]); got != want {
					t.Fatalf("n %d, runs %d: run %d sums to %v, want %v", n, runs, i, got, want)
				}
			}
		}
	}
}
