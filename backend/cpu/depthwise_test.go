package cpu

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// depthwiseCases are depthwise geometries (groups = input channels): the
// MobileNet blocks (3×3, padding 1, stride 1 and 2), rows long enough for
// the vector blocks and rows shorter than one, dilation, a channel
// multiplier of 2, a wide padding that leaves taps with no input, and a
// Conv1d.
var depthwiseCases = []struct {
	name string
	at   ir.Conv2DAttr
	x, w ir.Shape
}{
	{"same", ir.Conv2DAttr{Padding: [2]int{1, 1}, Groups: 4}, ir.Shape{5, 4, 9, 10}, ir.Shape{4, 1, 3, 3}},
	{"stride2", ir.Conv2DAttr{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, Groups: 6}, ir.Shape{3, 6, 28, 28}, ir.Shape{6, 1, 3, 3}},
	{"wide", ir.Conv2DAttr{Padding: [2]int{1, 1}, Groups: 3}, ir.Shape{2, 3, 14, 21}, ir.Shape{3, 1, 3, 3}},
	{"dilated", ir.Conv2DAttr{Stride: [2]int{2, 1}, Padding: [2]int{2, 3}, Dilation: [2]int{2, 3}, Groups: 2}, ir.Shape{4, 2, 11, 17}, ir.Shape{2, 1, 3, 3}},
	{"multiplier", ir.Conv2DAttr{Stride: [2]int{1, 3}, Padding: [2]int{0, 2}, Groups: 3}, ir.Shape{2, 3, 7, 13}, ir.Shape{6, 1, 2, 5}},
	{"padded", ir.Conv2DAttr{Padding: [2]int{4, 4}, Groups: 2}, ir.Shape{1, 2, 3, 3}, ir.Shape{2, 1, 3, 3}},
	{"conv1d", ir.Conv2DAttr{Stride: [2]int{1, 2}, Padding: [2]int{0, 1}, Dilation: [2]int{1, 2}, Groups: 5}, ir.Shape{4, 5, 1, 40}, ir.Shape{5, 1, 1, 3}},
}

// depthwiseOpCases are the three convolution ops on depthwiseCases, the
// forward also with a per-channel bias (fused into the kernel).
func depthwiseOpCases() []opCase {
	var cs []opCase
	for _, cv := range depthwiseCases {
		cs = append(cs, depthwiseOpCasesOf(cv.name, cv.at, cv.x, cv.w)...)
	}
	return cs
}

// depthwiseOpCasesOf are the op cases of one depthwise geometry.
func depthwiseOpCasesOf(name string, at ir.Conv2DAttr, xs, ws ir.Shape) []opCase {
	f32 := func(s ir.Shape) in { return in{t: ir.Type{DType: ir.F32, Shape: s}} }
	g := ir.NewGraph()
	bb := ir.NewBuilder(g)
	xv, _ := bb.Input("x", ir.RoleData, f32(xs).t)
	wv, _ := bb.Input("w", ir.RoleData, f32(ws).t)
	y, err := bb.Conv2D(xv, wv, at)
	if err != nil {
		panic(err)
	}
	ys := y.Type.Shape
	return []opCase{
		{op: ir.OpConv2D, name: name, ins: []in{f32(xs), f32(ws)},
			build: bin(func(b *ir.Builder, x, w *ir.Value) (*ir.Value, error) { return b.Conv2D(x, w, at) })},
		{op: ir.OpConv2D, name: name + "_bias", ins: []in{f32(xs), f32(ws), f32(ir.Shape{ws[0], 1, 1})},
			build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
				y, err := b.Conv2D(x[0], x[1], at)
				if err != nil {
					return nil, err
				}
				return b.Add(y, x[2])
			}},
		{op: ir.OpConv2DBackwardInput, name: name, ins: []in{f32(ys), f32(ws)},
			build: bin(func(b *ir.Builder, dy, w *ir.Value) (*ir.Value, error) { return b.Conv2DBackwardInput(dy, w, xs, at) })},
		{op: ir.OpConv2DBackwardWeight, name: name, ins: []in{f32(xs), f32(ys)},
			build: bin(func(b *ir.Builder, x, dy *ir.Value) (*ir.Value, error) { return b.Conv2DBackwardWeight(x, dy, ws, at) })},
	}
}

// TestDepthwise checks the direct depthwise kernels against ir/eval (all
// planner options, 1 and 2 threads) with and without AVX2, and that the
// backend chose them.
func TestDepthwise(t *testing.T) {
	defer func(s bool) { simdOn = s }(simdOn)
	r := rand.New(rand.NewSource(3))
	for _, vec := range []bool{false, true} {
		if vec && !hasAVX2FMA {
			continue
		}
		simdOn = vec
		for _, c := range depthwiseOpCases() {
			t.Run(fmt.Sprintf("%s/%s/avx2=%v", c.op, c.name, vec), func(t *testing.T) {
				c.check(t, r)
				g, err := c.graph()
				if err != nil {
					t.Fatal(err)
				}
				p, err := compile(g, Options{Threads: 2}, ir.PlanOptions{})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, s := range p.steps {
					if k, ok := s.k.(*convKernel); ok {
						if !k.depthwise {
							t.Fatalf("%s: the GEMM path, not the depthwise kernel", s.v.Op)
						}
						n++
						if strings.HasSuffix(c.name, "_bias") && k.rowBias == nil {
							t.Fatal("the bias is not fused into the depthwise conv")
						}
					}
				}
				if n != 1 {
					t.Fatalf("%d conv kernels, want 1", n)
				}
			})
		}
	}
}

// TestDepthwiseMatchesGEMM runs every depthwise case through the direct
// kernels and through the im2col + GEMM path on the same inputs and
// compares them.
func TestDepthwiseMatchesGEMM(t *testing.T) {
	defer func(d bool) { depthwiseOn = d }(depthwiseOn)
	r := rand.New(rand.NewSource(4))
	for _, c := range depthwiseOpCases() {
		t.Run(c.op.String()+"/"+c.name, func(t *testing.T) {
			g, err := c.graph()
			if err != nil {
				t.Fatal(err)
			}
			vals := make([][]float64, len(c.ins))
			for i, x := range c.ins {
				vals[i] = draw(r, x)
			}
			var out [2][]float64
			for i, direct := range []bool{false, true} {
				depthwiseOn = direct
				p, err := compile(g, Options{Threads: 2}, ir.PlanOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for j, x := range c.ins {
					bind(t, p, g.Inputs[j].Name, x.t, vals[j])
				}
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				out[i] = values(p.outputs["y"])
			}
			if err := compareTensor("direct vs GEMM", ir.F32, out[1], out[0], 1e-5); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestZeroAllocsDepthwise checks that the MobileNet training step of
// examples/fashion_mobilenet.enc (its depthwise convolutions by the
// direct kernels) allocates nothing.
func TestZeroAllocsDepthwise(t *testing.T) {
	g := stepGraph(t, "fashion_mobilenet", 1, 0, 8, true)
	p, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range p.steps {
		if k, ok := s.k.(*convKernel); ok && k.depthwise {
			n++
		}
	}
	if n != 12 { // 4 blocks × (forward, input gradient, weight gradient)
		t.Fatalf("%d depthwise kernels, want 12", n)
	}
	bindAll(t, p, g, initInputs(g, rand.New(rand.NewSource(4))))
	step := 1
	allocs := testing.AllocsPerRun(5, func() {
		p.SetScalar("step", float64(step))
		step++
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per step, want 0", allocs)
	}
}
