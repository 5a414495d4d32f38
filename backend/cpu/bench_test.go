package cpu

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/internal/cputime"
	"github.com/encc-lang/encc/ir"
)

// must panics on a builder error (benchmark graphs are fixed).
func must(v *ir.Value, err error) *ir.Value {
	if err != nil {
		panic(err)
	}
	return v
}

// linear appends x·wᵀ + b with parameters named name.weight, name.bias.
func linear(b *ir.Builder, x *ir.Value, name string, in, out int) (*ir.Value, []*ir.Value) {
	w := must(b.Input(name+".weight", ir.RoleParam, f32(out, in)))
	bias := must(b.Input(name+".bias", ir.RoleParam, f32(out)))
	y := must(b.MatMul(x, w, ir.MatMulAttr{TransposeB: true}))
	return must(b.Add(y, bias)), []*ir.Value{w, bias}
}

// trainStep finishes a graph whose logits are given: mean softmax cross
// entropy against labels, Adam(1e-3) updates, the ir pipeline.
func trainStep(g *ir.Graph, b *ir.Builder, logits, labels *ir.Value, params []*ir.Value) *ir.Graph {
	return trainStepOpt(g, b, logits, labels, params, ir.Optimizer{Kind: ir.Adam, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
}

// trainStepOpt is trainStep with the optimizer given.
func trainStepOpt(g *ir.Graph, b *ir.Builder, logits, labels *ir.Value, params []*ir.Value, opt ir.Optimizer) *ir.Graph {
	loss := must(b.SoftmaxCrossEntropy(logits, labels, 0))
	g.AddOutput("loss", loss)
	g.AddOutput("pred", logits)
	lr := must(b.Input("lr", ir.RoleScalar, f32()))
	step := must(b.Input("step", ir.RoleScalar, i64()))
	if err := ir.TrainStep(g, loss, params, opt, lr, step, nil); err != nil {
		panic(err)
	}
	if err := ir.Optimize(g, ir.PipelineOptions{}); err != nil {
		panic(err)
	}
	return g
}

// mlpGraph is W1: 784-256-ReLU-128-ReLU-10, softmax cross entropy,
// Adam(1e-3), as one training step at batch size n.
func mlpGraph(n int) *ir.Graph {
	return mlpGraphOpt(n, ir.Optimizer{Kind: ir.Adam, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
}

// mlpGraphOpt is mlpGraph with the optimizer given.
func mlpGraphOpt(n int, opt ir.Optimizer) *ir.Graph {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x := must(b.Input("image", ir.RoleData, f32(n, 784)))
	y := must(b.Input("label", ir.RoleData, i32(n)))
	var params []*ir.Value
	dims := []int{784, 256, 128, 10}
	h := x
	for i := range 3 {
		var ps []*ir.Value
		h, ps = linear(b, h, fmt.Sprintf("fc%d", i+1), dims[i], dims[i+1])
		params = append(params, ps...)
		if i < 2 {
			h = must(b.Relu(h))
		}
	}
	return trainStepOpt(g, b, h, y, params, opt)
}

// lenetGraph is W3: LeNet on 1×28×28 at batch size n.
func lenetGraph(n int) *ir.Graph {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x := must(b.Input("image", ir.RoleData, f32(n, 1, 28, 28)))
	y := must(b.Input("label", ir.RoleData, i32(n)))
	var params []*ir.Value
	conv := func(x *ir.Value, name string, in, out int, pad int) *ir.Value {
		w := must(b.Input(name+".weight", ir.RoleParam, f32(out, in, 5, 5)))
		bias := must(b.Input(name+".bias", ir.RoleParam, f32(out)))
		params = append(params, w, bias)
		c := must(b.Conv2D(x, w, ir.Conv2DAttr{Stride: [2]int{1, 1}, Padding: [2]int{pad, pad}, Dilation: [2]int{1, 1}}))
		c = must(b.Add(c, must(b.Reshape(bias, ir.Shape{1, out, 1, 1}))))
		return must(b.MaxPool2D(must(b.Relu(c)), ir.Pool2DAttr{Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}}))
	}
	h := conv(x, "conv1", 1, 6, 2)
	h = conv(h, "conv2", 6, 16, 0)
	h = must(b.Reshape(h, ir.Shape{n, 400}))
	dims := []int{400, 120, 84, 10}
	for i := range 3 {
		var ps []*ir.Value
		h, ps = linear(b, h, fmt.Sprintf("fc%d", i+1), dims[i], dims[i+1])
		params = append(params, ps...)
		if i < 2 {
			h = must(b.Relu(h))
		}
	}
	return trainStep(g, b, h, y, params)
}

// fillInputs gives g's inputs in p seeded random values: parameters
// uniform in [-0.1, 0.1), f32 data standard normal, i32 inputs (labels,
// token ids) in [0, ids).
func fillInputs(p *Program, g *ir.Graph, ids int) {
	r := rand.New(rand.NewSource(1))
	for _, v := range g.Inputs {
		switch {
		case v.Role() == ir.RoleParam:
			x := p.Float32(v.Name)
			for i := range x {
				x[i] = float32(0.2*r.Float64() - 0.1)
			}
		case v.Type.DType == ir.F32 && v.Role() == ir.RoleData:
			x := p.Float32(v.Name)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
		case v.Type.DType == ir.I32:
			x := p.Int32(v.Name)
			for i := range x {
				x[i] = int32(r.Intn(ids))
			}
		}
	}
}

// benchStep times Run on g at batch size n and reports samples/s.
func benchStep(b *testing.B, g *ir.Graph, n int) {
	p, err := Compile(g, Options{})
	if err != nil {
		b.Fatal(err)
	}
	fillInputs(p, g, 2) // a label or token id valid for every model here
	p.SetScalar("lr", 1e-3)
	step := 1
	run := func() {
		p.SetScalar("step", float64(step))
		step++
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
	}
	for range 5 {
		run()
	}
	b.ReportAllocs()
	w0 := parallel.Default().Wakeups()
	b.ResetTimer()
	c0 := cputime.Process()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	// Process CPU per step: the figure to compare on a loaded machine,
	// where wall time is disturbed (0 where it is not read).
	b.ReportMetric(float64((cputime.Process()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/step")
	// Parked pool helpers woken per step (each a channel wake-up).
	b.ReportMetric(float64(parallel.Default().Wakeups()-w0)/float64(b.N), "wakeups/step")
}

// BenchmarkTrainStep times whole training steps: the digits examples at
// batch 32, W1 (the 784-256-128-10 MLP) and W3 (LeNet) at batch 64, W4
// (the transformer) and W5 (its fine-tune) at batch 32.
func BenchmarkTrainStep(b *testing.B) {
	b.Run("digits_mlp", func(b *testing.B) { benchStep(b, stepGraph(b, "digits_mlp", 0, 0, 32, true), 32) })
	b.Run("digits_cnn", func(b *testing.B) { benchStep(b, stepGraph(b, "digits_cnn", 0, 0, 32, true), 32) })
	b.Run("w1_mlp", func(b *testing.B) { benchStep(b, mlpGraph(64), 64) })
	b.Run("w3_lenet", func(b *testing.B) { benchStep(b, lenetGraph(64), 64) })
	b.Run("w4_transformer", func(b *testing.B) { benchStep(b, stepGraph(b, "bench/w4_transformer.enc", 0, 0, 32, true), 32) })
	b.Run("w5_finetune", func(b *testing.B) { benchStep(b, stepGraph(b, "bench/w4_transformer.enc", 1, 0, 32, true), 32) })
}

// mlpForward is W2: the W1 MLP's forward at batch size n, optimized.
func mlpForward(n int) *ir.Graph {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	h := must(b.Input("image", ir.RoleData, f32(n, 784)))
	dims := []int{784, 256, 128, 10}
	for i := range 3 {
		h, _ = linear(b, h, fmt.Sprintf("fc%d", i+1), dims[i], dims[i+1])
		if i < 2 {
			h = must(b.Relu(h))
		}
	}
	g.AddOutput("out", h)
	if err := ir.Optimize(g, ir.PipelineOptions{}); err != nil {
		panic(err)
	}
	return g
}

// BenchmarkInfer times W2, the MLP's forward, at batch 1 and 256.
func BenchmarkInfer(b *testing.B) {
	for _, n := range []int{1, 256} {
		b.Run(fmt.Sprint("batch", n), func(b *testing.B) {
			p, err := Compile(mlpForward(n), Options{})
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewSource(1))
			for _, v := range p.Inputs() {
				x := p.Float32(v.Name)
				for i := range x {
					x[i] = float32(0.1 * r.NormFloat64())
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkCrossEntropyGrad: W1's loss gradient (64 rows of 10 logits),
// one core.
func BenchmarkCrossEntropyGrad(b *testing.B) {
	g := ir.NewGraph()
	bd := ir.NewBuilder(g)
	x := must(bd.Input("x", ir.RoleData, f32(64, 10)))
	y := must(bd.Input("y", ir.RoleData, ir.TensorOf(ir.I32, 64)))
	dl := must(bd.Input("dl", ir.RoleData, f32()))
	g.AddOutput("dx", must(bd.SoftmaxCrossEntropyBackward(x, y, dl, 0)))
	p, err := Compile(g, Options{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	for i, xs := 0, p.Float32("x"); i < len(xs); i++ {
		xs[i] = float32(r.NormFloat64())
	}
	for i, ys := 0, p.Int32("y"); i < len(ys); i++ {
		ys[i] = int32(r.Intn(10))
	}
	p.Float32("dl")[0] = 1
	b.ResetTimer()
	for range b.N {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBiasGrad: reduce_to [rows, n] → [n], the bias gradients of W1
// (64×256) and W4 (2048×512), one core.
func BenchmarkBiasGrad(b *testing.B) {
	for _, s := range [][2]int{{64, 256}, {2048, 512}} {
		b.Run(fmt.Sprintf("%dx%d", s[0], s[1]), func(b *testing.B) {
			g := ir.NewGraph()
			bd := ir.NewBuilder(g)
			x := must(bd.Input("x", ir.RoleData, f32(s[0], s[1])))
			g.AddOutput("y", must(bd.ReduceTo(x, ir.Shape{s[1]})))
			p, err := Compile(g, Options{Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			for i, xs := 0, p.Float32("x"); i < len(xs); i++ {
				xs[i] = float32(i%13) - 6
			}
			b.ResetTimer()
			for range b.N {
				if err := p.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchRuns runs p b.N times and reports, besides the wall time, the
// process's CPU time per run (cpu-ns/op), which a machine shared with
// other work disturbs less.
func benchRuns(b *testing.B, p *Program) {
	c0 := cputime.Process()
	for b.Loop() {
		if err := p.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cputime.Process()-c0)/float64(b.N), "cpu-ns/op")
}
