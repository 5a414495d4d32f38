package compiler_test

// This file is the differential test of issue 3: the loss and every
// parameter gradient that encc computes (lowering, autodiff, reference
// evaluator) for the digits MLP and CNN programs equal those of an
// independent implementation, gorgonia, on the same weights and batch.
// gorgonia is a test-only dependency.

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir"
	"github.com/encc-lang/encc/ir/eval"
)

const gorgoniaBatch = 8

// encc runs the gradient graph of the program's first train (dropout off)
// in the float64 reference evaluator.
func enccGrads(t *testing.T, file string, weights map[string][]float64, image []float64, labels []float64) map[string][]float64 {
	t.Helper()
	p, errs := compiler.CheckFile(file, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	g, err := p.LowerGrad(p.Trains[0], 0, gorgoniaBatch, false)
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]*eval.Tensor{}
	for _, in := range g.Inputs {
		switch in.Name {
		case "image":
			inputs[in.Name] = eval.New(in.Type, image)
		case "label":
			inputs[in.Name] = eval.New(in.Type, labels)
		default:
			w, ok := weights[in.Name]
			if !ok {
				t.Fatalf("no weights for input %s", in.Name)
			}
			inputs[in.Name] = eval.New(in.Type, w)
		}
	}
	res, err := eval.Run(g, inputs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{"loss": res.Outputs["loss"].F}
	for name, v := range res.Outputs {
		if len(name) > 5 && name[:5] == "grad:" {
			out[name[5:]] = v.F
		}
	}
	return out
}

// paramShapes lists the parameters of the program's first train.
func paramShapes(t *testing.T, file string) ([]string, map[string][]int) {
	p, errs := compiler.CheckFile(file, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var names []string
	shapes := map[string][]int{}
	for _, prm := range p.Trains[0].Params {
		s, _ := prm.Type.ConstShape()
		names = append(names, prm.Path)
		shapes[prm.Path] = s
	}
	return names, shapes
}

func randomWeights(names []string, shapes map[string][]int, r *rand.Rand) map[string][]float64 {
	w := map[string][]float64{}
	for _, n := range names {
		size := ir.Shape(shapes[n]).NumElements()
		fan := 1
		if s := shapes[n]; len(s) > 1 {
			fan = ir.Shape(s[1:]).NumElements()
		} else {
			fan = s[0]
		}
		bound := 1 / math.Sqrt(float64(fan))
		d := make([]float64, size)
		for i := range d {
			d[i] = (2*r.Float64() - 1) * bound
		}
		w[n] = d
	}
	return w
}

func batch(r *rand.Rand) (image, labels []float64) {
	image = make([]float64, gorgoniaBatch*64)
	for i := range image {
		image[i] = r.Float64()
	}
	labels = make([]float64, gorgoniaBatch)
	for i := range labels {
		labels[i] = float64(r.IntN(10))
	}
	return
}

// node makes a gorgonia input holding data.
func node(g *G.ExprGraph, name string, shape []int, data []float64) *G.Node {
	backing := append([]float64(nil), data...)
	return G.NewTensor(g, G.Float64, len(shape), G.WithName(name), G.WithShape(shape...),
		G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(backing))))
}

// linear is x @ wᵀ + b.
func linear(x, w, b *G.Node) *G.Node {
	y := G.Must(G.Mul(x, G.Must(G.Transpose(w))))
	return G.Must(G.BroadcastAdd(y, b, nil, []byte{0}))
}

// crossEntropy is the mean softmax cross-entropy of logits [N, C] against
// one-hot targets.
func crossEntropy(logits *G.Node, onehot *G.Node) *G.Node {
	logp := G.Must(G.Log(G.Must(G.SoftMax(logits))))
	per := G.Must(G.Sum(G.Must(G.HadamardProd(onehot, logp)), 1))
	return G.Must(G.Neg(G.Must(G.Mean(per))))
}

func oneHot(labels []float64) []float64 {
	oh := make([]float64, len(labels)*10)
	for i, l := range labels {
		oh[i*10+int(l)] = 1
	}
	return oh
}

// compare checks encc's loss and gradients against gorgonia's.
func compare(t *testing.T, g *G.ExprGraph, loss *G.Node, params map[string]*G.Node, want map[string][]float64) {
	t.Helper()
	var wrt G.Nodes
	var names []string
	for name, n := range params {
		wrt = append(wrt, n)
		names = append(names, name)
	}
	if _, err := G.Grad(loss, wrt...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	check := func(name string, got []float64, ref []float64) {
		if len(got) != len(ref) {
			t.Fatalf("%s: %d values from gorgonia, %d from encc", name, len(got), len(ref))
		}
		maxDiff, maxAbs := 0.0, 0.0
		for i := range got {
			maxDiff = math.Max(maxDiff, math.Abs(got[i]-ref[i]))
			maxAbs = math.Max(maxAbs, math.Abs(ref[i]))
		}
		if rel := maxDiff / math.Max(maxAbs, 1e-12); rel > 1e-5 {
			t.Errorf("%s: max |Δ| %.3g (relative %.3g) between gorgonia and encc", name, maxDiff, rel)
		}
	}
	check("loss", []float64{loss.Value().Data().(float64)}, want["loss"])
	for i, n := range wrt {
		gv, err := n.Grad()
		if err != nil {
			t.Fatal(err)
		}
		check("grad "+names[i], gv.Data().([]float64), want[names[i]])
	}
}

func TestGorgoniaMLP(t *testing.T) {
	const file = "../examples/digits_mlp.enc"
	r := rand.New(rand.NewPCG(1, 2))
	names, shapes := paramShapes(t, file)
	w := randomWeights(names, shapes, r)
	image, labels := batch(r)
	want := enccGrads(t, file, w, image, labels)

	g := G.NewGraph()
	ps := map[string]*G.Node{}
	for _, n := range names {
		ps[n] = node(g, n, shapes[n], w[n])
	}
	x := node(g, "image", []int{gorgoniaBatch, 64}, image)
	h := G.Must(G.Rectify(linear(x, ps["encoder.fc1.weight"], ps["encoder.fc1.bias"])))
	h = G.Must(G.Rectify(linear(h, ps["encoder.fc2.weight"], ps["encoder.fc2.bias"])))
	logits := linear(h, ps["head.weight"], ps["head.bias"])
	loss := crossEntropy(logits, node(g, "onehot", []int{gorgoniaBatch, 10}, oneHot(labels)))
	compare(t, g, loss, ps, want)
}

func TestGorgoniaCNN(t *testing.T) {
	const file = "../examples/digits_cnn.enc"
	r := rand.New(rand.NewPCG(3, 4))
	names, shapes := paramShapes(t, file)
	w := randomWeights(names, shapes, r)
	image, labels := batch(r)
	want := enccGrads(t, file, w, image, labels)

	g := G.NewGraph()
	ps := map[string]*G.Node{}
	for _, n := range names {
		ps[n] = node(g, n, shapes[n], w[n])
	}
	x := node(g, "image", []int{gorgoniaBatch, 1, 8, 8}, image)
	conv := func(x *G.Node, layer string, out int) *G.Node {
		y := G.Must(G.Conv2d(x, ps[layer+".weight"], tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
		b := G.Must(G.Reshape(ps[layer+".bias"], tensor.Shape{1, out, 1, 1}))
		return G.Must(G.BroadcastAdd(y, b, nil, []byte{0, 2, 3}))
	}
	h := G.Must(G.Rectify(conv(x, "encoder.conv1", 16)))
	h = G.Must(G.Rectify(conv(h, "encoder.conv2", 32)))
	h = G.Must(G.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}))
	h = G.Must(G.Reshape(h, tensor.Shape{gorgoniaBatch, 32 * 16}))
	logits := linear(h, ps["head.weight"], ps["head.bias"])
	loss := crossEntropy(logits, node(g, "onehot", []int{gorgoniaBatch, 10}, oneHot(labels)))
	compare(t, g, loss, ps, want)
}
