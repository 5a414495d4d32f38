package compiler_test

// This file checks the gradients of attention and LayerNorm, which the
// stdlib's transformer builds from IR ops: by finite differences on a
// whole text classifier (padding mask included), and against gorgonia
// for single-head attention.

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/encc-lang/encc/compiler"
	"github.com/encc-lang/encc/ir/eval"
)

func TestAttentionFiniteDifferences(t *testing.T) {
	p, errs := compiler.CheckFile("testdata/attention/tiny_text.enc", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	g, err := p.LowerGrad(p.Trains[0], 0, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	in := map[string]*eval.Tensor{}
	for _, v := range g.Inputs {
		x := eval.Zeros(v.Type)
		for i := range x.F {
			switch v.Name {
			case "ids":
				x.F[i] = float64(4 + r.IntN(16))
			case "mask":
				// rows of 5, 3 and 4 real tokens
				x.F[i] = b2f(i%5 < []int{5, 3, 4}[i/5])
			case "label":
				x.F[i] = float64(r.IntN(3))
			default:
				x.F[i] = 0.5 * (2*r.Float64() - 1)
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
		if len(name) < 6 || name[:5] != "grad:" {
			continue
		}
		w := in[name[5:]]
		for k := 0; k < 6; k++ {
			i := r.IntN(len(w.F))
			old := w.F[i]
			w.F[i] = old + h
			up := loss()
			w.F[i] = old - h
			down := loss()
			w.F[i] = old
			fd := (up - down) / (2 * h)
			if d := math.Abs(fd - gt.F[i]); d > 1e-6*math.Max(1, math.Abs(fd)) {
				t.Errorf("%s[%d]: autodiff %.9g, finite differences %.9g", name[5:], i, gt.F[i], fd)
			}
			checked++
		}
	}
	if checked < 60 {
		t.Fatalf("checked only %d gradient elements", checked)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestAttentionGorgonia(t *testing.T) {
	const file = "testdata/attention/single_head.enc"
	r := rand.New(rand.NewPCG(9, 9))
	names, shapes := paramShapes(t, file)
	w := randomWeights(names, shapes, r)
	x := make([]float64, 6*8)
	for i := range x {
		x[i] = 2*r.Float64() - 1
	}
	label := []float64{1}

	p, _ := compiler.CheckFile(file, nil)
	g, err := p.LowerGrad(p.Trains[0], 0, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string]*eval.Tensor{}
	for _, in := range g.Inputs {
		switch in.Name {
		case "x":
			inputs[in.Name] = eval.New(in.Type, x)
		case "label":
			inputs[in.Name] = eval.New(in.Type, label)
		default:
			inputs[in.Name] = eval.New(in.Type, w[in.Name])
		}
	}
	res, err := eval.Run(g, inputs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float64{"loss": res.Outputs["loss"].F}
	for _, n := range names {
		want[n] = res.Outputs["grad:"+n].F
	}

	gg := G.NewGraph()
	ps := map[string]*G.Node{}
	for _, n := range names {
		ps[n] = node(gg, n, shapes[n], w[n])
	}
	xn := node(gg, "x", []int{6, 8}, x)
	q := linear(xn, ps["attn.q.weight"], ps["attn.q.bias"])
	k := linear(xn, ps["attn.k.weight"], ps["attn.k.bias"])
	v := linear(xn, ps["attn.v.weight"], ps["attn.v.bias"])
	scores := G.Must(G.Mul(G.Must(G.Mul(q, G.Must(G.Transpose(k)))), G.NewConstant(1/math.Sqrt(8))))
	a := G.Must(G.SoftMax(scores))
	o := linear(G.Must(G.Mul(a, v)), ps["attn.o.weight"], ps["attn.o.bias"])
	pooled := G.Must(G.Reshape(G.Must(G.Mean(o, 0)), tensor.Shape{1, 8}))
	logits := linear(pooled, ps["head.weight"], ps["head.bias"])
	loss := crossEntropy2(logits, node(gg, "onehot", []int{1, 2}, []float64{0, 1}))
	compare(t, gg, loss, ps, want)
}

// crossEntropy2 is crossEntropy for two classes.
func crossEntropy2(logits, onehot *G.Node) *G.Node {
	logp := G.Must(G.Log(G.Must(G.SoftMax(logits))))
	per := G.Must(G.Sum(G.Must(G.HadamardProd(onehot, logp)), 1))
	return G.Must(G.Neg(G.Must(G.Mean(per))))
}
