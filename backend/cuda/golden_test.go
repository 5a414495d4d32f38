package cuda

import (
	"testing"

	"github.com/encc-lang/encc/internal/golden"
	"github.com/encc-lang/encc/ir"
)

// TestGoldenDigitsMLP compares the module of the digits MLP's training
// step (batch 32) with testdata/digits_mlp; go test -update rewrites it.
func TestGoldenDigitsMLP(t *testing.T) {
	m := emit(t, digitsMLP(t), ir.PlanOptions{}, "examples/digits_mlp.enc classify")
	golden.Check(t, "testdata/digits_mlp/kernels.cu", []byte(m.Kernels))
	golden.Check(t, "testdata/digits_mlp/plan.json", m.Plan.JSON())
	golden.Check(t, "testdata/digits_mlp/README.md", []byte(m.README))
}
