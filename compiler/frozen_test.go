package compiler_test

import (
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
)

// TestFrozenLayersNoBackward checks workload W5: with both embeddings and
// layer 0 frozen, the training step computes no gradient for them and
// nothing of the backward pass reads them: they cost forward time only.
func TestFrozenLayersNoBackward(t *testing.T) {
	p, errs := compiler.CheckFile("../bench/w4_transformer.enc", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	w5 := p.Train("transformer_finetune")
	step, err := p.LowerStep(w5, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := p.LowerEval(w5, 4)
	if err != nil {
		t.Fatal(err)
	}
	var trainable int64
	for _, path := range step.Trainable {
		for _, prm := range w5.Params {
			if prm.Path == path {
				trainable += prm.Elements()
			}
		}
		if strings.HasPrefix(path, "encoder.tokens") || strings.HasPrefix(path, "encoder.positions") || strings.HasPrefix(path, "encoder.blocks.0.") {
			t.Errorf("%s is trained", path)
		}
	}
	if trainable != 198_530 {
		t.Errorf("%d trainable parameters, want 198,530", trainable)
	}
	uses := func(g *ir.Graph) map[string]int {
		n := map[string]int{}
		for _, v := range g.Values {
			if v.Op == ir.OpScatterAdd {
				t.Errorf("%s: an embedding gradient (scatter_add) is computed", g.Name)
			}
			for _, a := range v.Args {
				if a.Op == ir.OpInput && (strings.HasPrefix(a.Name, "encoder.blocks.0.") || strings.HasPrefix(a.Name, "encoder.tokens") || strings.HasPrefix(a.Name, "encoder.positions")) {
					n[a.Name]++
				}
			}
		}
		return n
	}
	inStep, inFwd := uses(step.Graph), uses(fwd)
	for name, n := range inStep {
		if n != inFwd[name] {
			t.Errorf("%s is read %d times by the training step, %d by the forward pass alone", name, n, inFwd[name])
		}
	}
	if len(inStep) == 0 {
		t.Fatal("no frozen parameter found in the graph")
	}
	// W4, everything trained, does compute the embedding gradients.
	w4, err := p.LowerStep(p.Train("transformer_train"), 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	scatter := 0
	for _, v := range w4.Graph.Values {
		if v.Op == ir.OpScatterAdd {
			scatter++
		}
	}
	if scatter != 2 {
		t.Errorf("W4 computes %d embedding gradients, want 2", scatter)
	}
}
