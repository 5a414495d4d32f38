package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/ir/eval"
)

// stepGraph lowers phase ph of train tr of an example to a training-step
// graph at batch size batch, optimized by the ir pipeline if opt.
func stepGraph(t testing.TB, file string, tr, ph, batch int, opt bool) *ir.Graph {
	t.Helper()
	path := "../../examples/" + file + ".enc"
	if strings.Contains(file, "/") { // a path from the repository root
		path = "../../" + file
	}
	p, diags := compiler.CheckFile(path, nil)
	if p == nil || diags.Err() != nil {
		t.Fatalf("%s: %v", file, diags)
	}
	sg, err := p.LowerStep(p.Trains[tr], ph, batch)
	if err != nil {
		t.Fatal(err)
	}
	if opt {
		if err := ir.Optimize(sg.Graph, ir.PipelineOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return sg.Graph
}

// initInputs draws the inputs of a training step: parameters uniform in
// ±0.3, zero optimizer state, images in [0,1), labels in [0,10), lr,
// step 1, a seed and lr scales of 0.1.
func initInputs(g *ir.Graph, r *rand.Rand) map[string][]float64 {
	vals := map[string][]float64{}
	for _, v := range g.Inputs {
		x := make([]float64, v.Type.NumElements())
		switch v.Role() {
		case ir.RoleParam:
			for i := range x {
				x[i] = float64(float32(0.6*r.Float64() - 0.3))
			}
		case ir.RoleData:
			for i := range x {
				if v.Type.DType.IsInt() {
					x[i] = float64(r.Intn(10))
				} else {
					x[i] = float64(float32(r.Float64()))
				}
			}
		case ir.RoleScalar:
			switch {
			case v.Name == "lr":
				x[0] = float64(float32(0.01))
			case v.Name == "step":
				x[0] = 1
			case v.Name == "seed":
				x[0] = 7
			case strings.HasSuffix(v.Name, ":lr_scale"):
				x[0] = float64(float32(0.1))
			}
		}
		vals[v.Name] = x
	}
	return vals
}

// bindAll binds every input of p to a copy of vals.
func bindAll(t testing.TB, p *Program, g *ir.Graph, vals map[string][]float64) {
	for _, v := range g.Inputs {
		bind(t.(*testing.T), p, v.Name, v.Type, vals[v.Name])
	}
}

// feedOf returns eval tensors of vals.
func feedOf(g *ir.Graph, vals map[string][]float64) map[string]*eval.Tensor {
	feed := map[string]*eval.Tensor{}
	for _, v := range g.Inputs {
		feed[v.Name] = eval.New(v.Type, append([]float64(nil), vals[v.Name]...))
	}
	return feed
}

// trainCases are the example training steps: file, train, phase.
var trainCases = []struct {
	file   string
	tr, ph int
}{
	{"digits_mlp", 0, 0},
	{"digits_cnn", 0, 0},
	{"custom_layer", 0, 0},
	{"digits_finetune", 0, 0}, // pretrain
	{"digits_finetune", 1, 0}, // finetune, encoder frozen
	{"digits_finetune", 1, 1}, // finetune, all, encoder lr scaled
}

// TestTrainSteps runs two training steps of every example on the CPU
// and in ir/eval and compares the loss, the predictions and every
// updated parameter and optimizer state, on the lowered graph and on the
// graph after the ir pipeline (fused ops).
func TestTrainSteps(t *testing.T) {
	for _, tc := range trainCases {
		for _, opt := range []bool{false, true} {
			name := fmt.Sprintf("%s/%d.%d/optimized=%v", tc.file, tc.tr, tc.ph, opt)
			t.Run(name, func(t *testing.T) {
				ref := stepGraph(t, tc.file, tc.tr, tc.ph, 32, false)
				g := ref
				if opt {
					g = stepGraph(t, tc.file, tc.tr, tc.ph, 32, true)
				}
				r := rand.New(rand.NewSource(3))
				vals := initInputs(ref, r)
				p, err := Compile(g, Options{})
				if err != nil {
					t.Fatal(err)
				}
				bindAll(t, p, g, vals)
				for step := 1; step <= 2; step++ {
					vals["step"] = []float64{float64(step)}
					p.SetScalar("step", float64(step))
					want, err := eval.Run(ref, feedOf(ref, vals))
					if err != nil {
						t.Fatal(err)
					}
					if err := p.Run(); err != nil {
						t.Fatal(err)
					}
					for _, o := range []string{"loss", "pred"} {
						w := want.Outputs[o]
						if err := compareTensor(fmt.Sprintf("step %d %s", step, o), ir.F32, values(p.outputs[o]), w.F, 1e-4); err != nil {
							t.Error(err)
						}
					}
					if len(want.Updates) == 0 {
						t.Fatal("no updates")
					}
					for in, w := range want.Updates {
						if err := compareTensor(fmt.Sprintf("step %d update %s", step, in), ir.F32, values(p.inputs[in]), w.F, 1e-4); err != nil {
							t.Error(err)
						}
						vals[in] = w.F
					}
				}
			})
		}
	}
}

// TestFrozenUntouched checks that the encoder of digits_finetune's
// frozen phase keeps its bound weights bit for bit while the head moves.
func TestFrozenUntouched(t *testing.T) {
	g := stepGraph(t, "digits_finetune", 1, 0, 32, true)
	p, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	vals := initInputs(g, rand.New(rand.NewSource(5)))
	bindAll(t, p, g, vals)
	enc := append([]float32(nil), p.Float32("encoder.fc1.weight")...)
	head := append([]float32(nil), p.Float32("head.weight")...)
	for range 3 {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range p.Float32("encoder.fc1.weight") {
		if v != enc[i] {
			t.Fatalf("frozen encoder.fc1.weight[%d] changed", i)
		}
	}
	same := true
	for i, v := range p.Float32("head.weight") {
		same = same && v == head[i]
	}
	if same {
		t.Fatal("head.weight did not change")
	}
}

// newMLP compiles digits_mlp's (optimized) training step with random
// inputs bound.
func newMLP(t *testing.T, opts Options, opt bool) (*Program, *ir.Graph) {
	g := stepGraph(t, "digits_mlp", 0, 0, 32, opt)
	p, err := Compile(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	bindAll(t, p, g, initInputs(g, rand.New(rand.NewSource(9))))
	p.SetScalar("lr", 1e-3)
	return p, g
}

// TestLossDecreases trains digits_mlp for 50 steps on one fixed batch.
func TestLossDecreases(t *testing.T) {
	p, _ := newMLP(t, Options{}, true)
	var first, last float32
	for step := 1; step <= 50; step++ {
		p.SetScalar("step", float64(step))
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		loss := p.Float32("loss")[0]
		if math.IsNaN(float64(loss)) {
			t.Fatalf("step %d: loss is NaN", step)
		}
		if step == 1 {
			first = loss
		}
		last = loss
	}
	t.Logf("loss %.4f → %.4f", first, last)
	if !(last < first/3) {
		t.Fatalf("loss %v → %v after 50 steps: not learning", first, last)
	}
}

// TestDeterministic runs the same steps twice from the same state, and
// checks every parameter and the loss are bit-identical.
func TestDeterministic(t *testing.T) {
	for _, threads := range []int{1, 2} {
		var losses [2][]float32
		var params [2][]float32
		for run := range 2 {
			for _, tc := range []string{"digits_mlp", "digits_cnn"} {
				g := stepGraph(t, tc, 0, 0, 32, true)
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				bindAll(t, p, g, initInputs(g, rand.New(rand.NewSource(2))))
				for step := 1; step <= 5; step++ {
					p.SetScalar("step", float64(step))
					if err := p.Run(); err != nil {
						t.Fatal(err)
					}
					losses[run] = append(losses[run], p.Float32("loss")[0])
				}
				for _, v := range g.Inputs {
					if v.Role() == ir.RoleParam {
						params[run] = append(params[run], p.Float32(v.Name)...)
					}
				}
			}
		}
		for i := range losses[0] {
			if math.Float32bits(losses[0][i]) != math.Float32bits(losses[1][i]) {
				t.Fatalf("threads=%d: loss %d differs: %v vs %v", threads, i, losses[0][i], losses[1][i])
			}
		}
		for i := range params[0] {
			if math.Float32bits(params[0][i]) != math.Float32bits(params[1][i]) {
				t.Fatalf("threads=%d: parameter element %d differs", threads, i)
			}
		}
	}
}

// TestZeroAllocs checks that a training step allocates nothing: the
// digits examples and the W1 (MLP) and W3 (LeNet) workloads of bench/ at
// their batch size of 64, on all cores and on 2 (stages run on 2 cores
// or more, even where the machine has one).
func TestZeroAllocs(t *testing.T) {
	for _, tc := range []string{"digits_mlp", "digits_cnn", "bench/w1_mlp.enc", "bench/w3_cnn.enc"} {
		batch := 32
		if strings.HasPrefix(tc, "bench/") {
			batch = 64
		}
		for _, opt := range []bool{false, true} {
			for _, threads := range []int{0, 2} {
				g := stepGraph(t, tc, 0, 0, batch, opt)
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				bindAll(t, p, g, initInputs(g, rand.New(rand.NewSource(4))))
				step := 1
				allocs := testing.AllocsPerRun(20, func() {
					p.SetScalar("step", float64(step))
					step++
					if err := p.Run(); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("%s optimized=%v threads=%d: %v allocations per step, want 0", tc, opt, threads, allocs)
				}
			}
		}
	}
}

// TestZeroAllocsTransformer checks that the W4 and W5 training steps of
// bench/ (ids shifted past the special tokens, labels in {0, 1})
// allocate nothing.
func TestZeroAllocsTransformer(t *testing.T) {
	for tr := range 2 {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 32, true)
		p, err := Compile(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		vals := initInputs(g, rand.New(rand.NewSource(4)))
		for k, v := range vals {
			if k == "ids" {
				for i := range v {
					v[i] = float64(int(v[i]) + 4)
				}
			}
			if k == "label" {
				for i := range v {
					v[i] = float64(int(v[i]) % 2)
				}
			}
		}
		bindAll(t, p, g, vals)
		step := 1
		for range 3 {
			p.SetScalar("step", float64(step))
			step++
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
		}
		allocs := testing.AllocsPerRun(10, func() {
			p.SetScalar("step", float64(step))
			step++
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("transformer train %d: %v allocations per step, want 0", tr, allocs)
		}
	}
}
