package cpu

import (
	"math"
	"testing"
)

// groupSteps counts p's grouped products and the products in them.
func groupSteps(p *Program) (groups, products int) {
	for _, s := range flatSteps(p) {
		if g, ok := s.k.(*matmulGroup); ok {
			groups++
			products += len(g.ks)
		}
	}
	return
}

// TestGroupProductsBitIdentical: grouping the products of one input
// (groupProducts) changes no bit of a training step, on one core and
// two; W4's layers each group their q, k and v projections, and W1,
// whose products all read different inputs, groups none.
func TestGroupProductsBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { groupProductsOn = on }, func(p *Program) int {
			n, _ := groupSteps(p)
			return n
		}, 0)
	}
}

// TestGroupProductsW4W5: the forward's q, k and v projections of every
// layer run as one group of three (W5: the frozen layer's too), with the
// bits of the products one by one.
func TestGroupProductsW4W5(t *testing.T) {
	defer func() { groupProductsOn = true }()
	for tr, name := range []string{"w4", "w5"} {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 4, true)
		groupProductsOn = false
		want, _ := runStepsOn(t, g, 2, 2)
		groupProductsOn = true
		got, p := runStepsOn(t, g, 2, 2)
		if groups, products := groupSteps(p); groups != 2 || products != 6 {
			t.Errorf("%s: %d groups of %d products, want 2 of 6", name, groups, products)
		}
		for n, w := range want {
			for i := range w {
				if math.Float64bits(w[i]) != math.Float64bits(got[n][i]) {
					t.Fatalf("%s: %s[%d] = %v grouped, %v not", name, n, i, got[n][i], w[i])
				}
			}
		}
	}
}
