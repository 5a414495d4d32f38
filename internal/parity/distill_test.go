package parity

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/runtime/safetensors"
	"github.com/encc-lang/encc/runtime/train"
)

// TestDistillParity compares distill(student, teacher, T:) mixed with
// cross_entropy against PyTorch's kl_div(log_softmax(s/T),
// log_softmax(t/T), log_target=True, reduction="batchmean")·T²
// (scripts/torch_peft_reference.py): the loss within 1e-5 and the
// student's gradients within 1e-4; the teacher's weights are constants
// of the graph and get no gradient.
func TestDistillParity(t *testing.T) {
	path := filepath.Join(fixtureDir, "distill.safetensors")
	p, errs := compiler.CheckFile(filepath.Join(fixtureDir, "distill.enc"), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tr := p.Train("parity")
	c, err := train.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	w32, err := train.FitWeights(c, tr.Params, train.LoadSpecOf(tr.Init), path, tr.Model.Name())
	if err != nil {
		t.Fatal(err)
	}
	weights := map[string][]float64{}
	for k, v := range w32 {
		weights[k] = widen(v)
	}
	for _, prm := range tr.Teacher.Params { // teacher.fc.weight, .bias
		v, ok := c.Weights[prm.Path]
		if !ok {
			t.Fatalf("fixture has no %s", prm.Path)
		}
		weights[prm.Path] = widen(v)
	}
	f, err := safetensors.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := p.LowerGrad(tr, 0, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range g.Inputs {
		if strings.HasPrefix(in.Name, "teacher.") && in.Role().String() != "const" {
			t.Errorf("teacher input %s has role %v, want const", in.Name, in.Role())
		}
	}
	res := run(t, g, weights, "", map[string][]float64{"image": f64(t, f, "input"), "label": f64(t, f, "labels")})
	check := func(what string, got, want []float64, tol float64) {
		e, at := relErr(got, want, 0)
		t.Logf("%-20s %.2e", what, e)
		if len(got) != len(want) || !(e <= tol) {
			t.Error(fmt.Sprintf("%s: relative error %.3g > %g at element %d", what, e, tol, at))
		}
	}
	check("loss", res.Outputs["loss"].F, f64(t, f, "loss"), forwardTol)
	check("logits", res.Outputs["pred"].F, f64(t, f, "logits"), forwardTol)
	for _, prm := range tr.Params {
		got := res.Outputs["grad:"+prm.Path]
		if got == nil {
			t.Errorf("no gradient for %s", prm.Path)
			continue
		}
		check("grad "+prm.Path, got.F, f64(t, f, "grad."+prm.Path), gradTol)
	}
	for name := range res.Outputs {
		if strings.HasPrefix(name, "grad:teacher.") {
			t.Errorf("a gradient is computed for %s", name)
		}
	}
}
