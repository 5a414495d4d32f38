// This file implements the fused attention op: its attributes, type
// rule, builder and VJP.

package ir

// AttentionAttr holds the factor that multiplies q·k before the softmax.
type AttentionAttr struct {
	Scale float64 `ir:"scale"`
}

// attentionMasked is the score a masked key gets: large and negative
// rather than -inf, so a row whose keys are all masked stays finite (it
// averages v), exactly as the unfused where(mask, s, -1e9) does.
const attentionMasked = -1e9

// Attention returns softmax(q·kᵀ·scale, masked) v for q [..., Tq, dh],
// k [..., Tk, dh], v [..., Tk, dv] with the same leading dimensions and,
// when mask is not nil, a bool key-padding mask [B, Tk] (B the first
// dimension of q; true at real tokens).
func (b *Builder) Attention(q, k, v, mask *Value, scale float64) (*Value, error) {
	if mask == nil {
		return b.Op(OpAttention, Type{}, AttentionAttr{scale}, q, k, v)
	}
	return b.Op(OpAttention, Type{}, AttentionAttr{scale}, q, k, v, mask)
}

func typeAttention(v *Value) (Type, error) {
	if n := len(v.Args); n != 3 && n != 4 {
		return Type{}, errf(v, "attention takes q, k, v and an optional mask, got %d operands", n)
	}
	q, k, val := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type
	r := q.Rank()
	if r < 2 || k.Rank() != r || val.Rank() != r || !q.DType.IsFloat() || k.DType != q.DType || val.DType != q.DType {
		return Type{}, errf(v, "attention needs float q, k, v of one rank ≥ 2, got %v, %v, %v", q, k, val)
	}
	if !q.Shape[:r-2].Equal(k.Shape[:r-2]) || !q.Shape[:r-2].Equal(val.Shape[:r-2]) {
		return Type{}, errf(v, "attention: leading dimensions of %v, %v and %v differ", q, k, val)
	}
	if q.Shape[r-1] != k.Shape[r-1] || k.Shape[r-2] != val.Shape[r-2] {
		return Type{}, errf(v, "attention: q %v, k %v and v %v do not fit", q, k, val)
	}
	if len(v.Args) == 4 {
		m := v.Args[3].Type
		if m.DType != Bool || m.Rank() != 2 || m.Shape[0] != q.Shape[0] || m.Shape[1] != k.Shape[r-2] || r < 3 {
			return Type{}, errf(v, "attention: mask %v must be bool[%d,%d]", m, q.Shape[0], k.Shape[r-2])
		}
	}
	out := append(q.Shape[:r-1].Clone(), val.Shape[r-1])
	return Type{q.DType, out}, nil
}

// gradAttention recomputes the attention weights from q and k (the
// forward pass keeps no Tq×Tk tensor) and differentiates the softmax:
// ds = p ⊙ (dp − Σ dp ⊙ p), dq = ds k·scale, dk = dsᵀ q·scale, dv = pᵀ g.
func gradAttention(b *Builder, v, g *Value, need []bool) []*Value {
	q, k, val := v.Args[0], v.Args[1], v.Args[2]
	scale := v.Aux.(AttentionAttr).Scale
	dt := q.Type.DType
	r := q.Type.Rank()
	s := must(b.Mul(must(b.MatMul(q, k, MatMulAttr{TransposeB: true})), must(b.Const(dt, scale))))
	if len(v.Args) == 4 {
		m := v.Args[3]
		shape := make(Shape, r)
		for i := range shape {
			shape[i] = 1
		}
		shape[0], shape[r-1] = m.Type.Shape[0], m.Type.Shape[1]
		s = must(b.Where(must(b.Reshape(m, shape)), s, must(b.Const(dt, attentionMasked))))
	}
	p := must(b.Softmax(s, r-1))
	out := make([]*Value, len(v.Args))
	if need[2] {
		out[2] = must(b.MatMul(p, g, MatMulAttr{TransposeA: true}))
	}
	if need[0] || need[1] {
		dp := must(b.MatMul(g, val, MatMulAttr{TransposeB: true}))
		ds := must(b.Mul(p, must(b.Sub(dp, must(b.Sum(must(b.Mul(dp, p)), []int{r - 1}, true))))))
		ds = must(b.Mul(ds, must(b.Const(dt, scale))))
		if need[0] {
			out[0] = must(b.MatMul(ds, k, MatMulAttr{}))
		}
		if need[1] {
			out[1] = must(b.MatMul(ds, q, MatMulAttr{TransposeA: true}))
		}
	}
	return out
}
