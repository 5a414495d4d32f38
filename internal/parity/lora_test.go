package parity

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/runtime/safetensors"
	"github.com/encc-lang/encc/runtime/train"
)

// TestLoRAParity compares encc's LoRA (lora = lora(...) in a train) with
// the PEFT formula written out in PyTorch (scripts/torch_peft_reference.py):
// the logits and the loss within 1e-5, the gradients of every lora_A,
// lora_B and of the input within 1e-4, and no gradient for the frozen
// base weights. The adapters are loaded from PEFT's adapter-file names
// through the train's load(rename:).
func TestLoRAParity(t *testing.T) {
	path := filepath.Join(fixtureDir, "lora.safetensors")
	p, errs := compiler.CheckFile(filepath.Join(fixtureDir, "lora.enc"), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tr := p.Trains[0]
	c, err := train.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	spec := train.LoadSpecOf(tr.Init)
	w32, err := train.FitWeights(c, tr.Params, spec, path, tr.Model.Name())
	if err != nil {
		t.Fatal(err)
	}
	weights := map[string][]float64{}
	for k, v := range w32 {
		weights[k] = widen(v)
	}
	var bad []string
	check := func(what string, got, want []float64, tol float64) {
		if len(got) != len(want) {
			bad = append(bad, what+": length differs")
			return
		}
		e, at := relErr(got, want, 0)
		t.Logf("%-36s %.2e", what, e)
		if !(e <= tol) {
			bad = append(bad, fmt.Sprintf("%s: relative error %.3g > %g at element %d", what, e, tol, at))
		}
	}
	g, err := p.LowerGrad(tr, 0, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	// d loss / d input, from the same graph.
	in := g.Input("image")
	loss := g.Output("loss")
	grads, err := ir.Grad(g, loss, []*ir.Value{in})
	if err != nil {
		t.Fatal(err)
	}
	g.AddOutput("grad:input", grads[in])
	if err := ir.Verify(g); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	x, labels := f64(t, f, "input"), f64(t, f, "labels")
	res := run(t, g, weights, "", map[string][]float64{"image": x, "label": labels})
	check("loss", res.Outputs["loss"].F, f64(t, f, "loss"), forwardTol)
	check("logits", res.Outputs["pred"].F, f64(t, f, "logits"), forwardTol)
	check("grad input", res.Outputs["grad:input"].F, f64(t, f, "grad.input"), gradTol)
	n := 0
	for _, prm := range tr.Params {
		got := res.Outputs["grad:"+prm.Path]
		if !prm.IsAdapter() {
			if got != nil {
				bad = append(bad, "a gradient is computed for the frozen "+prm.Path)
			}
			continue
		}
		n++
		if got == nil {
			bad = append(bad, "no gradient for "+prm.Path)
			continue
		}
		check("grad "+prm.Path, got.F, f64(t, f, "grad.base_model.model."+prm.Path), gradTol)
	}
	if n != 4 {
		t.Errorf("%d adapter tensors, want 4", n)
	}
	for _, b := range bad {
		t.Error(b)
	}
	if !strings.Contains(strings.Join(tr.Trained(), " "), "fc1.lora_A.weight") {
		t.Errorf("trained: %v", tr.Trained())
	}
}
