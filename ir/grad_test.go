package ir

import (
	"strings"
	"testing"
)

// TestGradOnlyBuildsNeededOps checks that a gradient with respect to the
// last layer only builds no backward op for the frozen first layer.
func TestGradOnlyBuildsNeededOps(t *testing.T) {
	g, loss := buildMLP(t)
	n := len(g.Values)
	w2 := g.Input("fc2.weight")
	grads, err := Grad(g, loss, []*Value{w2})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(g); err != nil {
		t.Fatal(err)
	}
	ops := map[Op]int{}
	for _, v := range g.Values[n:] {
		ops[v.Op]++
	}
	// dloss (fill), dlogits, dW2 = dlogitsᵀ·h: nothing else.
	if len(g.Values)-n != 3 || ops[OpSoftmaxCrossEntropyBackward] != 1 || ops[OpMatMul] != 1 {
		t.Errorf("backward built %d values %v, want fill, softmax_cross_entropy_backward, matmul:\n%s", len(g.Values)-n, ops, g)
	}
	if d := grads[w2]; d == nil || !d.Type.Equal(w2.Type) {
		t.Errorf("gradient %v for %v", d, w2)
	}
}

func TestGradAccumulatesAndStops(t *testing.T) {
	m := mustT(t)
	g := NewGraph()
	b := NewBuilder(g)
	x := m(b.Input("x", RoleParam, TensorOf(F32, 3)))
	frozen := m(b.Input("frozen", RoleParam, TensorOf(F32, 3)))
	// loss = Σ x·x + Σ where(x > 0, frozen, 0): x is used three times,
	// once through a comparison that carries no gradient.
	sq := m(b.Mul(x, x))
	mask := m(b.Gt(x, m(b.Const(F32, 0))))
	sel := m(b.Where(mask, frozen, m(b.Const(F32, 0))))
	loss := m(b.Add(m(b.Sum(sq, nil, false)), m(b.Sum(sel, nil, false))))
	n := len(g.Values)
	grads, err := Grad(g, loss, []*Value{x})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.Values[n:] {
		if v.Op == OpWhere {
			t.Errorf("built %s for the frozen branch", v.LongString())
		}
	}
	if d := grads[x]; d.Op != OpAdd {
		t.Errorf("gradient of x is %s, want the sum of two uses", d.LongString())
	}
}

func TestGradErrors(t *testing.T) {
	m := mustT(t)
	g := NewGraph()
	b := NewBuilder(g)
	p := m(b.Input("p", RoleParam, TensorOf(F32, 2)))
	lr := m(b.Input("lr", RoleScalar, Scalar(F32)))
	upd := m(b.SGD(p, p, lr))
	loss := m(b.Sum(upd, nil, false))
	if _, err := Grad(g, loss, []*Value{p}); err == nil || !strings.Contains(err.Error(), "sgd has no VJP rule") {
		t.Errorf("Grad through sgd: %v", err)
	}
	if _, err := Grad(g, upd, []*Value{p}); err == nil || !strings.Contains(err.Error(), "not a float scalar") {
		t.Errorf("Grad of a vector: %v", err)
	}
	// A parameter that does not reach the loss gets zeros.
	q := m(b.Input("q", RoleParam, TensorOf(F32, 4)))
	l2 := m(b.Sum(m(b.Exp(p)), nil, false))
	grads, err := Grad(g, l2, []*Value{p, q})
	if err != nil {
		t.Fatal(err)
	}
	if d := grads[q]; d.Op != OpFill || d.Aux.(FillAttr).Value != 0 || !d.Type.Equal(q.Type) {
		t.Errorf("gradient of unused q: %s", d.LongString())
	}
}
