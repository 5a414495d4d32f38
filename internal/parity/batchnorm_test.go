package parity

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/runtime/train"
)

// TestBatchNormParity checks BatchNorm1d and BatchNorm2d against
// PyTorch (testdata/torch/batchnorm.*): the eval-mode forward with the
// fixture's running statistics; the train-mode logits, loss and
// gradients of the first step (batch statistics); then three SGD steps
// of the training-step graph, after which every parameter and buffer
// (running_mean, running_var, num_batches_tracked) and the eval-mode
// forward must match PyTorch's.
func TestBatchNormParity(t *testing.T) {
	fx := fixture{name: "batchnorm"}
	l := load(t, fx)
	n := 8
	var bad []string
	gmax := 0.0
	for _, g := range l.grads {
		for _, v := range g {
			gmax = max(gmax, math.Abs(v))
		}
	}
	check := func(what string, got, want []float64, tol float64) {
		if len(got) != len(want) {
			bad = append(bad, fmt.Sprintf("%s: %d values, PyTorch has %d", what, len(got), len(want)))
			return
		}
		floor := 0.0
		if strings.HasPrefix(what, "grad ") {
			// a bias before a BatchNorm has a gradient of exactly zero
			floor = gradFloor * gmax
		}
		e, at := relErr(got, want, floor)
		if floor > 0 && e > tol && maxAbs(got) <= 1e-12*gmax && maxAbs(want) <= 1e-5*gmax {
			// zero in exact arithmetic (a bias just before a BatchNorm):
			// encc's is, PyTorch's is float32 noise
			t.Logf("%-40s zero (PyTorch: noise up to %.2e)", what, maxAbs(want))
			return
		}
		t.Logf("%-40s %.2e", what, e)
		if !(e <= tol) {
			bad = append(bad, fmt.Sprintf("%s: relative error %.3g > %g (worst element %d: encc %.9g, PyTorch %.9g)", what, e, tol, at, got[at], want[at]))
		}
	}
	input := func(i int) map[string][]float64 {
		return map[string][]float64{"x": f64(t, l.file, fmt.Sprintf("input.%d", i)), "image": f64(t, l.file, fmt.Sprintf("input.%d", i)),
			"label": f64(t, l.file, fmt.Sprintf("labels.%d", i))}
	}
	fwd, err := l.prog.LowerForward(l.tr.Model, map[string]int{"B": n})
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, fwd, l.weights, "", input(0))
	check("eval forward before the steps", res.Outputs["out"].F, f64(t, l.file, "logits_eval_before"), forwardTol)

	g, err := l.prog.LowerGrad(l.tr, 0, n, true)
	if err != nil {
		t.Fatal(err)
	}
	res = run(t, g, l.weights, "", input(0))
	check("train forward (pred)", res.Outputs["pred"].F, f64(t, l.file, "logits"), forwardTol)
	check("train loss", res.Outputs["loss"].F, f64(t, l.file, "loss"), forwardTol)
	for _, prm := range l.tr.Params {
		if prm.Buffer {
			continue
		}
		check("grad "+prm.Path, res.Outputs["grad:"+prm.Path].F, l.grads[prm.Path], gradTol)
	}

	// Three steps; the updates (parameters by SGD, buffers by the
	// forward) replace the weights.
	sg, err := l.prog.LowerStep(l.tr, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	w := map[string][]float64{}
	for k, v := range l.weights {
		w[k] = append([]float64(nil), v...)
	}
	updated := map[string]bool{}
	for i := range 3 {
		in := input(i)
		in["lr"], in["step"] = []float64{0.1}, []float64{float64(i + 1)}
		res := run(t, sg.Graph, w, "", in)
		for name, v := range res.Updates {
			w[name] = v.F
			updated[name] = true
		}
	}
	// PyTorch's state after the steps, through the same load mapping.
	path := filepath.Join(fixtureDir, fx.name+".safetensors")
	c, err := train.LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	ac := &train.Checkpoint{Weights: map[string][]float32{}, Shapes: map[string][]int{}}
	for name, v := range c.Weights {
		if k, ok := strings.CutPrefix(name, "after."); ok {
			ac.Weights[k], ac.Shapes[k] = v, c.Shapes[name]
		}
	}
	after, err := train.FitWeights(ac, l.tr.Params, train.LoadSpecOf(l.tr.Init), path+" (after the steps)", l.tr.Model.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, prm := range l.tr.Params {
		if !updated[prm.Path] {
			bad = append(bad, prm.Path+": not updated by the training step")
		}
		check("after 3 steps: "+prm.Path, w[prm.Path], widen(after[prm.Path]), forwardTol)
	}
	res = run(t, fwd, w, "", input(0))
	check("eval forward after the steps", res.Outputs["out"].F, f64(t, l.file, "logits_eval_after"), forwardTol)
	for _, b := range bad {
		t.Error(b)
	}
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}
