package eval

import (
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestAttentionMatchesUnfused checks the fused op against the ops it
// replaces: matmul, scale, where(mask, s, -1e9), softmax, matmul.
func TestAttentionMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	const B, H, T, D = 2, 3, 5, 4
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	m := func(v *ir.Value, err error) *ir.Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	q := m(b.Input("q", ir.RoleData, f32(B, H, T, D)))
	k := m(b.Input("k", ir.RoleData, f32(B, H, T, D)))
	v := m(b.Input("v", ir.RoleData, f32(B, H, T, D)))
	mask := m(b.Input("mask", ir.RoleData, ir.TensorOf(ir.Bool, B, T)))
	fused := m(b.Attention(q, k, v, mask, 0.5))
	s := m(b.Mul(m(b.MatMul(q, k, ir.MatMulAttr{TransposeB: true})), m(b.Const(ir.F32, 0.5))))
	s = m(b.Where(m(b.Reshape(mask, ir.Shape{B, 1, 1, T})), s, m(b.Const(ir.F32, -1e9))))
	unfused := m(b.MatMul(m(b.Softmax(s, 3)), v, ir.MatMulAttr{}))
	g.AddOutput("fused", fused)
	g.AddOutput("unfused", unfused)
	in := map[string]*Tensor{}
	for _, x := range g.Inputs {
		in[x.Name] = draw(r, in1(x.Type))
	}
	// The second sequence has its last two keys masked.
	for j := range in["mask"].F {
		in["mask"].F[j] = 1
	}
	in["mask"].F[T+3], in["mask"].F[T+4] = 0, 0
	res, err := Run(g, in)
	if err != nil {
		t.Fatal(err)
	}
	a, u := res.Outputs["fused"].F, res.Outputs["unfused"].F
	for i := range a {
		if math.Abs(a[i]-u[i]) > 1e-12 {
			t.Fatalf("element %d: fused %v, unfused %v", i, a[i], u[i])
		}
	}
}

func in1(t ir.Type) in {
	if t.DType == ir.Bool {
		return in{t: t, kind: ids, hi: 2}
	}
	return in{t: t}
}
