package ir

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/encc-lang/encc/internal/golden"
)

// mustT fails the test on a builder error.
func mustT(t testing.TB) func(*Value, error) *Value {
	return func(v *Value, err error) *Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// buildMLP builds the forward pass and loss of a two-layer MLP.
func buildMLP(t testing.TB) (*Graph, *Value) {
	m := mustT(t)
	g := NewGraph()
	g.Name = "mlp.train"
	b := NewBuilder(g)
	x := m(b.Input("x", RoleData, TensorOf(F32, 4, 6)))
	y := m(b.Input("y", RoleData, TensorOf(I64, 4)))
	w1 := m(b.Input("fc1.weight", RoleParam, TensorOf(F32, 5, 6)))
	b1 := m(b.Input("fc1.bias", RoleParam, TensorOf(F32, 5)))
	w2 := m(b.Input("fc2.weight", RoleParam, TensorOf(F32, 3, 5)))
	h := m(b.MatMul(x, w1, MatMulAttr{TransposeB: true}))
	h = m(b.Relu(m(b.Add(h, b1))))
	logits := m(b.MatMul(h, w2, MatMulAttr{TransposeB: true}))
	loss := m(b.SoftmaxCrossEntropy(logits, y, 0.1))
	g.AddOutput("loss", loss)
	return g, loss
}

// buildCNN builds a small convolutional forward pass.
func buildCNN(t testing.TB) *Graph {
	m := mustT(t)
	g := NewGraph()
	b := NewBuilder(g)
	x := m(b.Input("image", RoleData, TensorOf(F32, 2, 1, 8, 8)))
	w := m(b.Input("conv.weight", RoleParam, TensorOf(F32, 4, 1, 3, 3)))
	cb := m(b.Input("conv.bias", RoleParam, TensorOf(F32, 4, 1, 1)))
	seed := m(b.Input("seed", RoleScalar, Scalar(I64)))
	step := m(b.Input("step", RoleScalar, Scalar(I64)))
	h := m(b.Conv2D(x, w, Conv2DAttr{Padding: [2]int{1, 1}}))
	h = m(b.Gelu(m(b.Add(h, cb)), true))
	h = m(b.MaxPool2D(h, Pool2DAttr{Kernel: [2]int{2, 2}}))
	h = m(b.Dropout(h, seed, step, 0.25))
	h = m(b.Reshape(h, Shape{2, 64}))
	s := m(b.Slice(h, SliceAttr{Start: []int{0, 1}, Stop: []int{2, 60}, Step: []int{1, 3}}))
	lse := m(b.LogSumExp(s, []int{-1}, true))
	c := m(b.Literal(TensorOf(F32, 2, 1), []float64{0.5, -1e-7}))
	out := m(b.Concat(1, lse, c, m(b.Fill(TensorOf(F32, 2, 3), 2.5))))
	g.AddOutput("out", out)
	return g
}

func TestRoundTrip(t *testing.T) {
	mlp, _ := buildMLP(t)
	for name, g := range map[string]*Graph{"mlp": mlp, "cnn": buildCNN(t)} {
		t.Run(name, func(t *testing.T) {
			if err := Verify(g); err != nil {
				t.Fatal(err)
			}
			text := g.String()
			g2, err := Parse(name+".ir", []byte(text))
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			if got := g2.String(); got != text {
				t.Errorf("round trip differs:\n%s\nvs\n%s", text, got)
			}
			golden.Check(t, filepath.Join("testdata", "text", name+".ir"), []byte(text))
		})
	}
}

func TestParseErrors(t *testing.T) {
	const head = "graph {\n  input %x : f32[2,3] data\n"
	tests := []struct{ src, err string }{
		{head + "  %0 = add(%x, %y) : f32[2,3]\n}\n", "t.ir:3:16: undefined value %y"},
		{head + "  %0 = frob(%x) : f32[2,3]\n}\n", "t.ir:3:8: unknown op \"frob\""},
		{head + "  %0 = add(%x, %x) : f32[3,2]\n}\n", "t.ir:3:3: %0: type f32[3,2] given, but the operands give f32[2,3]"},
		{head + "  %0 = matmul(%x, %x) : f32[2,2]\n}\n", "t.ir:3:3: matmul: cannot matmul f32[2,3] by f32[2,3]: inner dims 3 ≠ 2"},
		{head + "  %0 = sum(%x) {axes=[1], bogus} : f32[2]\n}\n", "has no attribute \"bogus\""},
		{head + "  %0 = neg(%x) : f32[2,3]\n  %0 = neg(%x) : f32[2,3]\n}\n", "t.ir:4:3: value %0 defined twice"},
		{head + "  output loss = %x\n  output loss = %x\n}\n", "output loss declared twice"},
		{head + "  update %x = %x\n}\n", "input has role data, not param or state"},
		{head, "missing graph or closing }"},
		{"graph {\n  input %x : f33[2] data\n}\n", "unknown dtype"},
		{"graph {\n  input %x : f32[2] wat\n}\n", "unknown role \"wat\""},
	}
	for _, tt := range tests {
		_, err := Parse("t.ir", []byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tt.src, err, tt.err)
		}
	}
}
