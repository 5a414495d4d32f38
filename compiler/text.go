package compiler

import (
	"math"
	"slices"

	"github.com/encc-lang/encc/ir"
)

// This file holds the built-ins of transformer text encoders: scaled
// dot-product attention with a padding mask, and the masked-token
// (BERT-style) pre-training loss.

// Token ids the words and chars tokenizers reserve.
const (
	TokenPAD  = 0
	TokenUNK  = 1
	TokenCLS  = 2
	TokenMASK = 3
)

// NoneV is `none`: the default of an optional forward input, and an
// argument that means "not given" (attention(q, k, v, mask: none)).
type NoneV struct{}

func (NoneV) Kind() string { return "none" }

func init() {
	builtinScope.names["none"] = &binding{v: NoneV{}}
	register(&Entry{
		Name: "attention", Kind: KFunc,
		In: []ParamSpec{req("q", "tensor", "queries [..., Tq, dh]"), req("k", "tensor", "keys [..., Tk, dh]"), req("v", "tensor", "values [..., Tk, dv]")},
		Params: []ParamSpec{
			opt("mask", "tensor", "bool [B, Tk]: true at real tokens; keys where it is false get no attention"),
			p("scale", "float", FloatV{0}, "multiplies q·k; 0 means 1/sqrt(dh)"),
			p("dropout", "float", FloatV{0}, "dropout on the attention weights while training"),
		},
		Doc: "attention is scaled dot-product attention, softmax(q @ kᵀ · scale, masked) @ v (Vaswani et al. 2017; PyTorch F.scaled_dot_product_attention with a key padding mask).",
		Sig: "f32[..., Tq, dh], f32[..., Tk, dh], f32[..., Tk, dv] -> f32[..., Tq, dv]",
		fn:  attentionRule,
	})
	register(&Entry{
		Name: "mlm", Kind: KLoss,
		In: []ParamSpec{req("model", "layer", "a model whose forward maps ids i32[B, T] (and mask bool[B, T]) to logits f32[B, T, vocab]"),
			req("ids", "tensor", "token ids i32[B, T]"), req("mask", "tensor", "bool[B, T], true at real tokens")},
		Params: []ParamSpec{p("p", "float", FloatV{0.15}, "fraction of real tokens to predict")},
		Doc: "mlm is the masked-token pre-training loss (BERT): a fraction p of the real tokens (not [PAD] or [CLS]) is drawn afresh each step; " +
			"80% of them are replaced by [MASK] and 20% left as they are; the model sees the result, and the loss is the mean cross-entropy of its logits at the drawn positions against the original ids.",
		Sig: "model, i32[B, T], bool[B, T] -> f32[]",
		fn:  mlmRule,
	})
}

func attentionRule(k *callCtx) Value {
	q, kk, v := k.tensor("q"), k.tensor("k"), k.tensor("v")
	for _, t := range []*TensorV{q, kk, v} {
		if t.T.Rank() < 2 || !isFloat(t.T.DType) {
			return k.errorf("", "attention expects float tensors [..., T, d], got %s", t.T)
		}
	}
	r := q.T.Rank()
	dh := q.T.Dims[r-1]
	if kk.T.Rank() != r || v.T.Rank() != r {
		return k.errorf("", "attention: q %s, k %s and v %s must have the same rank", q.T, kk.T, v.T)
	}
	if !kk.T.Dims[r-1].Equal(dh) {
		return k.errorf("k", "attention: keys %s do not match queries %s in the last dimension", kk.T, q.T)
	}
	if !kk.T.Dims[r-2].Equal(v.T.Dims[r-2]) {
		return k.errorf("v", "attention: values %s do not match keys %s in length", v.T, kk.T)
	}
	batch, ok := broadcast(q.T.Dims[:r-2], kk.T.Dims[:r-2])
	if ok {
		batch, ok = broadcast(batch, v.T.Dims[:r-2])
	}
	if !ok {
		return k.errorf("", "attention: batch dimensions of %s, %s and %s do not broadcast", q.T, kk.T, v.T)
	}
	ins := []*TensorV{q, kk, v}
	if m, has := k.args["mask"].(*TensorV); has {
		want := TensorType{DType: "bool", Dims: []Dim{q.T.Dims[0], kk.T.Dims[r-2]}}
		if !m.T.Equal(want) {
			return k.errorf("mask", "attention: mask must be %s, got %s", want, m.T)
		}
		ins = append(ins, m)
	}
	scale := k.float("scale")
	if scale == 0 {
		n, isConst := dh.Const()
		if !isConst {
			return k.errorf("q", "attention: give scale when the head size %s is symbolic", dh)
		}
		scale = 1 / math.Sqrt(float64(n))
	}
	if d := k.float("dropout"); d < 0 || d >= 1 {
		return k.errorf("dropout", "attention: dropout must be in [0, 1), got %g", d)
	}
	out := TensorType{DType: q.T.DType, Dims: append(append([]Dim(nil), batch...), q.T.Dims[r-2], v.T.Dims[r-1])}
	flops := ConstDim(2).Mul(TensorType{Dims: batch}.NumElements()).Mul(q.T.Dims[r-2]).Mul(kk.T.Dims[r-2]).Mul(dh.Add(v.T.Dims[r-1]))
	k.c.countFlops(flops)
	dropout := k.float("dropout")
	return k.emit(out, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		return lowerAttention(l, in, scale, dropout), nil
	}, ins...)
}

// headsOf returns x [B, T, H, d] when v is permute(x) {perm=[0,2,1,3]},
// else nil.
func headsOf(v *ir.Value) *ir.Value {
	if v == nil || v.Op != ir.OpPermute || v.Type.Rank() != 4 || !slices.Equal(v.Aux.(ir.PermuteAttr).Perm, []int{0, 2, 1, 3}) {
		return nil
	}
	return v.Args[0]
}

// lowerAttention lowers softmax(q kᵀ scale + mask) v; in are q, k, v
// and, when given, the mask. Masked keys get a large negative score
// rather than -inf, so a row with every key masked stays finite.
func lowerAttention(l *lowerer, in []*ir.Value, scale, dropout float64) *ir.Value {
	b := l.b
	q, k, v := in[0], in[1], in[2]
	var mask *ir.Value
	if len(in) == 4 {
		mask = in[3]
	}
	dt := q.Type.DType
	r := q.Type.Rank()
	drop := dropout > 0 && l.training
	if !drop && r >= 3 && q.Type.Shape[:r-2].Equal(k.Type.Shape[:r-2]) && q.Type.Shape[:r-2].Equal(v.Type.Shape[:r-2]) {
		// One fused kernel; its VJP recomputes the weights.
		if qh, kh, vh := headsOf(q), headsOf(k), headsOf(v); qh != nil && kh != nil && vh != nil {
			// Heads split by permute(0, 2, 1, 3) of [B, T, H, d]: read them
			// in place, and permute the result back, which the permute that
			// usually follows cancels.
			a := l.must(b.AttentionBTHD(qh, kh, vh, mask, scale))
			if a == nil {
				return nil
			}
			return l.must(b.Permute(a, 0, 2, 1, 3))
		}
		return l.must(b.Attention(q, k, v, mask, scale))
	}
	// Broadcast batch dimensions or dropout on the weights: the ops it
	// is made of.
	s := l.must(b.MatMul(q, k, ir.MatMulAttr{TransposeB: true}))
	s = l.must(b.Mul(s, l.must(b.Const(dt, scale))))
	if mask != nil && s != nil {
		shape := make(ir.Shape, s.Type.Rank())
		for i := range shape {
			shape[i] = 1
		}
		shape[0], shape[len(shape)-1] = mask.Type.Shape[0], mask.Type.Shape[1]
		m := l.must(b.Reshape(mask, shape))
		s = l.must(b.Where(m, s, l.must(b.Const(dt, -1e9))))
	}
	if s == nil {
		return nil
	}
	a := l.must(b.Softmax(s, s.Type.Rank()-1))
	if drop {
		a = l.dropout(a, dropout)
	}
	return l.must(b.MatMul(a, v, ir.MatMulAttr{}))
}

func mlmRule(k *callCtx) Value {
	ids, mask := k.tensor("ids"), k.tensor("mask")
	if !isInt(ids.T.DType) || ids.T.Rank() != 2 {
		return k.errorf("ids", "mlm expects token ids i32[B, T], got %s", ids.T)
	}
	if want := (TensorType{DType: "bool", Dims: ids.T.Dims}); !mask.T.Equal(want) {
		return k.errorf("mask", "mlm: mask must be %s, got %s", want, mask.T)
	}
	p := k.float("p")
	if p <= 0 || p >= 1 {
		return k.errorf("p", "mlm: p must be in (0, 1), got %g", p)
	}
	in, ok := k.args["model"].(*InstanceV)
	if !ok {
		return k.errorf("model", "mlm: model must be a model instance, got %s", describe(k.args["model"]))
	}
	fw := in.I.forward
	if fw == nil || len(fw.Params) < 1 || len(fw.Params) > 2 {
		return k.errorf("model", "mlm: the forward of %s must take ids (and mask)", in.I.Model.name)
	}
	sel := k.emit(TensorType{DType: "f32", Dims: ids.T.Dims}, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		return mlmSelect(l, in[0], in[1], p), nil
	}, ids, mask)
	masked := k.emit(ids.T, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		return mlmApply(l, in[0], in[1]), nil
	}, ids, sel)
	args := []*argVal{{v: masked, pos: k.n.Pos(), end: k.n.End()}}
	if len(fw.Params) == 2 {
		args = append(args, &argVal{v: mask, pos: k.n.Pos(), end: k.n.End()})
	}
	lv := k.c.callInstance(in.I, args, k.n, k.en)
	logits, ok := lv.(*TensorV)
	if !ok {
		return InvalidV{}
	}
	if logits.T.Rank() != 3 || !isFloat(logits.T.DType) || !logits.T.Dims[0].Equal(ids.T.Dims[0]) || !logits.T.Dims[1].Equal(ids.T.Dims[1]) {
		return k.errorf("model", "mlm: %s must give logits f32[%s, %s, vocab], got %s", in.I.Model.name, ids.T.Dims[0], ids.T.Dims[1], logits.T)
	}
	return k.emit(tensorOf("f32"), func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		return mlmLoss(l, in[0], in[1], in[2]), nil
	}, logits, ids, sel)
}

// mlmSelect draws the positions to predict: real tokens (mask true, not
// a special id) with probability p.
func mlmSelect(l *lowerer, ids, mask *ir.Value, p float64) *ir.Value {
	b := l.b
	f := func(x *ir.Value) *ir.Value { return l.must(b.Cast(x, ir.F32)) }
	notSpecial := f(l.must(b.Gt(ids, l.must(b.Const(ids.Type.DType, TokenMASK)))))
	valid := l.must(b.Mul(f(mask), notSpecial))
	return l.must(b.Mul(valid, l.draw(ids.Type.Shape, p)))
}

// mlmApply replaces 80% of the selected ids by [MASK].
func mlmApply(l *lowerer, ids, sel *ir.Value) *ir.Value {
	b := l.b
	keep := l.draw(ids.Type.Shape, 0.2)
	replace := l.must(b.Mul(sel, l.must(b.Sub(l.must(b.Const(ir.F32, 1)), keep))))
	cond := l.must(b.Gt(replace, l.must(b.Const(ir.F32, 0.5))))
	return l.must(b.Where(cond, l.must(b.Const(ids.Type.DType, TokenMASK)), ids))
}

// mlmLoss is the mean negative log-likelihood of the original ids at the
// selected positions: log_softmax, then one gather of the target column
// of every row.
func mlmLoss(l *lowerer, logits, ids, sel *ir.Value) *ir.Value {
	b := l.b
	bs, t, v := logits.Type.Shape[0], logits.Type.Shape[1], logits.Type.Shape[2]
	logp := l.must(b.LogSoftmax(logits, 2))
	table := l.must(b.Reshape(logp, ir.Shape{bs * t * v, 1}))
	row := l.must(b.Iota(ir.TensorOf(ids.Type.DType, bs*t), 0))
	idx := l.must(b.Add(l.must(b.Mul(row, l.must(b.Const(ids.Type.DType, float64(v))))), l.must(b.Reshape(ids, ir.Shape{bs * t}))))
	picked := l.must(b.Reshape(l.must(b.Gather(table, idx)), ir.Shape{bs, t}))
	num := l.must(b.Sum(l.must(b.Mul(picked, sel)), []int{0, 1}, false))
	den := l.must(b.Max(l.must(b.Sum(sel, []int{0, 1}, false)), l.must(b.Const(ir.F32, 1))))
	return l.must(b.Neg(l.must(b.Div(num, den))))
}
