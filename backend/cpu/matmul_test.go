package cpu

import (
	"testing"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/ir"
)

// TestReluEpilogueBitIdentical: a training ReLU taken into its
// product's epilogue (relu_backward reading the ReLU's output) gives the
// bits of the relu step, on one core and on two; W1's two hidden layers
// take it, and no relu step is left in W1.
func TestReluEpilogueBitIdentical(t *testing.T) {
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { reluEpilogueOn = on }, func(p *Program) int {
			n := 0
			for _, s := range flatSteps(p) {
				if k, ok := s.k.(*matmulF32); ok && k.act == gemm.ActReLU {
					n++
				}
				if s.v.Op == ir.OpRelu && p.reluInto[s.v] != nil {
					t.Errorf("%s: a relu step left with its product's ReLU", s.v.Ref())
				}
			}
			return n
		}, 2)
	}
}
