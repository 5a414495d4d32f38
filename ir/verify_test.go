package ir

import (
	"strings"
	"testing"
)

func TestVerifyCatches(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(g *Graph)
		err    string
	}{
		{"wrong type", func(g *Graph) { g.Values[6].Type = TensorOf(F32, 4, 4) }, "has type f32[4,4], but its operands give f32[4,5]"},
		{"order", func(g *Graph) { g.Values[5], g.Values[6] = g.Values[6], g.Values[5] }, "operand 0 is not defined before it"},
		{"duplicate ID", func(g *Graph) { g.Values[7].ID = g.Values[6].ID }, "share ID"},
		{"arity", func(g *Graph) { g.Values[7].Args = append(g.Values[7].Args, g.Values[0]) }, "relu takes 1 operands, not 2"},
		{"aux", func(g *Graph) { g.Values[5].Aux = ReduceAttr{} }, "takes attributes ir.MatMulAttr"},
		{"bad attribute", func(g *Graph) { g.Values[9].Aux = CrossEntropyAttr{LabelSmoothing: 1} }, "label smoothing 1 not in [0,1)"},
		{"output missing", func(g *Graph) { g.AddOutput("ghost", &Value{ID: 99, Op: OpNeg}) }, "output \"ghost\": value is not in the graph"},
		{"update type", func(g *Graph) { g.AddUpdate(g.Inputs[3], g.Values[6]) }, "update of %fc1.bias f32[5] with %6:f32[4,5]"},
		{"update data", func(g *Graph) { g.AddUpdate(g.Inputs[0], g.Values[6]) }, "input has role data"},
		{"input misplaced", func(g *Graph) { g.Inputs = g.Inputs[1:] }, "is not listed in order at the head"},
		{"name on value", func(g *Graph) { g.Values[6].Name = "h" }, "is not an input but has name"},
		{"bad output name", func(g *Graph) { g.AddOutput("a b", g.Values[6]) }, "bad name \"a b\""},
	}
	for _, tt := range tests {
		g, _ := buildMLP(t)
		if err := Verify(g); err != nil {
			t.Fatal(err)
		}
		tt.break_(g)
		err := Verify(g)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: Verify = %v, want error containing %q", tt.name, err, tt.err)
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	g := NewGraph()
	b := NewBuilder(g)
	m := mustT(t)
	x := m(b.Input("x", RoleData, TensorOf(F32, 2, 3)))
	w := m(b.Input("w", RoleParam, TensorOf(F32, 4, 3)))
	ids := m(b.Input("ids", RoleData, TensorOf(I32, 2)))
	img := m(b.Input("img", RoleData, TensorOf(F32, 1, 3, 5, 5)))
	k := m(b.Input("k", RoleParam, TensorOf(F32, 2, 4, 3, 3)))
	tests := []struct {
		build func() (*Value, error)
		err   string
	}{
		{func() (*Value, error) { return b.MatMul(x, w, MatMulAttr{}) }, "cannot matmul f32[2,3] by f32[4,3]: inner dims 3 ≠ 4"},
		{func() (*Value, error) { return b.Add(x, w) }, "add: cannot broadcast f32[2,3] and f32[4,3]"},
		{func() (*Value, error) { return b.Add(x, ids) }, "mismatched dtypes"},
		{func() (*Value, error) { return b.Exp(ids) }, "not floating-point"},
		{func() (*Value, error) { return b.Sum(x, []int{5}, false) }, "axis 5 out of range"},
		{func() (*Value, error) { return b.Reshape(x, Shape{4}) }, "cannot reshape f32[2,3] to f32[4]"},
		{func() (*Value, error) { return b.Permute(x, 0, 0) }, "is not a permutation"},
		{func() (*Value, error) { return b.Gather(w, x) }, "not an integer tensor"},
		{func() (*Value, error) { return b.Conv2D(img, k, Conv2DAttr{}) }, "has 3 channels but weight f32[2,4,3,3] expects 4"},
		{func() (*Value, error) { return b.Slice(x, SliceAttr{Start: []int{0, 2}, Stop: []int{2, 1}}) }, "slice 2:1:1 out of range"},
		{func() (*Value, error) { return b.Where(x, x, x) }, "condition f32[2,3] is not bool"},
		{func() (*Value, error) { return b.SoftmaxCrossEntropy(x, ids, 0) }, ""},
		{func() (*Value, error) { return b.SoftmaxCrossEntropy(x, x, 0) }, "labels f32[2,3] for logits f32[2,3]: want integer [2]"},
		{func() (*Value, error) { return b.Input("x", RoleData, TensorOf(F32)) }, "input x declared twice"},
		{func() (*Value, error) { return b.Input("9x", RoleData, TensorOf(F32)) }, "bad input name"},
		{func() (*Value, error) { return b.Op(OpAdd, Type{}, nil, x) }, "add takes 2 operands, not 1"},
	}
	for i, tt := range tests {
		b.Pos.File, b.Pos.Line, b.Pos.Col = "m.enc", i+1, 7
		v, err := tt.build()
		if tt.err == "" {
			if err != nil {
				t.Errorf("case %d: unexpected error %v", i, err)
			}
			continue
		}
		if err == nil || v != nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("case %d: got %v, %v; want error containing %q", i, v, err, tt.err)
			continue
		}
		if want := b.Pos.String() + ": "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("case %d: error %q does not start with the position %q", i, err, want)
		}
	}
	if err := Verify(g); err != nil {
		t.Error(err)
	}
}

func TestOpTable(t *testing.T) {
	for _, op := range Ops() {
		if got, ok := LookupOp(op.String()); !ok || got != op {
			t.Errorf("LookupOp(%q) = %v, %v", op.String(), got, ok)
		}
		if op.IsInPlace() && op.HasVJP() {
			t.Errorf("%v: in-place ops have no VJP", op)
		}
		if op.HasZeroGrad() && op.HasVJP() {
			t.Errorf("%v: both zero gradient and a VJP", op)
		}
		if op.IsCommutative() && op.NumArgs() != 2 {
			t.Errorf("%v: commutative with %d args", op, op.NumArgs())
		}
		if op.IsLeaf() != (op.NumArgs() == 0) {
			t.Errorf("%v: leaf flag disagrees with %d args", op, op.NumArgs())
		}
	}
}

func TestTypeString(t *testing.T) {
	for _, s := range []string{"f32[64,256]", "i64[]", "bool[1]", "bf16[2,3,4]"} {
		ty, err := ParseType(s)
		if err != nil || ty.String() != s {
			t.Errorf("ParseType(%q) = %v, %v", s, ty, err)
		}
	}
	if s, ok := Broadcast(Shape{4, 1, 3}, Shape{5, 1}); !ok || !s.Equal(Shape{4, 5, 3}) {
		t.Errorf("Broadcast = %v, %v", s, ok)
	}
	if _, ok := Broadcast(Shape{2}, Shape{3}); ok {
		t.Error("Broadcast([2], [3]) succeeded")
	}
}
