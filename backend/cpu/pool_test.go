package cpu

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// reluPoolGraph is a training step of conv 1→c (3×3, padding 1, bias)
// → ReLU → 2×2 max pooling → Linear → 10 classes on h×w images at
// batch n.
func reluPoolGraph(n, c, h, w int) *ir.Graph {
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	x := must(b.Input("image", ir.RoleData, f32(n, 1, h, w)))
	y := must(b.Input("label", ir.RoleData, i32(n)))
	w1 := must(b.Input("c1.weight", ir.RoleParam, f32(c, 1, 3, 3)))
	b1 := must(b.Input("c1.bias", ir.RoleParam, f32(c)))
	hv := must(b.Conv2D(x, w1, ir.Conv2DAttr{Stride: [2]int{1, 1}, Padding: [2]int{1, 1}, Dilation: [2]int{1, 1}}))
	hv = must(b.Relu(must(b.Add(hv, must(b.Reshape(b1, ir.Shape{1, c, 1, 1}))))))
	hv = must(b.MaxPool2D(hv, ir.Pool2DAttr{Kernel: [2]int{2, 2}, Stride: [2]int{2, 2}}))
	f := c * (h / 2) * (w / 2)
	hv = must(b.Reshape(hv, ir.Shape{n, f}))
	hv, ps := linear(b, hv, "fc", f, 10)
	return trainStep(g, b, hv, y, append([]*ir.Value{w1, b1}, ps...))
}

// TestReluPoolFused checks that fuseReluPool fuses both ReLU + 2×2 max
// pooling blocks of LeNet, forward and backward, and that training
// steps give bit-equal outputs with it on and off, on 1 and 2 threads,
// with the vector kernels and the portable loops (odd planes, narrower
// than 8, take those), on data where ties and windows without a
// positive element are common.
func TestReluPoolFused(t *testing.T) {
	defer func(f, s bool) { reluPoolOn, simdOn = f, s }(reluPoolOn, simdOn)
	for _, c := range []struct {
		name   string
		g      *ir.Graph
		blocks int
	}{{"lenet5", lenetGraph(5), 2}, {"lenet64", lenetGraph(64), 2}, {"odd", reluPoolGraph(3, 4, 7, 9), 1}, {"wide", reluPoolGraph(2, 3, 6, 20), 1}} {
		for _, simd := range []bool{false, true} {
			if simd && !hasAVX2FMA {
				continue
			}
			t.Run(fmt.Sprintf("%s_simd%v", c.name, simd), func(t *testing.T) {
				simdOn = simd
				vals := initInputs(c.g, rand.New(rand.NewSource(5)))
				for _, v := range c.g.Inputs { // ties: values on a coarse grid
					if v.Name == "image" {
						for i, e := range vals[v.Name] {
							vals[v.Name][i] = float64(int(e*2)) / 2
						}
					}
				}
				for _, threads := range []int{1, 2} {
					var out [2]map[string][]float64
					for i, on := range []bool{false, true} {
						reluPoolOn = on
						p, err := Compile(c.g, Options{Threads: threads})
						if err != nil {
							t.Fatal(err)
						}
						fused := 0
						for _, s := range p.steps {
							if k, ok := s.k.(*poolKernel); ok && k.relu {
								fused++
							}
							if s.v.Op == ir.OpRelu && on {
								if k := s.v.Type.Shape; len(k) == 4 {
									t.Fatalf("a ReLU of %v is left", k)
								}
							}
						}
						want := 0
						if on {
							want = 2 * c.blocks // forward and backward
						}
						if fused != want {
							t.Fatalf("%d fused pooling kernels, want %d", fused, want)
						}
						bindAll(t, p, c.g, vals)
						for range 2 {
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
								t.Fatalf("%d threads: %s[%d] = %v fused, %v not", threads, name, j, v[j], out[0][name][j])
							}
						}
					}
				}
			})
		}
	}
}
