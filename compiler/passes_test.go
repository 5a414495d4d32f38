package compiler_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/ir/eval"
)

// A passStep is one training-step graph that the pass tests run on.
type passStep struct {
	name string
	make func() *ir.Graph // a fresh graph, which passes may rewrite
}

// passSteps lowers the training step of every phase of every train of
// the examples and of the small stdlib transformer, at batch size batch,
// and with withEval the evaluation graph of every train too.
func passSteps(t *testing.T, batch int, withEval bool) []passStep {
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
			// The float64 reference evaluator is too slow for the
			// large text models; testdata/passes/transformer.enc stands
			// in for them.
			if withEval && countParams(tr.Model) > 300_000 {
				continue
			}
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
			if !withEval {
				continue
			}
			name := fmt.Sprintf("%s/%s/eval", filepath.Base(f), tr.Name)
			steps = append(steps, passStep{name, func() *ir.Graph {
				g, err := p.LowerEval(tr, batch)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return g
			}})
		}
	}
	return steps
}

// TestPassMemPlanExamples plans the memory of every example's training
// step and checks the plan.
func TestPassMemPlanExamples(t *testing.T) {
	for _, s := range passSteps(t, 32, false) {
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

// stepInputs returns random inputs for a training step with a fixed
// seed: parameters ~ U(-0.1, 0.1), optimizer state ~ U(0, 0.01), data ~
// U(-1, 1), labels in [0, 10), step 1, lr 1e-3, seed 7, lr scales 0.5,
// running variances ~ U(0.5, 1.5).
func stepInputs(g *ir.Graph) map[string]*eval.Tensor {
	r := rand.New(rand.NewPCG(7, 7))
	in := map[string]*eval.Tensor{}
	for _, v := range g.Inputs {
		x := eval.Zeros(v.Type)
		for i := range x.F {
			switch {
			case v.Name == "lr":
				x.F[i] = 1e-3
			case v.Name == "step":
				x.F[i] = 1
			case v.Name == "seed":
				x.F[i] = 7
			case strings.HasSuffix(v.Name, ":lr_scale"):
				x.F[i] = 0.5
			case v.Name == "label":
				x.F[i] = float64(r.IntN(classes(g)))
			case !v.Type.DType.IsFloat():
				x.F[i] = float64(r.IntN(10))
			case strings.HasSuffix(v.Name, ".running_var"): // a variance (BatchNorm)
				x.F[i] = 0.5 + r.Float64()
			case v.Role() == ir.RoleParam:
				x.F[i] = 0.2*r.Float64() - 0.1
			case v.Role() == ir.RoleState:
				x.F[i] = 0.01 * r.Float64()
			default:
				x.F[i] = 2*r.Float64() - 1
			}
		}
		in[v.Name] = x
	}
	return in
}

// sameResults compares every output and update within tol relative to
// the element, or to the tensor's largest element for elements near 0.
func sameResults(got, want *eval.Result, tol float64) error {
	cmp := func(kind, name string, g, w *eval.Tensor) error {
		if g == nil || !g.Type.Equal(w.Type) {
			return fmt.Errorf("%s %s: missing or of another type", kind, name)
		}
		scale := 0.0
		for _, x := range w.F {
			scale = max(scale, math.Abs(x))
		}
		for i := range w.F {
			if d := math.Abs(g.F[i] - w.F[i]); !(d <= tol*max(math.Abs(w.F[i]), 1e-3*scale, 1e-30)) {
				return fmt.Errorf("%s %s: element %d: %v, want %v", kind, name, i, g.F[i], w.F[i])
			}
		}
		return nil
	}
	for n, w := range want.Outputs {
		if err := cmp("output", n, got.Outputs[n], w); err != nil {
			return err
		}
	}
	for n, w := range want.Updates {
		if err := cmp("update", n, got.Updates[n], w); err != nil {
			return err
		}
	}
	if len(got.Outputs) != len(want.Outputs) || len(got.Updates) != len(want.Updates) {
		return fmt.Errorf("%d outputs and %d updates, want %d and %d", len(got.Outputs), len(got.Updates), len(want.Outputs), len(want.Updates))
	}
	return nil
}

// roundTrip checks that g prints, parses back and prints the same.
func roundTrip(t *testing.T, g *ir.Graph) {
	t.Helper()
	text := g.String()
	g2, err := ir.Parse(g.Name, []byte(text))
	if err != nil {
		t.Fatalf("text does not parse: %v", err)
	}
	if g2.String() != text {
		t.Errorf("text does not round-trip")
	}
}

// TestPassSemanticsExamples checks, on every example's training step,
// that the reference evaluator gives the same outputs and updates before
// and after each pass (within 1e-6 relative), that the graph verifies
// after each pass, that its text round-trips before and after, and that
// the memory plan of the optimized graph checks.
func TestPassSemanticsExamples(t *testing.T) {
	batch := 4
	for _, s := range passSteps(t, batch, true) {
		t.Run(s.name, func(t *testing.T) {
			g := s.make()
			roundTrip(t, g)
			in := stepInputs(g)
			want, err := eval.Run(g, in)
			if err != nil {
				t.Fatal(err)
			}
			err = ir.Optimize(g, ir.PipelineOptions{AfterEach: func(pass string, g *ir.Graph) error {
				if err := ir.Verify(g); err != nil {
					return fmt.Errorf("after %s: %v", pass, err)
				}
				got, err := eval.Run(g, in)
				if err != nil {
					return fmt.Errorf("after %s: %v", pass, err)
				}
				if err := sameResults(got, want, 1e-6); err != nil {
					return fmt.Errorf("after %s: %v", pass, err)
				}
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, g)
			p, err := ir.PlanMemory(g, ir.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Check(g); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPipelineReport prints, for the digits MLP, CNN and the small
// transformer training steps at batch 32, the node count before and after
// fusion, the kernel count (non-input values after the pipeline), and the
// arena bytes planned against the sum of all buffers (go test -v).
func TestPipelineReport(t *testing.T) {
	want := map[string]bool{"digits_mlp.enc/classify/0": true, "digits_cnn.enc/cnn/0": true, "transformer.enc/tiny/0": true}
	for _, s := range passSteps(t, 32, false) {
		if !want[s.name] {
			continue
		}
		g := s.make()
		nonInput := func(g *ir.Graph) int { return len(g.Values) - len(g.Inputs) }
		before := nonInput(g)
		var beforeFuse int
		err := ir.Optimize(g, ir.PipelineOptions{AfterEach: func(pass string, g *ir.Graph) error {
			if pass == "simplify" {
				beforeFuse = nonInput(g)
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		kernels, fused := 0, 0
		for _, v := range g.Values {
			if v.Op != ir.OpInput {
				kernels++
			}
			if v.Op.IsFused() {
				fused++
			}
		}
		p, err := ir.PlanMemory(g, ir.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Check(g); err != nil {
			t.Fatal(err)
		}
		t.Logf("%-26s nodes %4d lowered, %4d before fusion, %4d after; kernels %4d (%d fused, %d reshapes aliased, %d in place); arena %8d bytes planned vs %8d summed (%.1f%%)",
			s.name, before, beforeFuse, nonInput(g), kernels, fused, len(p.Alias), len(p.InPlace), p.Size, p.Sum, 100*float64(p.Size)/float64(p.Sum))
	}
}

// classes is the number of classes the loss of g predicts: the last
// dimension of its "pred" output.
func classes(g *ir.Graph) int {
	if p := g.Output("pred"); p != nil && p.Type.Rank() > 0 {
		return p.Type.Shape[p.Type.Rank()-1]
	}
	return 10
}
