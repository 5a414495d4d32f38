package compiler_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
)

// A passStep is one training-step graph that the pass tests run on.
type passStep struct {
	name string
	make func() *ir.Graph // a fresh graph, which passes may rewrite
}

// passSteps lowers the training step of every phase of every train of
// the examples and of the small stdlib transformer, at batch size batch.
func passSteps(t *testing.T, batch int) []passStep {
	t.Helper()
	files, _ := filepath.Glob("../examples/*.enc")
	files = append(files, "testdata/passes/transformer.enc")
	var steps []passStep
	for _, f := range files {
		p, diags := compiler.CheckFile(f, nil)
		if len(diags) > 0 {
			t.Fatalf("%s: %v", f, diags)
		}
		for _, tr := range p.Trains {
			for ph := range tr.Phases {
				name := fmt.Sprintf("%s/%s/%d", filepath.Base(f), tr.Name, ph)
				lower := func() *ir.Graph {
					sg, err := p.LowerStep(tr, ph, batch)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					return sg.Graph
				}
				steps = append(steps, passStep{name, lower})
			}
		}
	}
	return steps
}

// TestPassMemPlanExamples plans the memory of every example's training
// step and checks the plan.
func TestPassMemPlanExamples(t *testing.T) {
	for _, s := range passSteps(t, 32) {
		t.Run(s.name, func(t *testing.T) {
			g := s.make()
			p, err := ir.PlanMemory(g, ir.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Check(g); err != nil {
				t.Fatal(err)
			}
			if len(p.InPlace) == 0 {
				t.Errorf("no in-place updates planned")
			}
			t.Logf("arena %d bytes, %d without reuse", p.Size, p.Sum)
		})
	}
}
