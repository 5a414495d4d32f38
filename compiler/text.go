package compiler

import "math"

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
	ins := []Value{q, kk, v}
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
	return k.c.emit(k.n, "attention", out, map[string]any{"scale": scale, "dropout": k.float("dropout")}, ins...)
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
	sel := k.c.emit(k.n, "mlm_select", TensorType{DType: "f32", Dims: ids.T.Dims}, map[string]any{"p": p}, ids, mask)
	masked := k.c.emit(k.n, "mlm_apply", ids.T, nil, ids, sel)
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
	return k.c.emit(k.n, "mlm_loss", tensorOf("f32"), nil, logits, ids, sel)
}
