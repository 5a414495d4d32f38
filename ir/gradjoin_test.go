package ir

import "testing"

// TestGradJoinsSlices checks that the gradient of a value sliced into T
// steps is one concat of the steps' gradients, not T full-size
// slice_backwards added up (the values are checked by finite differences
// in ir/eval's gradient cases slice/steps, gaps, axes and overlap).
func TestGradJoinsSlices(t *testing.T) {
	g := NewGraph()
	b := NewBuilder(g)
	x, _ := b.Input("x", RoleParam, TensorOf(F32, 2, 5, 3))
	var loss *Value
	for i := range 5 {
		s, err := b.Slice(x, SliceAttr{Start: []int{0, i, 0}, Stop: []int{2, i + 1, 3}})
		if err != nil {
			t.Fatal(err)
		}
		s, _ = b.Tanh(s)
		s, _ = b.Sum(s, nil, false)
		if loss == nil {
			loss = s
		} else {
			loss, _ = b.Add(loss, s)
		}
	}
	n := len(g.Values)
	grads, err := Grad(g, loss, []*Value{x})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(g); err != nil {
		t.Fatal(err)
	}
	d := grads[x]
	if d.Op != OpConcat || len(d.Args) != 5 {
		t.Fatalf("gradient of x is %s, want a concat of the 5 steps' gradients:\n%s", d.LongString(), g)
	}
	for _, v := range g.Values[n:] {
		if v.Op == OpAdd && (v.Args[0].Op == OpSliceBackward || v.Args[1].Op == OpSliceBackward) {
			t.Errorf("%s adds a slice_backward", v.LongString())
		}
	}
}
