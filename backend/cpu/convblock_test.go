package cpu

import (
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// stridedConvGraph is a training step of conv 3→8 (3×3, stride 2,
// padding 1, bias) → ReLU → conv 8→4 (3×3) → Linear 64→10 at batch n.
func stridedConvGraph(n int) *ir.Graph {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x := must(b.Input("image", ir.RoleData, f32(n, 3, 11, 11)))
	y := must(b.Input("label", ir.RoleData, i32(n)))
	w1 := must(b.Input("c1.weight", ir.RoleParam, f32(8, 3, 3, 3)))
	b1 := must(b.Input("c1.bias", ir.RoleParam, f32(8)))
	w2 := must(b.Input("c2.weight", ir.RoleParam, f32(4, 8, 3, 3)))
	h := must(b.Conv2D(x, w1, ir.Conv2DAttr{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, Dilation: [2]int{1, 1}}))
	h = must(b.Relu(must(b.Add(h, must(b.Reshape(b1, ir.Shape{1, 8, 1, 1}))))))
	h = must(b.Conv2D(h, w2, ir.Conv2DAttr{Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}}))
	h = must(b.Reshape(h, ir.Shape{n, 64}))
	h, ps := linear(b, h, "fc", 64, 10)
	return trainStep(g, b, h, y, append([]*ir.Value{w1, b1, w2}, ps...))
}

// TestConvBlocksMatch runs training steps with the samples of conv2d
// and its input gradient in blocks per GEMM (convKernel.S > 1, the
// weight gradient reading the blocked saved columns when shareColumns
// is on) and one sample per GEMM, and checks that every output is bit-equal: the blocks change
// which products run, not any sum. Batches 6 and 11 leave a last block
// of one sample; the strided graph runs the general im2col and col2im.
// The tap kernels (convtaps.go), which would run LeNet's convolutions
// instead, are off: TestConvTapsMatch checks them.
func TestConvBlocksMatch(t *testing.T) {
	defer func(b, s, tp bool) { convBlockOn, shareColumnsOn, tapsOn = b, s, tp }(convBlockOn, shareColumnsOn, tapsOn)
	cases := []struct {
		name string
		g    *ir.Graph
	}{{"lenet6", lenetGraph(6)}, {"lenet11", lenetGraph(11)}, {"lenet64", lenetGraph(64)}, {"strided7", stridedConvGraph(7)}, {"strided40", stridedConvGraph(40)}}
	tapsOn = false
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vals := initInputs(c.g, rand.New(rand.NewSource(9)))
			for _, tc := range [][2]int{{1, 0}, {2, 0}, {1, 1}, {2, 1}} {
				threads, share := tc[0], tc[1] == 1
				shareColumnsOn = share
				var out [2]map[string][]float64
				for i, on := range []bool{false, true} {
					convBlockOn = on
					p, err := Compile(c.g, Options{Threads: threads})
					if err != nil {
						t.Fatal(err)
					}
					blocked, reused := 0, 0
					for _, s := range p.steps {
						if k, ok := s.k.(*convKernel); ok {
							if k.S > 1 {
								blocked++
							}
							if k.savedS > 1 {
								reused++
							}
						}
					}
					if on && (blocked < 2 || share != (reused > 0)) {
						t.Fatalf("share %v: %d conv kernels in blocks, %d reading blocked columns", share, blocked, reused)
					}
					if !on && blocked != 0 {
						t.Fatalf("%d conv kernels in blocks with convBlockOn off", blocked)
					}
					bindAll(t, p, c.g, vals)
					for range 2 { // the second step runs on reused column buffers
						if err := p.Run(); err != nil {
							t.Fatal(err)
						}
					}
					out[i] = map[string][]float64{}
					for name, b := range p.outputs {
						out[i][name] = values(b)
					}
				}
				for name, v := range out[1] {
					for j := range v {
						if v[j] != out[0][name][j] {
							t.Fatalf("%d threads, share %v: output %s[%d] = %v in blocks, %v one sample per GEMM", threads, share, name, j, v[j], out[0][name][j])
						}
					}
				}
			}
		})
	}
}

// TestAddDotsOrientations checks that addDots gives bit-equal results
// with b's rows or a's rows as the 4 rows of its tiles, with b's rows
// further apart than k and over several segments, and that LeNet's
// conv1 weight gradient (6 × 25) takes the swapped orientation.
func TestAddDotsOrientations(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	defer func(b bool) { dotsSwapOn = b }(dotsSwapOn)
	if !swapDots(6, 25) || swapDots(16, 150) {
		t.Fatalf("swapDots(6, 25) = %v, swapDots(16, 150) = %v; want true, false", swapDots(6, 25), swapDots(16, 150))
	}
	r := rand.New(rand.NewSource(6))
	for _, s := range [][4]int{{6, 25, 784, 2}, {3, 10, 20, 3}, {2, 13, 8, 1}, {3, 30, 13, 2}, {1, 8, 9, 1}} {
		m, n, k, nseg := s[0], s[1], s[2], s[3]
		ldb := k + 5
		as, bs := m*k+3, (n-1)*ldb+k+2
		a, b := make([]float32, nseg*as), make([]float32, nseg*bs)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		var c [2][]float32
		for i, on := range []bool{false, true} {
			dotsSwapOn = on
			c[i] = make([]float32, m*n)
			addDots(c[i], a, b, m, n, k, ldb, nseg, as, bs, true)
			addDots(c[i], a, b, m, n, k, ldb, nseg, as, bs, false)
		}
		if !swapDots(m, n) {
			t.Fatalf("%v: swapDots false, want true", s)
		}
		for i := range c[0] {
			if c[0][i] != c[1][i] {
				t.Fatalf("%v: c[%d] = %v swapped, %v not", s, i, c[1][i], c[0][i])
			}
		}
	}
}

// TestConvEmpty runs conv2d (with a bias), its weight gradient and its
// input gradient with an empty dimension: no input channels (the
// outputs are the bias, zeros), no samples, no output channels (the IR
// refuses an empty output plane). They panicked (slicing a column matrix of no rows,
// addDots of no rows).
func TestConvEmpty(t *testing.T) {
	at := ir.Conv2DAttr{Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}}
	for _, c := range []struct{ x, w ir.Shape }{
		{ir.Shape{2, 0, 8, 20}, ir.Shape{3, 0, 3, 3}},
		{ir.Shape{2, 0, 8, 20}, ir.Shape{3, 0, 1, 1}},
		{ir.Shape{0, 1, 8, 20}, ir.Shape{3, 1, 3, 3}},
		{ir.Shape{2, 1, 8, 20}, ir.Shape{0, 1, 3, 3}},
	} {
		t.Run(c.x.String()+c.w.String(), func(t *testing.T) {
			g := ir.NewGraph()
			b := ir.NewBuilder(g)
			x := must(b.Input("x", ir.RoleData, ir.Type{DType: ir.F32, Shape: c.x}))
			w := must(b.Input("w", ir.RoleData, ir.Type{DType: ir.F32, Shape: c.w}))
			bias := must(b.Input("b", ir.RoleData, f32(1, c.w[0], 1, 1)))
			y, err := b.Conv2D(x, w, at)
			if err != nil {
				t.Skip(err) // a shape the IR refuses
			}
			dy := must(b.Input("dy", ir.RoleData, y.Type))
			g.AddOutput("y", must(b.Add(y, bias)))
			g.AddOutput("dw", must(b.Conv2DBackwardWeight(x, dy, c.w, at)))
			g.AddOutput("dx", must(b.Conv2DBackwardInput(dy, w, c.x, at)))
			vals := initInputs(g, rand.New(rand.NewSource(1)))
			for _, threads := range []int{1, 2} {
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				bindAll(t, p, g, vals)
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				P := y.Type.Shape[2] * y.Type.Shape[3]
				for i, v := range values(p.outputs["y"]) {
					if want := float64(float32(vals["b"][i/P%c.w[0]])); c.x[1] == 0 && v != want {
						t.Fatalf("y[%d] = %v, want the bias %v", i, v, want)
					}
				}
				for _, name := range []string{"dw", "dx"} {
					for i, v := range values(p.outputs[name]) {
						if v != 0 && (c.x[1] == 0 || c.w[0] == 0 || P == 0) {
							t.Fatalf("%s[%d] = %v, want 0", name, i, v)
						}
					}
				}
			}
		})
	}
}
