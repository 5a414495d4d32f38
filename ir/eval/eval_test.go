package eval

import (
	"slices"
	"strings"
	"testing"

	"github.com/encc-lang/encc/ir"
)

func TestEveryOpHasKernel(t *testing.T) {
	for _, op := range ir.Ops() {
		if op != ir.OpInput && !HasKernel(op) {
			t.Errorf("no kernel for %v", op)
		}
	}
}

// TestForward checks kernels against values worked out by hand, for ops
// that gradient checks do not pin down (they compare the forward with
// itself) or do not cover.
func TestForward(t *testing.T) {
	tests := []struct {
		name string
		src  string
		in   map[string][]float64
		want []float64
	}{
		{"compare", `
  input %x : f32[4] data
  %0 = fill() {value=1} : f32[]
  %1 = ge(%x, %0) : bool[4]
  %2 = cast(%1) : f32[4]
  %3 = sign(%x) : f32[4]
  %4 = concat(%2, %3) {axis=0} : f32[8]
  output out = %4`, map[string][]float64{"x": {-2, 1, 0, 3}}, []float64{0, 1, 0, 1, -1, 1, 0, 1}},
		{"argmax-onehot", `
  input %x : f32[2,3] data
  %0 = argmax(%x) {axis=1} : i64[2]
  %1 = one_hot(%0) : f32[2,4]
  output out = %1`, map[string][]float64{"x": {1, 5, 5, 9, 2, 3}}, []float64{0, 1, 0, 0, 1, 0, 0, 0}},
		{"iota-cast", `
  input %x : f32[3] data
  %0 = iota() {axis=1} : i32[2,3]
  %1 = cast(%x) : i32[3]
  %2 = add(%0, %1) : i32[2,3]
  %3 = div(%2, %1) : i32[2,3]
  output out = %3`, map[string][]float64{"x": {-2.7, 2.5, 1}}, []float64{1, 1, 3, 1, 1, 3}},
		// conv2d with padding 1 and stride 2 over a 3x3 image of 1..9 and
		// a kernel that sums its 2x2 window.
		{"conv2d", `
  input %x : f32[1,1,3,3] data
  %0 = fill() {value=1} : f32[1,1,2,2]
  %1 = conv2d(%x, %0) {stride=[2,2], padding=[1,1], dilation=[1,1]} : f32[1,1,2,2]
  output out = %1`, map[string][]float64{"x": {1, 2, 3, 4, 5, 6, 7, 8, 9}}, []float64{1, 5, 11, 28}},
		{"pools", `
  input %x : f32[1,1,3,3] data
  %0 = maxpool2d(%x) {kernel=[2,2], stride=[2,2], padding=[1,1]} : f32[1,1,2,2]
  %1 = avgpool2d(%x) {kernel=[2,2], stride=[2,2], padding=[1,1]} : f32[1,1,2,2]
  %2 = concat(%0, %1) {axis=1} : f32[1,2,2,2]
  output out = %2`, map[string][]float64{"x": {1, 2, 3, 4, 5, 6, 7, 8, 9}}, []float64{1, 3, 7, 9, 0.25, 1.25, 2.75, 7}},
		{"matmul-batch", `
  input %a : f32[2,1,2] data
  input %b : f32[2,1] data
  %0 = matmul(%a, %b) : f32[2,1,1]
  output out = %0`, map[string][]float64{"a": {1, 2, 3, 4}, "b": {10, 100}}, []float64{210, 430}},
		{"layernorm", `
  input %x : f32[1,2] data
  %0 = fill() {value=2} : f32[2]
  %1 = fill() {value=1} : f32[2]
  %2 = layernorm(%x, %0, %1) {eps=1e-300} : f32[1,2]
  output out = %2`, map[string][]float64{"x": {3, 5}}, []float64{-1, 3}},
		{"gather-scatter", `
  input %t : f32[3,2] data
  input %i : i64[3] data
  %0 = gather(%t, %i) : f32[3,2]
  %1 = scatter_add(%i, %0) : f32[3,2]
  output out = %1`, map[string][]float64{"t": {1, 2, 3, 4, 5, 6}, "i": {2, 0, 2}}, []float64{1, 2, 0, 0, 10, 12}},
		{"slice-permute", `
  input %x : f32[2,3] data
  %0 = slice(%x) {start=[0,0], stop=[2,3], step=[1,2]} : f32[2,2]
  %1 = permute(%0) {perm=[1,0]} : f32[2,2]
  output out = %1`, map[string][]float64{"x": {1, 2, 3, 4, 5, 6}}, []float64{1, 4, 3, 6}},
	}
	for _, tt := range tests {
		g, err := ir.Parse(tt.name, []byte("graph {"+tt.src+"\n}\n"))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		feed := map[string]*Tensor{}
		for _, in := range g.Inputs {
			feed[in.Name] = New(in.Type, tt.in[in.Name])
		}
		res, err := Run(g, feed)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := res.Outputs["out"].F; !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDropoutMask(t *testing.T) {
	g, err := ir.Parse("d", []byte(`graph {
  input %x : f32[1000] data
  input %seed : i64[] scalar
  input %step : i64[] scalar
  %0 = dropout(%x, %seed, %step) {p=0.25} : f32[1000]
  output out = %0
}`))
	if err != nil {
		t.Fatal(err)
	}
	ones := make([]float64, 1000)
	for i := range ones {
		ones[i] = 1
	}
	run := func(seed, step float64) []float64 {
		res, err := Run(g, map[string]*Tensor{
			"x":    New(ir.TensorOf(ir.F32, 1000), ones),
			"seed": New(ir.Scalar(ir.I64), []float64{seed}),
			"step": New(ir.Scalar(ir.I64), []float64{step}),
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.Outputs["out"].F
	}
	a, b, c := run(7, 1), run(7, 1), run(7, 2)
	if !slices.Equal(a, b) {
		t.Error("same seed and step give different masks")
	}
	if slices.Equal(a, c) {
		t.Error("different steps give the same mask")
	}
	kept := 0
	for _, x := range a {
		switch x {
		case 0:
		case 1 / 0.75:
			kept++
		default:
			t.Fatalf("element %g is neither dropped nor scaled by 1/(1-p)", x)
		}
	}
	if kept < 700 || kept > 800 {
		t.Errorf("kept %d of 1000 at p=0.25", kept)
	}
}

func TestRunErrors(t *testing.T) {
	g, err := ir.Parse("e", []byte("graph {\n  input %t : f32[2,2] data\n  input %i : i64[1] data\n  %0 = gather(%t, %i) : f32[1,2]\n  output out = %0\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	tab := New(ir.TensorOf(ir.F32, 2, 2), []float64{1, 2, 3, 4})
	if _, err := Run(g, map[string]*Tensor{"t": tab}); err == nil || !strings.Contains(err.Error(), "no tensor for input i") {
		t.Errorf("missing input: %v", err)
	}
	_, err = Run(g, map[string]*Tensor{"t": tab, "i": New(ir.TensorOf(ir.I64, 1), []float64{2})})
	if err == nil || !strings.Contains(err.Error(), "id 2 out of range [0,2)") {
		t.Errorf("bad id: %v", err)
	}
}
