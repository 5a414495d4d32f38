package compiler_test

// This file checks the recurrent layers RNN, GRU and LSTM beyond the
// PyTorch parity fixtures of internal/parity: backpropagation through
// time by finite differences (with a padding mask, both directions, two
// layers and an embedding below, whose gradient gathers the per-step
// slices), and the size, compile time and memory of the unrolled graph
// at T = 128 with 2 layers.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/encc-lang/encc/backend/cpu"
	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/ir/eval"
)

const recurrentTemplate = `
dataset d {
    source = synthetic(shape: [T], classes: 3, n: 8, vocab: 12)
}
model M {
    emb  = Embedding(12, IN)
    rnn  = LAYER
    head = Linear(OUT, 3)
    forward(ids: i32[B, T], mask: bool[B, T], label: i32[B]) -> f32[] {
        r = rnn(emb(ids), mask: mask)
        return cross_entropy(head(r.last + mean(r.output, axis: 1)), label) + STATES
    }
}
train t {
    model     = M()
    data      = d
    loss      = model(ids, mask, label)
    optimizer = SGD()
    batch     = B
    epochs    = 1
}
`

// recurrentProgram checks the template with a layer, its input and output widths,
// the sequence length and the batch.
func recurrentProgram(t testing.TB, layer string, in, out, T, B int) *compiler.Program {
	t.Helper()
	states := "mean(r.h_n * r.h_n)"
	if strings.HasPrefix(layer, "LSTM") {
		states += " + mean(r.c_n)"
	}
	src := strings.NewReplacer("LAYER", layer, "IN", fmt.Sprint(in), "OUT", fmt.Sprint(out), "STATES", states,
		"shape: [T]", fmt.Sprintf("shape: [%d]", T), "batch     = B", fmt.Sprintf("batch     = %d", B)).Replace(recurrentTemplate)
	p, errs := compiler.Check("in.enc", []byte(src), nil)
	if len(errs) > 0 {
		t.Fatalf("%s:\n%v", layer, errs)
	}
	return p
}

// TestRecurrentFiniteDifferences checks the gradient of every weight of
// each recurrent layer (the embedding's included) against central
// differences of the loss, evaluated in float64 by the reference
// evaluator, with sequences of 5, 3 and 4 real steps out of 5.
func TestRecurrentFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		layer string
		out   int
	}{
		{"LSTM(4, 3, layers: 2, bidirectional: true)", 6},
		{"GRU(4, 3, layers: 2, bidirectional: true)", 6},
		{`RNN(4, 3, layers: 2, nonlinearity: "tanh")`, 3},
		{`RNN(4, 3, bidirectional: true, nonlinearity: "relu")`, 6},
		{"LSTM(4, 3, bias: false)", 3},
	} {
		t.Run(tc.layer, func(t *testing.T) {
			p := recurrentProgram(t, tc.layer, 4, tc.out, 5, 3)
			g, err := p.LowerGrad(p.Trains[0], 0, 3, false)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(7, 7))
			in := map[string]*eval.Tensor{}
			for _, v := range g.Inputs {
				x := eval.Zeros(v.Type)
				for i := range x.F {
					switch v.Name {
					case "ids":
						x.F[i] = float64(r.IntN(12))
					case "mask":
						if i%5 < []int{5, 3, 4}[i/5] {
							x.F[i] = 1
						}
					case "label":
						x.F[i] = float64(r.IntN(3))
					default:
						x.F[i] = 2*r.Float64() - 1
					}
				}
				in[v.Name] = x
			}
			res, err := eval.Run(g, in)
			if err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				out, err := eval.Run(g, in)
				if err != nil {
					t.Fatal(err)
				}
				return out.Outputs["loss"].F[0]
			}
			const h = 1e-6
			checked := 0
			for name, gt := range res.Outputs {
				w, ok := strings.CutPrefix(name, "grad:")
				if !ok {
					continue
				}
				x := in[w]
				for k := 0; k < 4; k++ {
					i := r.IntN(len(x.F))
					old := x.F[i]
					x.F[i] = old + h
					up := loss()
					x.F[i] = old - h
					down := loss()
					x.F[i] = old
					fd := (up - down) / (2 * h)
					if d := math.Abs(fd - gt.F[i]); d > 1e-6*math.Max(1, math.Abs(fd)) {
						t.Errorf("%s[%d]: autodiff %.9g, finite differences %.9g", w, i, gt.F[i], fd)
					}
					checked++
				}
			}
			if checked < 4*5 {
				t.Fatalf("checked %d gradient elements only", checked)
			}
		})
	}
}

// TestRecurrentPaddingIgnored checks the packed-sequence semantics
// directly: changing the inputs at padded steps changes nothing, not the
// loss and not a gradient (the embedding's included: the padded steps'
// rows get zero gradient wherever they are).
func TestRecurrentPaddingIgnored(t *testing.T) {
	p := recurrentProgram(t, "LSTM(4, 3, layers: 2, bidirectional: true)", 4, 6, 5, 3)
	g, err := p.LowerGrad(p.Trains[0], 0, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 3))
	in := map[string]*eval.Tensor{}
	for _, v := range g.Inputs {
		x := eval.Zeros(v.Type)
		for i := range x.F {
			switch v.Name {
			case "ids":
				x.F[i] = float64(r.IntN(12))
			case "mask":
				if i%5 < []int{5, 3, 4}[i/5] {
					x.F[i] = 1
				}
			case "label":
				x.F[i] = float64(r.IntN(3))
			default:
				x.F[i] = 2*r.Float64() - 1
			}
		}
		in[v.Name] = x
	}
	a, err := eval.Run(g, in)
	if err != nil {
		t.Fatal(err)
	}
	ids := in["ids"]
	for i := range ids.F {
		if in["mask"].F[i] == 0 {
			ids.F[i] = float64((int(ids.F[i]) + 5) % 12)
		}
	}
	b, err := eval.Run(g, in)
	if err != nil {
		t.Fatal(err)
	}
	for name, x := range a.Outputs {
		for i := range x.F {
			if x.F[i] != b.Outputs[name].F[i] {
				t.Fatalf("%s[%d] changed with the padding: %g, then %g", name, i, x.F[i], b.Outputs[name].F[i])
			}
		}
	}
}

// TestRecurrentGraphSize measures the unrolled graph of a 2-layer LSTM
// (hidden 128, batch 64): values of the training step before and after
// the pass pipeline, the time to lower, optimize and compile it for the
// CPU, and its memory plan, at T = 32, 64 and 128, and checks that the
// graph grows linearly in T. The figures are logged (go test -v), not
// asserted: timings on a shared machine vary.
func TestRecurrentGraphSize(t *testing.T) {
	if testing.Short() {
		t.Skip("lowers a 128-step LSTM")
	}
	sizes := map[int]int{}
	for _, T := range []int{32, 64, 128} {
		p := recurrentProgram(t, "LSTM(128, 128, layers: 2)", 128, 128, T, 64)
		start := time.Now()
		sg, err := p.LowerStep(p.Trains[0], 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		lowered := time.Since(start)
		n := len(sg.Graph.Values)
		if err := ir.Optimize(sg.Graph, ir.PipelineOptions{}); err != nil {
			t.Fatal(err)
		}
		optimized := time.Since(start)
		prog, err := cpu.Compile(sg.Graph, cpu.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		_ = prog
		compiled := time.Since(start)
		plan, err := ir.PlanMemory(sg.Graph, ir.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sizes[T] = n
		t.Logf("T=%3d: %6d values lowered, %6d after the pipeline; lower %v, +optimize %v, +cpu compile %v; arena %.1f MiB (%.1f MiB without reuse)",
			T, n, len(sg.Graph.Values), lowered.Round(time.Millisecond), optimized.Round(time.Millisecond), compiled.Round(time.Millisecond),
			float64(plan.Size)/(1<<20), float64(plan.Sum)/(1<<20))
	}
	// Linear: doubling T from 64 to 128 adds twice what 32 to 64 added,
	// give or take the steps' constant part.
	d1, d2 := sizes[64]-sizes[32], sizes[128]-sizes[64]
	if d2 > 2*d1+d1/10 || d2 < 2*d1-d1/10 {
		t.Errorf("graph size is not linear in T: %v", sizes)
	}
}
