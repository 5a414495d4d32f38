// This file implements the fused attention op and its backward op: their
// attributes, type rules, builders, VJP and the geometry the kernels share.

package ir

import "fmt"

// AttentionAttr holds the factor that multiplies q·k before the softmax
// and the layout of the operands. With BTHD, q, k, v and the result are
// [B, T, H, d]: the heads of a projection [B, T, H·d] read in place, as
// the projection wrote them, instead of permuted copies [B, H, T, d].
type AttentionAttr struct {
	Scale float64 `ir:"scale"`
	BTHD  bool    `ir:"bthd"`
}

// AttentionBackwardAttr holds attention's attributes and the operand the
// gradient is taken with respect to: 0 q, 1 k, 2 v.
type AttentionBackwardAttr struct {
	Scale float64 `ir:"scale"`
	BTHD  bool    `ir:"bthd"`
	Wrt   int     `ir:"wrt"`
}

func (a AttentionBackwardAttr) check() error {
	if a.Wrt < 0 || a.Wrt > 2 {
		return fmt.Errorf("wrt %d must be 0 (q), 1 (k) or 2 (v)", a.Wrt)
	}
	return nil
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
	return b.attention(q, k, v, mask, AttentionAttr{Scale: scale})
}

// AttentionBTHD is Attention over heads in place: q [B, Tq, H, dh], k
// [B, Tk, H, dh], v [B, Tk, H, dv] → [B, Tq, H, dv].
func (b *Builder) AttentionBTHD(q, k, v, mask *Value, scale float64) (*Value, error) {
	return b.attention(q, k, v, mask, AttentionAttr{Scale: scale, BTHD: true})
}

func (b *Builder) attention(q, k, v, mask *Value, a AttentionAttr) (*Value, error) {
	if mask == nil {
		return b.Op(OpAttention, Type{}, a, q, k, v)
	}
	return b.Op(OpAttention, Type{}, a, q, k, v, mask)
}

// AttentionBackward returns the gradient of attention(q, k, v[, mask])
// {a.Scale, a.BTHD} with respect to operand a.Wrt, given the gradient g
// of its result.
func (b *Builder) AttentionBackward(q, k, v, g, mask *Value, a AttentionBackwardAttr) (*Value, error) {
	if mask == nil {
		return b.Op(OpAttentionBackward, Type{}, a, q, k, v, g)
	}
	return b.Op(OpAttentionBackward, Type{}, a, q, k, v, g, mask)
}

// AttentionGeometry places attention's rows: N items (one head of one
// sequence each), Heads items per batch entry (per mask row), query and
// key lengths Tq and Tk, head sizes Dh (q, k) and Dv (v, result). Row i
// of item n of an operand with head size d starts at Row(n, i, T, d), and
// its elements are contiguous; rows of one item are Stride(d) apart.
type AttentionGeometry struct {
	N, Heads, Tq, Tk, Dh, Dv int
	BTHD                     bool
}

// AttentionGeometryOf returns the geometry of an attention (or attention
// backward) value.
func AttentionGeometryOf(v *Value) AttentionGeometry {
	q, k, val := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type
	r := q.Rank()
	var bthd bool
	switch a := v.Aux.(type) {
	case AttentionAttr:
		bthd = a.BTHD
	case AttentionBackwardAttr:
		bthd = a.BTHD
	}
	g := AttentionGeometry{BTHD: bthd, Dh: q.Shape[r-1], Dv: val.Shape[r-1]}
	if bthd {
		g.Tq, g.Tk, g.Heads = q.Shape[1], k.Shape[1], q.Shape[2]
		g.N = q.Shape[0] * g.Heads
		return g
	}
	g.Tq, g.Tk = q.Shape[r-2], k.Shape[r-2]
	if g.Tq*g.Dh > 0 {
		g.N = q.NumElements() / (g.Tq * g.Dh)
	}
	if q.Shape[0] > 0 {
		g.Heads = g.N / q.Shape[0]
	}
	return g
}

// Row returns the offset of row i of item n in an operand of sequence
// length t and head size d.
func (g AttentionGeometry) Row(n, i, t, d int) int {
	if g.BTHD {
		return ((n/g.Heads*t+i)*g.Heads + n%g.Heads) * d
	}
	return (n*t + i) * d
}

// Stride returns the distance between consecutive rows of one item in an
// operand of head size d.
func (g AttentionGeometry) Stride(d int) int {
	if g.BTHD {
		return g.Heads * d
	}
	return d
}

func typeAttention(v *Value) (Type, error) {
	if n := len(v.Args); n != 3 && n != 4 {
		return Type{}, errf(v, "attention takes q, k, v and an optional mask, got %d operands", n)
	}
	return typeAttentionOperands(v, v.Aux.(AttentionAttr).BTHD, v.Args[3:])
}

// typeAttentionOperands checks q, k, v (v.Args[:3]) and the optional
// mask, and returns the attention's result type.
func typeAttentionOperands(v *Value, bthd bool, mask []*Value) (Type, error) {
	q, k, val := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type
	r := q.Rank()
	if r < 2 || k.Rank() != r || val.Rank() != r || !q.DType.IsFloat() || k.DType != q.DType || val.DType != q.DType {
		return Type{}, errf(v, "attention needs float q, k, v of one rank ≥ 2, got %v, %v, %v", q, k, val)
	}
	tk := k.Shape[r-2]
	if bthd {
		if r != 4 {
			return Type{}, errf(v, "attention {bthd} needs q, k, v of rank 4 [B, T, H, d], got %v, %v, %v", q, k, val)
		}
		if k.Shape[0] != q.Shape[0] || val.Shape[0] != q.Shape[0] || k.Shape[2] != q.Shape[2] || val.Shape[2] != q.Shape[2] {
			return Type{}, errf(v, "attention {bthd}: batch or heads of %v, %v and %v differ", q, k, val)
		}
		if q.Shape[3] != k.Shape[3] || k.Shape[1] != val.Shape[1] {
			return Type{}, errf(v, "attention {bthd}: q %v, k %v and v %v do not fit", q, k, val)
		}
		tk = k.Shape[1]
	} else {
		if !q.Shape[:r-2].Equal(k.Shape[:r-2]) || !q.Shape[:r-2].Equal(val.Shape[:r-2]) {
			return Type{}, errf(v, "attention: leading dimensions of %v, %v and %v differ", q, k, val)
		}
		if q.Shape[r-1] != k.Shape[r-1] || k.Shape[r-2] != val.Shape[r-2] {
			return Type{}, errf(v, "attention: q %v, k %v and v %v do not fit", q, k, val)
		}
	}
	if len(mask) == 1 {
		m := mask[0].Type
		if m.DType != Bool || m.Rank() != 2 || m.Shape[0] != q.Shape[0] || m.Shape[1] != tk || r < 3 {
			return Type{}, errf(v, "attention: mask %v must be bool[%d,%d]", m, q.Shape[0], tk)
		}
	}
	out := append(q.Shape[:r-1].Clone(), val.Shape[r-1])
	return Type{q.DType, out}, nil
}

func typeAttentionBackward(v *Value) (Type, error) {
	if n := len(v.Args); n != 4 && n != 5 {
		return Type{}, errf(v, "attention_backward takes q, k, v, dy and an optional mask, got %d operands", n)
	}
	a := v.Aux.(AttentionBackwardAttr)
	out, err := typeAttentionOperands(v, a.BTHD, v.Args[4:])
	if err != nil {
		return Type{}, err
	}
	if g := v.Args[3].Type; !g.Equal(out) {
		return Type{}, errf(v, "attention_backward: dy %v must be the attention's type %v", g, out)
	}
	return v.Args[a.Wrt].Type, nil
}

// gradAttention is one attention_backward per operand needed: each
// recomputes the weights from q and k (the forward pass keeps no Tq×Tk
// tensor) in its own cache-resident scratch.
func gradAttention(b *Builder, v, g *Value, need []bool) []*Value {
	a := v.Aux.(AttentionAttr)
	var mask *Value
	if len(v.Args) == 4 {
		mask = v.Args[3]
	}
	out := make([]*Value, len(v.Args))
	for i := range 3 {
		if need[i] {
			out[i] = must(b.AttentionBackward(v.Args[0], v.Args[1], v.Args[2], g, mask,
				AttentionBackwardAttr{Scale: a.Scale, BTHD: a.BTHD, Wrt: i}))
		}
	}
	return out
}
