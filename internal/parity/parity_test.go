package parity

// The PyTorch parity tests: for each fixture of testdata/torch (written by
// scripts/torch_reference.py), the matching .enc program is checked and
// lowered, the fixture's weights are loaded onto its parameters as encc
// run loads them (train.FitWeights with the train's init = load(...,
// rename:, split:)), and the forward outputs, the loss and every
// gradient, run through the reference evaluator (ir/eval, float64), are
// compared with PyTorch's (float32): forward within 1e-5 and gradients
// within 1e-4, relative, max over elements (see relErr).

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/ir/eval"
	"github.com/encc-lang/encc/runtime/safetensors"
	"github.com/encc-lang/encc/runtime/train"
)

const (
	forwardTol = 1e-5
	gradTol    = 1e-4
	// gradFloor: a gradient tensor is measured against at least gradFloor
	// × the largest gradient element of the model. Attention's key bias
	// has a gradient of exactly zero (adding q·b_k to every score of a
	// query row leaves the softmax unchanged), which PyTorch computes as
	// float32 noise of ~1e-9 and encc as ~1e-19; relative to itself that
	// is an error of 1, relative to the model's gradients it is ~1e-8.
	gradFloor = 1e-3
)

// fixtureDir is testdata/torch at the repository root.
var fixtureDir = filepath.Join("..", "..", "testdata", "torch")

// A fixture is one model of scripts/torch_reference.py. Its .enc train
// says how to load the PyTorch weights (init = load(...) with rename:
// and split:), and the test loads them as encc run does.
type fixture struct {
	name string
	// remap, when not nil, changes the mapping of the .enc file (to check
	// that a wrong one is caught).
	remap func(*train.LoadSpec)
	// encoder names the member whose forward gives the fixture's
	// "output" tensor, with its dimension bindings; "" when there is none.
	encoder string
	encDims map[string]int
}

var fixtures = []fixture{
	{name: "transformer_post", encoder: "encoder", encDims: map[string]int{"B": 3, "T": 5}},
	{name: "transformer_pre", encoder: "encoder", encDims: map[string]int{"B": 3, "T": 5}},
	{name: "mlp"},
	{name: "cnn"},
	{name: "conv1d"},
	{name: "conv2d_grouped"},
	{name: "lstm", encoder: "encoder", encDims: map[string]int{"B": 3, "T": 5}},
	{name: "gru", encoder: "encoder", encDims: map[string]int{"B": 3, "T": 5}},
	{name: "rnn", encoder: "encoder", encDims: map[string]int{"B": 3, "T": 5}},
}

// data tensors of a fixture; every other tensor not named grad.* is a
// weight.
var dataTensors = map[string]bool{"input": true, "mask": true, "labels": true, "output": true, "output_nomask": true, "logits": true, "loss": true, "h_n": true, "c_n": true}

// relErr is max_i |got_i - want_i| / max(max_i |want_i|, floor): the
// largest error relative to the tensor's scale (for a scalar, its
// relative error), with the index of the worst element. The floor keeps
// a tensor that is zero in exact arithmetic from being measured against
// its own float32 rounding noise (see gradFloor).
func relErr(got, want []float64, floor float64) (float64, int) {
	scale := floor
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	if scale == 0 {
		scale = 1
	}
	worst, at := 0.0, -1
	for i := range want {
		d := math.Abs(got[i]-want[i]) / scale
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
			if math.IsNaN(d) {
				worst = math.Inf(1)
				break
			}
		}
	}
	return worst, at
}

type loaded struct {
	file    *safetensors.File
	prog    *compiler.Program
	tr      *compiler.Train
	weights map[string][]float64 // encc path → values
	grads   map[string][]float64 // encc path → PyTorch's gradient
}

func f64(t *testing.T, f *safetensors.File, name string) []float64 {
	t.Helper()
	x := f.Get(name)
	if x == nil {
		t.Fatalf("fixture has no tensor %s", name)
	}
	var out []float64
	if d := string(x.DType); strings.HasPrefix(d, "I") || d == "BOOL" {
		v, err := x.Int32()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range v {
			out = append(out, float64(e))
		}
		return out
	}
	v, err := x.Float32()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range v {
		out = append(out, float64(e))
	}
	return out
}

// load reads a fixture and its .enc program and loads the weights and
// PyTorch's gradients onto the parameters with train.FitWeights and the
// train's own load() spec: the code path of encc run. The gradients
// (grad.<name>) go through the same mapping as the weights they belong
// to.
func load(t *testing.T, fx fixture) *loaded {
	t.Helper()
	path := filepath.Join(fixtureDir, fx.name+".safetensors")
	f, err := safetensors.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	p, errs := compiler.CheckFile(filepath.Join(fixtureDir, fx.name+".enc"), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tr := p.Trains[0]
	if tr.Init == nil || tr.Init.E.Name != "load" {
		t.Fatalf("%s.enc: the train does not load the fixture's weights", fx.name)
	}
	spec := train.LoadSpecOf(tr.Init)
	if fx.remap != nil {
		fx.remap(&spec)
	}
	c, err := train.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := train.FitWeights(c, tr.Params, spec, path, tr.Model.Name())
	if err != nil {
		t.Fatal(err)
	}
	gc := &train.Checkpoint{Weights: map[string][]float32{}, Shapes: map[string][]int{}}
	for name, v := range c.Weights {
		if n, ok := strings.CutPrefix(name, "grad."); ok {
			gc.Weights[n], gc.Shapes[n] = v, c.Shapes[name]
		}
	}
	var trained []*compiler.Param // buffers have no gradient
	for _, prm := range tr.Params {
		if !prm.Buffer {
			trained = append(trained, prm)
		}
	}
	g, err := train.FitWeights(gc, trained, spec, path+" (gradients)", tr.Model.Name())
	if err != nil {
		t.Fatal(err)
	}
	l := &loaded{file: f, prog: p, tr: tr, weights: map[string][]float64{}, grads: map[string][]float64{}}
	for path, v := range w {
		l.weights[path] = widen(v)
		l.grads[path] = widen(g[path])
	}
	return l
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestTorchParity(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			report, bad := compare(t, fx)
			for _, b := range bad {
				t.Error(b)
			}
			t.Logf("%s: max relative error per tensor\n%s", fx.name, strings.Join(report, "\n"))
		})
	}
}

// TestParityCatchesWrongSplit checks that the comparison fails, naming
// the tensors, when q and k are swapped in the split of in_proj_weight.
func TestParityCatchesWrongSplit(t *testing.T) {
	fx := fixtures[0]
	fx.remap = func(s *train.LoadSpec) {
		s.Split["self_attn.in_proj_weight"] = []string{"attn.k.weight", "attn.q.weight", "attn.v.weight"}
	}
	_, bad := compare(t, fx)
	all := strings.Join(bad, "\n")
	for _, want := range []string{"forward logits: relative error", "grad encoder.blocks.0.attn.q.weight: relative error"} {
		if !strings.Contains(all, want) {
			t.Errorf("mismatches lack %q:\n%s", want, all)
		}
	}
}

// compare runs the fixture's model in encc and returns one line per
// compared tensor (name and max relative error) and the mismatches:
// which tensor, how far, and its worst element.
func compare(t *testing.T, fx fixture) (report, bad []string) {
	t.Helper()
	l := load(t, fx)
	input := f64(t, l.file, "input")
	labels := f64(t, l.file, "labels")
	n := len(labels)
	gmax := 0.0
	for _, g := range l.grads {
		for _, v := range g {
			gmax = math.Max(gmax, math.Abs(v))
		}
	}
	check := func(what string, got, want []float64, tol float64) {
		if len(got) != len(want) {
			bad = append(bad, fmt.Sprintf("%s: %d values, PyTorch has %d", what, len(got), len(want)))
			return
		}
		floor := 0.0
		if strings.HasPrefix(what, "grad ") {
			floor = gradFloor * gmax
		}
		e, at := relErr(got, want, floor)
		report = append(report, fmt.Sprintf("%-44s %.2e", what, e))
		if !(e <= tol) {
			bad = append(bad, fmt.Sprintf("%s: relative error %.3g > %g (worst element %d: encc %.9g, PyTorch %.9g)", what, e, tol, at, got[at], want[at]))
		}
	}

	// The model's input: for the transformer a row is the sequence
	// (T×32 values) and then its mask as 0/1.
	x, field := input, "image"
	var mask []float64
	if fx.encoder != "" {
		mask = f64(t, l.file, "mask")
		x, field = nil, "x"
		row, m := len(input)/n, len(mask)/n
		for i := range n {
			x = append(x, input[i*row:(i+1)*row]...)
			x = append(x, mask[i*m:(i+1)*m]...)
		}
	}

	// forward of the whole model: logits
	g, err := l.prog.LowerForward(l.tr.Model, map[string]int{"B": n})
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, g, l.weights, "", map[string][]float64{"x": x})
	check("forward logits", res.Outputs["out"].F, f64(t, l.file, "logits"), forwardTol)

	// forward of the encoder alone, with the padding mask and with every
	// position real (PyTorch: no mask)
	if fx.encoder != "" {
		v, ok := l.tr.Model.Member(fx.encoder)
		enc, _ := v.(*compiler.InstanceV)
		if !ok || enc == nil {
			t.Fatalf("model has no member %s", fx.encoder)
		}
		g, err := l.prog.LowerForward(enc.I, fx.encDims)
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, g, l.weights, fx.encoder+".", map[string][]float64{"x": input, "mask": mask})
		check("forward "+fx.encoder+" output (mask)", res.Outputs["out"].F, f64(t, l.file, "output"), forwardTol)
		ones := make([]float64, len(mask))
		for i := range ones {
			ones[i] = 1
		}
		res = run(t, g, l.weights, fx.encoder+".", map[string][]float64{"x": input, "mask": ones})
		check("forward "+fx.encoder+" output (no mask)", res.Outputs["out"].F, f64(t, l.file, "output_nomask"), forwardTol)
	}

	// final states of recurrent layers: model HN (CN) of the .enc file
	// returns the h_n (c_n) of a layer named rnn, whose weights are the
	// encoder's.
	for _, st := range []struct{ model, tensor string }{{"HN", "h_n"}, {"CN", "c_n"}} {
		if l.file.Get(st.tensor) == nil {
			continue
		}
		var in *compiler.Instance
		for _, m := range l.prog.Models {
			if m.Name == st.model {
				in = m.Default
			}
		}
		if in == nil {
			t.Fatalf("%s.enc has no model %s for the fixture's %s", fx.name, st.model, st.tensor)
		}
		g, err := l.prog.LowerForward(in, fx.encDims)
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, g, l.weights, fx.encoder+".", map[string][]float64{"x": input, "mask": mask})
		check("forward "+st.tensor+" (mask)", res.Outputs["out"].F, f64(t, l.file, st.tensor), forwardTol)
	}

	// loss and gradients
	g, err = l.prog.LowerGrad(l.tr, 0, n, false)
	if err != nil {
		t.Fatal(err)
	}
	res = run(t, g, l.weights, "", map[string][]float64{field: x, "label": labels})
	check("loss", res.Outputs["loss"].F, f64(t, l.file, "loss"), forwardTol)
	for _, prm := range l.tr.Params {
		got := res.Outputs["grad:"+prm.Path]
		if got == nil {
			bad = append(bad, "no gradient output for "+prm.Path)
			continue
		}
		check("grad "+prm.Path, got.F, l.grads[prm.Path], gradTol)
	}
	return report, bad
}

// run evaluates g on data inputs by name and parameters from weights:
// a graph input named like a parameter path, or, for a member's forward,
// the path under prefix.
func run(t *testing.T, g *ir.Graph, weights map[string][]float64, prefix string, data map[string][]float64) *eval.Result {
	t.Helper()
	inputs := map[string]*eval.Tensor{}
	for _, in := range g.Inputs {
		v, ok := data[in.Name]
		if !ok {
			v, ok = weights[in.Name]
		}
		if !ok {
			v, ok = weights[prefix+in.Name]
		}
		if !ok {
			t.Fatalf("graph %s: no value for input %s %s", g.Name, in.Name, in.Type)
		}
		if len(v) != in.Type.NumElements() {
			t.Fatalf("graph %s: input %s %s: fixture has %d values", g.Name, in.Name, in.Type, len(v))
		}
		inputs[in.Name] = eval.New(in.Type, v)
	}
	res, err := eval.Run(g, inputs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
