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
// through the train's load(rename:). lora is an MLP (Linear layers);
// lora_conv a CNN whose Conv2d has PEFT's Conv2d LoRA (lora_A a
// convolution with the layer's kernel, stride and padding, lora_B 1x1).
func TestLoRAParity(t *testing.T) {
	for _, c := range []struct {
		name         string
		first        string // an adapter tensor the train must train
		adapterCount int
	}{{"lora", "fc1.lora_A.weight", 4}, {"lora_conv", "conv.lora_A.weight", 4}} {
		t.Run(c.name, func(t *testing.T) { loraParity(t, c.name, c.first, c.adapterCount) })
	}
}

func loraParity(t *testing.T, name, first string, adapterCount int) {
	path := filepath.Join(fixtureDir, name+".safetensors")
	p, errs := compiler.CheckFile(filepath.Join(fixtureDir, name+".enc"), nil)
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
	if n != adapterCount {
		t.Errorf("%d adapter tensors, want %d", n, adapterCount)
	}
	for _, b := range bad {
		t.Error(b)
	}
	if !strings.Contains(strings.Join(tr.Trained(), " "), first) {
		t.Errorf("trained: %v", tr.Trained())
	}
}
