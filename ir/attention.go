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

// AttentionBackwardAttr holds attention's attributes for its backward
// op.
type AttentionBackwardAttr struct {
	Scale float64 `ir:"scale"`
	BTHD  bool    `ir:"bthd"`
}

// AttentionProductAttr holds the layout of attention_backward_product's
// operand and result and the gradient it computes: 0 q, 1 k, 2 v.
type AttentionProductAttr struct {
	BTHD bool `ir:"bthd"`
	Wrt  int  `ir:"wrt"`
}

func (a AttentionProductAttr) check() error {
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

// AttentionBackward returns, for attention(q, k, v[, mask]) {a.Scale,
// a.BTHD} and the gradient dy of its result, w [N..., Tq, 2·Tk] (N...
// the leading dimensions of q, [B, H] with bthd): per item and query row
// the weights p, then the score gradients ds = p ⊙ (dp − Σ dp ⊙ p)·scale
// with dp = dy·vᵀ (0 at masked keys).
func (b *Builder) AttentionBackward(q, k, v, dy, mask *Value, a AttentionBackwardAttr) (*Value, error) {
	if mask == nil {
		return b.Op(OpAttentionBackward, Type{}, a, q, k, v, dy)
	}
	return b.Op(OpAttentionBackward, Type{}, a, q, k, v, dy, mask)
}

// AttentionBackwardProduct returns one of attention's gradients from w =
// AttentionBackward(…): dq = ds·k (wrt 0, x = k), dk = dsᵀ·q (wrt 1, x =
// q) or dv = pᵀ·dy (wrt 2, x = dy), per item, reading x and writing the
// result in the layout a.BTHD names.
func (b *Builder) AttentionBackwardProduct(w, x *Value, a AttentionProductAttr) (*Value, error) {
	return b.Op(OpAttentionBackwardProduct, Type{}, a, w, x)
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
	var bthd bool
	switch a := v.Aux.(type) {
	case AttentionAttr:
		bthd = a.BTHD
	case AttentionBackwardAttr:
		bthd = a.BTHD
	case AttentionProductAttr:
		return attentionProductGeometry(v, a)
	}
	q, k, val := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type
	r := q.Rank()
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
	q, k := v.Args[0].Type, v.Args[1].Type
	r := q.Rank()
	lead, tq, tk := q.Shape[:r-2].Clone(), q.Shape[r-2], k.Shape[r-2]
	if a.BTHD {
		lead, tq, tk = Shape{q.Shape[0], q.Shape[2]}, q.Shape[1], k.Shape[1]
	}
	return Type{q.DType, append(lead, tq, 2*tk)}, nil
}

// attentionProductGeometry is the geometry of attention_backward_product
// (Dh and Dv both x's head size).
func attentionProductGeometry(v *Value, a AttentionProductAttr) AttentionGeometry {
	w, x := v.Args[0].Type, v.Args[1].Type
	r := w.Rank()
	g := AttentionGeometry{BTHD: a.BTHD, Tq: w.Shape[r-2], Tk: w.Shape[r-1] / 2, Dh: x.Shape[x.Rank()-1]}
	g.Dv = g.Dh
	if g.Tq*g.Tk > 0 {
		g.N = w.NumElements() / (g.Tq * 2 * g.Tk)
	}
	if w.Shape[0] > 0 {
		g.Heads = g.N / w.Shape[0]
	}
	return g
}

func typeAttentionBackwardProduct(v *Value) (Type, error) {
	a := v.Aux.(AttentionProductAttr)
	w, x := v.Args[0].Type, v.Args[1].Type
	r, xr := w.Rank(), x.Rank()
	if !w.DType.IsFloat() || x.DType != w.DType || r < 3 || w.Shape[r-1]%2 != 0 || xr < 2 {
		return Type{}, errf(v, "attention_backward_product needs float w [..., Tq, 2·Tk] and x of one dtype, got %v, %v", w, x)
	}
	tq, tk := w.Shape[r-2], w.Shape[r-1]/2
	tx, tout := tq, tk // x is q or dy: rows of queries; the result has a row per key
	if a.Wrt == 0 {
		tx, tout = tk, tq // x is k
	}
	out := x.Shape.Clone()
	if a.BTHD {
		if r != 4 || xr != 4 || x.Shape[0] != w.Shape[0] || x.Shape[2] != w.Shape[1] || x.Shape[1] != tx {
			return Type{}, errf(v, "attention_backward_product {bthd}: w %v and x %v do not fit", w, x)
		}
		out[1] = tout
	} else {
		if xr != r || !x.Shape[:r-2].Equal(w.Shape[:r-2]) || x.Shape[r-2] != tx {
			return Type{}, errf(v, "attention_backward_product: w %v and x %v do not fit", w, x)
		}
		out[r-2] = tout
	}
	return Type{x.DType, out}, nil
}

// gradAttention recomputes the weights from q and k (the forward pass
// keeps no Tq×Tk tensor) and the score gradients in one
// attention_backward, then takes each gradient needed from them with one
// attention_backward_product, which reads q, k and dy in place.
func gradAttention(b *Builder, v, g *Value, need []bool) []*Value {
	a := v.Aux.(AttentionAttr)
	var mask *Value
	if len(v.Args) == 4 {
		mask = v.Args[3]
	}
	w := must(b.AttentionBackward(v.Args[0], v.Args[1], v.Args[2], g, mask, AttentionBackwardAttr{Scale: a.Scale, BTHD: a.BTHD}))
	out := make([]*Value, len(v.Args))
	for i, x := range []*Value{v.Args[1], v.Args[0], g} {
		if need[i] {
			out[i] = must(b.AttentionBackwardProduct(w, x, AttentionProductAttr{BTHD: a.BTHD, Wrt: i}))
		}
	}
	return out
}
