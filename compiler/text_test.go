package compiler

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/ir/eval"
)

// feed makes random inputs for a graph: ids in the vocabulary, masks
// with padding at the end of each row, small weights.
func feed(g *ir.Graph, vocab int, r *rand.Rand) map[string]*eval.Tensor {
	in := map[string]*eval.Tensor{}
	for _, v := range g.Inputs {
		t := eval.Zeros(v.Type)
		switch {
		case v.Name == "ids":
			for i := range t.F {
				t.F[i] = float64(4 + r.IntN(vocab-4))
			}
		case v.Name == "mask":
			cols := v.Type.Shape[1]
			for i := range t.F {
				if i%cols < cols-1 {
					t.F[i] = 1
				}
			}
		case v.Name == "label":
			for i := range t.F {
				t.F[i] = float64(r.IntN(2))
			}
		case v.Name == "step":
			t.F[0] = 1
		case v.Name == "seed":
			t.F[0] = 7
		case v.Name == "lr":
			t.F[0] = 1e-3
		case strings.HasSuffix(v.Name, ":step"):
			// a parameter's step count: 0 before its first step
		default:
			for i := range t.F {
				t.F[i] = 0.2 * (2*r.Float64() - 1)
			}
		}
		in[v.Name] = t
	}
	return in
}

func TestLowerText(t *testing.T) {
	p, errs := CheckFile("testdata/text/tiny.enc", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, tr := range p.Trains {
		sg, err := p.LowerStep(tr, 0, tr.Batch)
		if err != nil {
			t.Fatalf("%s: %v", tr.Name, err)
		}
		res, err := eval.Run(sg.Graph, feed(sg.Graph, 40, r))
		if err != nil {
			t.Fatalf("%s: %v", tr.Name, err)
		}
		loss := res.Outputs["loss"].F[0]
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			t.Fatalf("%s: loss %v", tr.Name, loss)
		}
		// Small random weights: the MLM loss is close to log(vocab).
		if tr.Name == "pretrain" && math.Abs(loss-math.Log(40)) > 0.5 {
			t.Errorf("mlm loss %.3f, want about log(40) = %.3f", loss, math.Log(40))
		}
		if len(res.Updates) == 0 {
			t.Errorf("%s: no updates", tr.Name)
		}
	}
}

// TestMaskedKeysIgnored checks that a padded position does not change the
// outputs at the real positions: the padding mask works.
func TestMaskedKeysIgnored(t *testing.T) {
	p, errs := CheckFile("testdata/text/tiny.enc", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	g, err := p.LowerForward(p.Train("pretrain").Model, map[string]int{"B": 2, "T": 6})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 2))
	inputs := feed(g, 40, r)
	a, err := eval.Run(g, inputs)
	if err != nil {
		t.Fatal(err)
	}
	// Change the token at a padded position (the last of each row).
	ids := inputs["ids"].Clone()
	ids.F[5], ids.F[11] = 7, 9
	inputs["ids"] = ids
	b, err := eval.Run(g, inputs)
	if err != nil {
		t.Fatal(err)
	}
	out := a.Outputs["out"]
	v := out.Type.Shape[2]
	for row := 0; row < 2; row++ {
		for pos := 0; pos < 5; pos++ {
			for j := 0; j < v; j++ {
				i := (row*6+pos)*v + j
				if d := math.Abs(out.F[i] - b.Outputs["out"].F[i]); d > 1e-12 {
					t.Fatalf("row %d position %d changed by %g when a padded token changed", row, pos, d)
				}
			}
		}
	}
	// Without the mask the padded token is attended to.
	changed := false
	for i := range out.F {
		changed = changed || out.F[i] != b.Outputs["out"].F[i]
	}
	if !changed {
		t.Fatal("changing a token changed nothing at all")
	}
}
