package compiler_test

import (
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
)

// TestLoRANoWeightGradient checks examples/spam_lora.enc: the LoRA
// train's parameters are PEFT-named adapters on q and v of every block
// plus the head, at most 3% of the model; its training step computes no
// gradient of a frozen weight (no value shaped like a frozen Linear
// weight is computed, as the weight gradient dyᵀx would be), while full
// fine-tuning of the same model computes every one of them.
func TestLoRANoWeightGradient(t *testing.T) {
	p, errs := compiler.CheckFile("../examples/spam_lora.enc", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	lo, full := p.Train("adapt"), p.Train("full")
	if lo.LoRA == nil || full.LoRA != nil {
		t.Fatal("adapt has no lora, or full has one")
	}
	const batch = 3 // B·T = 192 rows: no activation is shaped [128, 128]
	step, err := p.LowerStep(lo, 0, batch)
	if err != nil {
		t.Fatal(err)
	}
	var trainable, total int64
	for _, prm := range lo.Params {
		total += prm.Elements()
	}
	want := map[string]bool{}
	for _, b := range []string{"0", "1"} {
		for _, l := range []string{"q", "v"} {
			a, bb := compiler.LoRAPair("encoder.blocks." + b + ".attn." + l)
			want[a], want[bb] = true, true
		}
	}
	want["head.weight"], want["head.bias"] = true, true
	for _, path := range step.Trainable {
		if !want[path] {
			t.Errorf("%s is trained", path)
		}
		delete(want, path)
		for _, prm := range lo.Params {
			if prm.Path == path {
				trainable += prm.Elements()
			}
		}
	}
	for path := range want {
		t.Errorf("%s is not trained", path)
	}
	if trainable != 4*(8*128+128*8)+2*128+2 || float64(trainable) > 0.03*float64(total) {
		t.Errorf("%d trainable of %d parameters", trainable, total)
	}
	// Shapes of frozen Linear weights that no other value has.
	weightGrads := func(g *ir.Graph, tr *compiler.Train) int {
		shapes := map[string]bool{}
		for _, prm := range tr.Params {
			if prm.Layer == "Linear" && strings.HasSuffix(prm.Path, ".weight") && strings.Contains(prm.Path, "attn.") {
				shapes[g.Input(prm.Path).Type.String()] = true
			}
		}
		n := 0
		for _, v := range g.Values {
			if v.Op == ir.OpMatMul && shapes[v.Type.String()] {
				n++
			}
		}
		return n
	}
	if n := weightGrads(step.Graph, lo); n != 0 {
		t.Errorf("the LoRA step computes %d matmuls shaped like an attention weight (a weight gradient)", n)
	}
	fs, err := p.LowerStep(full, 0, batch)
	if err != nil {
		t.Fatal(err)
	}
	if n := weightGrads(fs.Graph, full); n != 8 {
		t.Errorf("full fine-tuning computes %d attention weight gradients, want 8", n)
	}
	if len(step.Graph.Values) >= len(fs.Graph.Values) {
		t.Errorf("LoRA step has %d values, full fine-tuning %d: want fewer", len(step.Graph.Values), len(fs.Graph.Values))
	}
}
