package compiler

import (
	"math"
	"strings"

	"github.com/encc-lang/encc/ir"
)

// This file is the catalog of built-ins: every layer, function, loss,
// initializer, optimizer, schedule, metric and data source, each with its
// arguments, documentation and, for what makes tensors, its shape rule
// and lowering (elementwiseFuncs for the plain elementwise functions).
// The lowerer, the LSP (hover, completion), `encc summary` and
// docs/builtins.md read these same entries.

func p(name, typ string, def Value, doc string) ParamSpec {
	return ParamSpec{Name: name, Type: typ, Default: def, Doc: doc}
}

func req(name, typ, doc string) ParamSpec { return ParamSpec{Name: name, Type: typ, Doc: doc} }

func opt(name, typ, doc string) ParamSpec {
	return ParamSpec{Name: name, Type: typ, Doc: doc, Optional: true}
}

var (
	xIn    = []ParamSpec{req("x", "tensor", "input")}
	zero   = FloatV{0}
	false_ = BoolV{false}
	true_  = BoolV{true}
)

func init() {
	register(layers()...)
	register(functions()...)
	register(losses()...)
	register(configs()...)
}

// ---------------------------------------------------------------------
// Layers

func layers() []*Entry {
	return []*Entry{
		{
			Name: "Linear", Kind: KLayer,
			Params: []ParamSpec{req("in", "int", "input features"), req("out", "int", "output features"), p("bias", "bool", true_, "learn an additive bias")},
			In:     xIn,
			Doc:    "Linear applies y = x @ weight^T + bias over the last dimension (PyTorch nn.Linear; weight is [out, in]).",
			Sig:    "f32[..., in] -> f32[..., out]",
			params: func(a map[string]Value) []LayerParam {
				in, out := a["in"].(IntV).V, a["out"].(IntV).V
				bound := 1 / math.Sqrt(float64(in))
				ps := []LayerParam{{Name: "weight", Type: tensorOf("f32", constDims(out, in)...), FanIn: int(in), FanOut: int(out),
					Init: initCfg("kaiming_uniform", "a", FloatV{math.Sqrt(5)})}}
				if a["bias"].(BoolV).V {
					ps = append(ps, LayerParam{Name: "bias", Type: tensorOf("f32", ConstDim(out)), FanIn: int(in), FanOut: int(out),
						Init: initCfg("uniform", "low", FloatV{-bound}, "high", FloatV{bound})})
				}
				return ps
			},
			fn: func(k *callCtx) Value {
				x := k.tensor("x")
				in, out := k.int("in"), k.int("out")
				r := x.T.Rank()
				if r == 0 || !isFloat(x.T.DType) || !x.T.Dims[r-1].Equal(ConstDim(in)) {
					want := TensorType{DType: "f32", Dims: append(append([]Dim(nil), x.T.Dims[:max(r-1, 0)]...), ConstDim(in))}
					if r == 0 {
						want = tensorOf("f32", VarDim("N"), ConstDim(in))
					}
					return k.errorf("", "%q expects %s, got %s", k.name, want, x.T)
				}
				dims := append(append([]Dim(nil), x.T.Dims[:r-1]...), ConstDim(out))
				outT := TensorType{DType: x.T.DType, Dims: dims}
				k.c.countFlops(ConstDim(2 * in * out).Mul(TensorType{Dims: x.T.Dims[:r-1]}.NumElements()))
				ins := []*TensorV{x, k.param("weight")}
				if k.bool("bias") {
					ins = append(ins, k.param("bias"))
				}
				if lo := k.lora(); lo != nil { // adapted by the train's lora (lora.go)
					a, b := LoRAPair(k.layer.Path)
					k.c.countFlops(ConstDim(2 * int64(lo.R) * (in + out)).Mul(TensorType{Dims: x.T.Dims[:r-1]}.NumElements()))
					return k.emit(outT, lowerLoRALinear(lo), append(ins, k.c.paramTensor(a), k.c.paramTensor(b))...)
				}
				return k.emit(outT, lowerLinear, ins...)
			},
		},
		{
			Name: "Embedding", Kind: KLayer,
			Params: []ParamSpec{req("num", "int", "number of embeddings (vocabulary size)"), req("dim", "int", "embedding size")},
			In:     []ParamSpec{req("ids", "tensor", "integer ids")},
			Doc:    "Embedding looks up a learned vector for each integer id (PyTorch nn.Embedding; weight is [num, dim], initialized N(0, 1)).",
			Sig:    "i32[...] -> f32[..., dim]",
			params: func(a map[string]Value) []LayerParam {
				n, d := a["num"].(IntV).V, a["dim"].(IntV).V
				return []LayerParam{{Name: "weight", Type: tensorOf("f32", ConstDim(n), ConstDim(d)), FanIn: int(d), FanOut: int(n),
					Init: initCfg("normal", "mean", zero, "std", FloatV{1})}}
			},
			fn: func(k *callCtx) Value {
				ids := k.tensor("ids")
				if !isInt(ids.T.DType) {
					return k.errorf("ids", "%q expects integer ids, got %s", k.name, ids.T)
				}
				dims := append(append([]Dim(nil), ids.T.Dims...), ConstDim(k.int("dim")))
				return k.emit(TensorType{DType: "f32", Dims: dims}, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
					return l.b.Gather(in[1], in[0])
				}, ids, k.param("weight"))
			},
		},
		{
			Name: "LayerNorm", Kind: KLayer,
			Params: []ParamSpec{req("d", "int", "normalized (last) dimension"), p("eps", "float", FloatV{1e-5}, "added to the variance")},
			In:     xIn,
			Doc:    "LayerNorm normalizes the last dimension to zero mean and unit variance, then scales by weight and shifts by bias (PyTorch nn.LayerNorm).",
			Sig:    "f32[..., d] -> f32[..., d]",
			params: func(a map[string]Value) []LayerParam {
				d := a["d"].(IntV).V
				return []LayerParam{
					{Name: "weight", Type: tensorOf("f32", ConstDim(d)), FanIn: int(d), Init: initCfg("ones")},
					{Name: "bias", Type: tensorOf("f32", ConstDim(d)), FanIn: int(d), Init: initCfg("zeros")},
				}
			},
			fn: func(k *callCtx) Value {
				x := k.tensor("x")
				d := k.int("d")
				r := x.T.Rank()
				if r == 0 || !x.T.Dims[r-1].Equal(ConstDim(d)) || !isFloat(x.T.DType) {
					want := TensorType{DType: "f32", Dims: append(append([]Dim(nil), x.T.Dims[:max(r-1, 0)]...), ConstDim(d))}
					return k.errorf("", "%q expects %s, got %s", k.name, want, x.T)
				}
				eps := k.float("eps")
				return k.emit(x.T, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
					return l.b.LayerNorm(in[0], in[1], in[2], eps)
				}, x, k.param("weight"), k.param("bias"))
			},
		},
		{
			Name: "Dropout", Kind: KLayer,
			Params: []ParamSpec{p("p", "float", FloatV{0.5}, "probability of zeroing an element")},
			In:     xIn,
			Doc:    "Dropout zeroes elements with probability p during training and scales the rest by 1/(1-p); identity in evaluation.",
			Sig:    "f32[...] -> f32[...]",
			validate: func(k *callCtx) bool {
				if p := k.float("p"); p < 0 || p >= 1 {
					k.errorf("", "Dropout: p must be in [0, 1), got %g", p)
					return false
				}
				return true
			},
			fn: func(k *callCtx) Value {
				x := k.tensor("x")
				if k.float("p") == 0 {
					return x
				}
				return k.emit(x.T, lowerDropout(k.float("p")), x)
			},
		},
	}
}

// lowerLinear lowers x @ weight^T + bias (in: x, weight and maybe bias),
// flattening leading dimensions so the product is one 2-D GEMM.
func lowerLinear(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
	b := l.b
	x, w := in[0], in[1]
	k := x.Type.Shape[x.Type.Rank()-1]
	flat := x
	if x.Type.Rank() != 2 {
		flat = l.must(b.Reshape(x, ir.Shape{x.Type.NumElements() / k, k}))
	}
	if l.qat != nil && w.Op == ir.OpInput && l.qat.Params[w.Name] {
		flat, w = l.lowerQATLinear(flat, w)
	}
	y := l.must(b.MatMul(flat, w, ir.MatMulAttr{TransposeB: true}))
	if len(in) == 3 {
		y = l.must(b.Add(y, in[2]))
	}
	if y != nil && !y.Type.Shape.Equal(t.Shape) {
		y = l.must(b.Reshape(y, t.Shape))
	}
	return y, nil
}

// lowerDropout lowers dropout with probability p: the identity outside
// training.
func lowerDropout(p float64) lowerFunc {
	return func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		if !l.training {
			return in[0], nil
		}
		return l.dropout(in[0], p), nil
	}
}

func initCfg(name string, kv ...any) *ConfigV {
	e := catalog[name]
	args := e.defaults()
	for i := 0; i+1 < len(kv); i += 2 {
		args[kv[i].(string)] = kv[i+1].(Value)
	}
	return &ConfigV{E: e, Args: args}
}

// convOut computes a convolution's or pooling's output size.
func (k *callCtx) convOut(size Dim, kernel, stride, pad, dil int64) (Dim, bool) {
	num := size.Add(ConstDim(2*pad - dil*(kernel-1) - 1))
	if n, ok := num.Const(); ok {
		if n < 0 {
			k.errorf("", "%q: input size %s is smaller than the kernel (%d, dilation %d, padding %d)", k.name, size, kernel, dil, pad)
			return Dim{}, false
		}
		return ConstDim(n/stride + 1), true
	}
	q, ok := num.Div(ConstDim(stride))
	if !ok {
		k.errorf("", "%q: output size (%s) / %d is not exact for symbolic size %s", k.name, num, stride, size)
		return Dim{}, false
	}
	return q.Add(ConstDim(1)), true
}

// ---------------------------------------------------------------------
// Functions

// An elementwise is a function of one float tensor that is one IR op
// applied to each element: relu, tanh, gelu. Each becomes a catalog
// entry (elementwise.entry) with the same shape rule and lowering; on a
// number it is computed at compile time by the op's scalar arithmetic
// (ir.EvalScalar). Adding one is one line in elementwiseFuncs.
type elementwise struct {
	name   string
	op     ir.Op
	doc    string
	params []ParamSpec                  // arguments after x, as gelu's approximate
	attrs  func(k *callCtx) (any, bool) // the op's attributes from params; false after reporting a bad one
	torch  string                       // Entry.Torch: the PyTorch function with the same arguments
}

var elementwiseFuncs = []elementwise{
	{name: "relu", op: ir.OpRelu, doc: "relu is max(x, 0), elementwise."},
	{name: "tanh", op: ir.OpTanh, doc: "tanh is the hyperbolic tangent, elementwise."},
	{name: "sigmoid", op: ir.OpSigmoid, doc: "sigmoid is 1 / (1 + exp(-x)), elementwise."},
	{name: "exp", op: ir.OpExp, doc: "exp is e**x, elementwise."},
	{name: "log", op: ir.OpLog, doc: "log is the natural logarithm, elementwise."},
	{name: "sqrt", op: ir.OpSqrt, doc: "sqrt is the square root, elementwise; on a number it is computed at compile time."},
	{name: "abs", op: ir.OpAbs, doc: "abs is |x|, elementwise."},
	{name: "gelu", op: ir.OpGelu, doc: "gelu is x * Φ(x), the Gaussian error linear unit; approximate: \"tanh\" uses the tanh form.",
		params: []ParamSpec{p("approximate", "string", StrV{"none"}, `"none" (exact, with erf) or "tanh"`)},
		attrs: func(k *callCtx) (any, bool) {
			a := k.str("approximate")
			if a != "none" && a != "tanh" {
				k.errorf("approximate", `gelu: approximate must be "none" or "tanh", got %q`, a)
				return nil, false
			}
			return ir.GeluAttr{Approximate: a == "tanh"}, true
		}},
	{name: "softplus", op: ir.OpSoftplus, torch: "F.softplus", doc: "softplus is log(1 + exp(beta * x)) / beta, elementwise, and x itself where beta * x > threshold (PyTorch F.softplus).",
		params: []ParamSpec{p("beta", "float", FloatV{1}, "sharpness; not 0"), p("threshold", "float", FloatV{20}, "above this beta * x the result is x")},
		attrs: func(k *callCtx) (any, bool) {
			if b := k.float("beta"); b == 0 || math.IsNaN(b) || math.IsInf(b, 0) {
				k.errorf("beta", "softplus: beta must be finite and not 0, got %g", b)
				return nil, false
			}
			return ir.SoftplusAttr{Beta: k.float("beta"), Threshold: k.float("threshold")}, true
		}},
	{name: "elu", op: ir.OpElu, torch: "F.elu", doc: "elu is x for x > 0, else alpha * (exp(x) - 1), elementwise (PyTorch F.elu).",
		params: []ParamSpec{p("alpha", "float", FloatV{1}, "the value elu tends to, negated, as x → -∞")},
		attrs:  func(k *callCtx) (any, bool) { return ir.EluAttr{Alpha: k.float("alpha")}, true }},
}

// entry is the catalog entry of u.
func (u elementwise) entry() *Entry {
	return &Entry{Name: u.name, Kind: KFunc, In: []ParamSpec{req("x", "any", "tensor or number")}, Params: u.params, Doc: u.doc, Sig: "f32[...] -> f32[...]", Torch: u.torch,
		fn: func(k *callCtx) Value {
			var aux any
			if u.attrs != nil {
				a, ok := u.attrs(k)
				if !ok {
					return InvalidV{}
				}
				aux = a
			}
			switch x := k.args["x"].(type) {
			case *TensorV:
				if !isFloat(x.T.DType) {
					return k.errorf("x", "%s expects a float tensor, got %s", u.name, x.T)
				}
				return k.emit(x.T, lowerOp(u.op, aux), x)
			case IntV, FloatV:
				f, _ := floatOf(x)
				r, ok := ir.EvalScalar(u.op, aux, ir.F32, []float64{f})
				if !ok || math.IsNaN(r) || math.IsInf(r, 0) {
					return k.errorf("x", "%s(%s) is not a finite number", u.name, valueString(x))
				}
				return FloatV{r}
			}
			return k.errorf("x", "%s expects a tensor or a number, got %s", u.name, describe(k.args["x"]))
		}}
}

// normAxis resolves a possibly negative axis against a rank.
func (k *callCtx) normAxis(arg string, axis int64, rank int) (int, bool) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		k.errorf(arg, "axis %d out of range for a tensor of rank %d", k.int(arg), rank)
		return 0, false
	}
	return int(axis), true
}

func functions() []*Entry {
	es := []*Entry{
		{
			Name: "silu", Kind: KFunc, In: xIn,
			Doc: "silu is x * sigmoid(x), elementwise.",
			Sig: "f32[...] -> f32[...]",
			fn: func(k *callCtx) Value {
				x := k.tensor("x")
				if !isFloat(x.T.DType) {
					return k.errorf("x", "silu expects a float tensor, got %s", x.T)
				}
				return k.emit(x.T, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
					return l.b.Mul(in[0], l.must(l.b.Sigmoid(in[0])))
				}, x)
			},
		},
		{
			Name: "leaky_relu", Kind: KFunc, In: xIn,
			Params: []ParamSpec{p("slope", "float", FloatV{0.01}, "slope for x < 0")},
			Doc:    "leaky_relu is x for x ≥ 0 and slope * x otherwise.",
			Sig:    "f32[...] -> f32[...]",
			fn: func(k *callCtx) Value {
				x := k.tensor("x")
				slope := k.float("slope")
				return k.emit(x.T, func(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
					b, x := l.b, in[0]
					return b.Where(l.must(b.Gt(x, l.must(b.Const(t.DType, 0)))), x, l.must(b.Mul(x, l.must(b.Const(t.DType, slope)))))
				}, x)
			},
		},
		softmaxEntry("softmax", "softmax normalizes exp(x) to sum to 1 along axis.", (*ir.Builder).Softmax),
		softmaxEntry("log_softmax", "log_softmax is log(softmax(x)) along axis, computed stably.", (*ir.Builder).LogSoftmax),
		reduceEntry("sum", "sum adds elements over axis (an int or a list; all axes when omitted).", (*ir.Builder).Sum),
		reduceEntry("mean", "mean averages elements over axis (an int or a list; all axes when omitted).", (*ir.Builder).Mean),
		reduceEntry("max", "max takes the largest element over axis (an int or a list; all axes when omitted).", (*ir.Builder).ReduceMax),
		{
			Name: "argmax", Kind: KFunc, In: xIn,
			Params: []ParamSpec{p("axis", "int", IntV{-1}, "axis to search")},
			Doc:    "argmax returns the index of the largest element along axis.",
			Sig:    "f32[..., n, ...] -> i32[..., ...]",
			fn: func(k *callCtx) Value {
				x := k.tensor("x")
				ax, ok := k.normAxis("axis", k.int("axis"), x.T.Rank())
				if !ok {
					return InvalidV{}
				}
				dims := append(append([]Dim(nil), x.T.Dims[:ax]...), x.T.Dims[ax+1:]...)
				return k.emit(TensorType{DType: "i32", Dims: dims}, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
					r, err := l.b.ArgMax(in[0], ax, false)
					if err != nil {
						return nil, err
					}
					return l.b.Cast(r, ir.I32)
				}, x)
			},
		},
		{
			Name: "transpose", Kind: KFunc, In: xIn,
			Doc: "transpose swaps the last two dimensions (also written x.T).",
			Sig: "f32[..., m, n] -> f32[..., n, m]",
			fn:  func(k *callCtx) Value { return k.c.transpose(k.n, k.tensor("x")) },
		},
		{
			Name: "permute", Kind: KFunc, In: xIn, Rest: &ParamSpec{Name: "axes", Type: "int"},
			Doc: "permute reorders dimensions: permute(x, 0, 2, 1, 3).",
			Sig: "f32[d0, d1, ...] -> f32[d_axes0, d_axes1, ...]",
			fn: func(k *callCtx) Value {
				x := k.tensor("x")
				if len(k.rest) != x.T.Rank() {
					return k.errorf("", "permute of %s needs %d axes, got %d", x.T, x.T.Rank(), len(k.rest))
				}
				perm := make([]int, len(k.rest))
				seen := map[int]bool{}
				for i, a := range k.rest {
					ax := int(a.v.(IntV).V)
					if ax < 0 {
						ax += x.T.Rank()
					}
					if ax < 0 || ax >= x.T.Rank() || seen[ax] {
						k.c.errorf(a.pos, "permute: axes must be a permutation of 0..%d, got %s", x.T.Rank()-1, argsText(k))
						return InvalidV{}
					}
					seen[ax] = true
					perm[i] = ax
				}
				return k.c.permute(k.n, x, perm)
			},
		},
		{
			Name: "reshape", Kind: KFunc, In: xIn, Rest: &ParamSpec{Name: "dims", Type: "dim"},
			Doc: "reshape gives x new dimensions with the same number of elements; one dimension may be -1 (inferred).",
			Sig: "f32[...] -> f32[dims...]",
			fn:  reshapeRule,
		},
		{
			Name: "flatten", Kind: KFunc, In: xIn,
			Params: []ParamSpec{p("start", "int", IntV{1}, "first dimension to flatten")},
			Doc:    "flatten merges the dimensions from start to the end into one (PyTorch's default keeps the batch dimension).",
			Sig:    "f32[B, d1, d2, ...] -> f32[B, d1 * d2 * ...]",
			fn: func(k *callCtx) Value {
				x := k.tensor("x")
				st, ok := k.normAxis("start", k.int("start"), x.T.Rank())
				if !ok {
					return InvalidV{}
				}
				dims := append([]Dim(nil), x.T.Dims[:st]...)
				dims = append(dims, TensorType{Dims: x.T.Dims[st:]}.NumElements())
				return k.emit(TensorType{DType: x.T.DType, Dims: dims}, lowerReshape, x)
			},
		},
		poolEntry("maxpool2d", "maxpool2d takes the maximum over kernel×kernel windows of NCHW images.", (*ir.Builder).MaxPool2D),
		poolEntry("avgpool2d", "avgpool2d averages over kernel×kernel windows of NCHW images.", (*ir.Builder).AvgPool2D),
		{
			Name: "dropout", Kind: KFunc, In: xIn,
			Params: []ParamSpec{req("p", "float", "probability of zeroing an element")},
			Doc:    "dropout zeroes elements with probability p during training (the function form of Dropout).",
			Sig:    "f32[...] -> f32[...]",
			fn: func(k *callCtx) Value {
				x := k.tensor("x")
				if p := k.float("p"); p < 0 || p >= 1 {
					return k.errorf("p", "dropout: p must be in [0, 1), got %g", p)
				}
				if k.float("p") == 0 {
					return x
				}
				return k.emit(x.T, lowerDropout(k.float("p")), x)
			},
		},
		{
			Name: "concat", Kind: KFunc, Rest: &ParamSpec{Name: "xs", Type: "tensor"},
			Params: []ParamSpec{p("axis", "int", IntV{-1}, "axis to join along")},
			Doc:    "concat joins tensors along axis; the other dimensions must agree.",
			Sig:    "f32[..., a], f32[..., b] -> f32[..., a + b]",
			fn:     concatRule,
		},
		{
			Name: "where", Kind: KFunc, In: []ParamSpec{req("cond", "tensor", "bool mask"), req("a", "any", "taken where cond"), req("b", "any", "taken elsewhere")},
			Doc: "where picks a where cond is true and b elsewhere, broadcasting all three.",
			Sig: "bool[...], f32[...], f32[...] -> f32[...]",
			fn: func(k *callCtx) Value {
				cond := k.tensor("cond")
				if cond.T.DType != "bool" {
					return k.errorf("cond", "where: cond must be a bool tensor, got %s", cond.T)
				}
				a, ok1 := scalarTensor(k.args["a"], "f32")
				b, ok2 := scalarTensor(k.args["b"], "f32")
				if !ok1 || !ok2 || a.T.DType != b.T.DType {
					return k.errorf("", "where: a and b must be tensors or numbers of one dtype")
				}
				d1, ok := broadcast(cond.T.Dims, a.T.Dims)
				d2, ok2b := broadcast(d1, b.T.Dims)
				if !ok || !ok2b {
					return k.errorf("", "where: cannot broadcast %s, %s and %s", cond.T, a.T, b.T)
				}
				return k.emit(TensorType{DType: a.T.DType, Dims: d2}, lowerOp(ir.OpWhere, nil), cond, a, b)
			},
		},
		{
			Name: "arange", Kind: KFunc, In: []ParamSpec{req("n", "dim", "length")},
			Doc: "arange is the ids 0, 1, ..., n-1 (positions for a learned position embedding).",
			Sig: "n -> i32[n]",
			fn: func(k *callCtx) Value {
				d, _ := dimOf(k.args["n"])
				return k.emit(tensorOf("i32", d), func(l *lowerer, t ir.Type, _ []*ir.Value) (*ir.Value, error) {
					return l.b.Iota(t, 0)
				})
			},
		},
		{
			Name: "sinusoidal", Kind: KFunc, In: []ParamSpec{req("n", "dim", "sequence length"), req("d", "int", "model dimension")},
			Doc: "sinusoidal is the fixed sine/cosine position encoding of Vaswani et al. (2017), [n, d].",
			Sig: "n, d -> f32[n, d]",
			fn: func(k *callCtx) Value {
				d, _ := dimOf(k.args["n"])
				return k.emit(tensorOf("f32", d, ConstDim(k.int("d"))), func(l *lowerer, t ir.Type, _ []*ir.Value) (*ir.Value, error) {
					return l.b.Literal(t, sinusoidal(t.Shape[0], t.Shape[1]))
				})
			},
		},
		{
			Name: "one_hot", Kind: KFunc, In: []ParamSpec{req("labels", "tensor", "integer classes")},
			Params: []ParamSpec{req("classes", "int", "number of classes")},
			Doc:    "one_hot turns integer labels into rows of 0s with a 1 at the label.",
			Sig:    "i32[...] -> f32[..., classes]",
			fn: func(k *callCtx) Value {
				l := k.tensor("labels")
				if !isInt(l.T.DType) {
					return k.errorf("labels", "one_hot expects integer labels, got %s", l.T)
				}
				dims := append(append([]Dim(nil), l.T.Dims...), ConstDim(k.int("classes")))
				classes := int(k.int("classes"))
				return k.emit(TensorType{DType: "f32", Dims: dims}, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
					return l.b.OneHot(in[0], classes, ir.F32)
				}, l)
			},
		},
		{
			Name: "float", Kind: KFunc, In: xIn,
			Doc: "float converts a tensor to f32 (a bool mask becomes 0s and 1s).",
			Sig: "i32[...] -> f32[...]",
			fn: func(k *callCtx) Value {
				x := k.tensor("x")
				return k.emit(TensorType{DType: "f32", Dims: x.T.Dims}, func(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
					return l.b.Cast(in[0], t.DType)
				}, x)
			},
		},
		{
			Name: "matmul", Kind: KFunc, In: []ParamSpec{req("a", "tensor", "left"), req("b", "tensor", "right")},
			Doc: "matmul is a @ b: batched matrix product with NumPy's broadcasting rules.",
			Sig: "f32[..., m, k], f32[..., k, n] -> f32[..., m, n]",
			fn:  func(k *callCtx) Value { return k.c.matmul(k.n, k.tensor("a"), k.tensor("b")) },
		},
	}
	for _, u := range elementwiseFuncs {
		es = append(es, u.entry())
	}
	return es
}

func argsText(k *callCtx) string {
	var parts []string
	for _, a := range k.rest {
		parts = append(parts, valueString(a.v))
	}
	return strings.Join(parts, ", ")
}

func softmaxEntry(name, doc string, op func(b *ir.Builder, x *ir.Value, axis int) (*ir.Value, error)) *Entry {
	return &Entry{Name: name, Kind: KFunc, In: xIn, Params: []ParamSpec{p("axis", "int", IntV{-1}, "axis to normalize")}, Doc: doc,
		Sig: "f32[...] -> f32[...]",
		fn: func(k *callCtx) Value {
			x := k.tensor("x")
			ax, ok := k.normAxis("axis", k.int("axis"), x.T.Rank())
			if !ok {
				return InvalidV{}
			}
			return k.emit(x.T, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
				return op(l.b, in[0], ax)
			}, x)
		}}
}

func reduceEntry(name, doc string, op func(b *ir.Builder, x *ir.Value, axes []int, keepdims bool) (*ir.Value, error)) *Entry {
	return &Entry{Name: name, Kind: KFunc, In: xIn,
		Params: []ParamSpec{p("axis", "axes", &ListV{}, "axis or axes to reduce; [] means all"), p("keepdims", "bool", false_, "keep reduced axes as size 1")},
		Doc:    doc, Sig: "f32[...] -> f32[...] without axis",
		fn: func(k *callCtx) Value {
			x := k.tensor("x")
			var axes []int
			switch a := k.args["axis"].(type) {
			case IntV:
				ax, ok := k.normAxis("axis", a.V, x.T.Rank())
				if !ok {
					return InvalidV{}
				}
				axes = []int{ax}
			case *ListV:
				if len(a.Elems) == 0 {
					for i := range x.T.Dims {
						axes = append(axes, i)
					}
				}
				for _, e := range a.Elems {
					ax, ok := k.normAxis("axis", e.(IntV).V, x.T.Rank())
					if !ok {
						return InvalidV{}
					}
					axes = append(axes, ax)
				}
			}
			red := map[int]bool{}
			for _, a := range axes {
				red[a] = true
			}
			var dims []Dim
			for i, d := range x.T.Dims {
				switch {
				case !red[i]:
					dims = append(dims, d)
				case k.bool("keepdims"):
					dims = append(dims, ConstDim(1))
				}
			}
			keep := k.bool("keepdims")
			return k.emit(TensorType{DType: x.T.DType, Dims: dims}, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
				return op(l.b, in[0], axes, keep)
			}, x)
		}}
}

func poolEntry(name, doc string, op func(b *ir.Builder, x *ir.Value, a ir.Pool2DAttr) (*ir.Value, error)) *Entry {
	return &Entry{Name: name, Kind: KFunc, In: xIn,
		Params: []ParamSpec{req("kernel", "int", "window size"), p("stride", "int", IntV{0}, "step; 0 means the kernel size"), p("padding", "int", IntV{0}, "padding on each side")},
		Doc:    doc, Sig: "f32[N, C, H, W] -> f32[N, C, (H + 2*padding - kernel)/stride + 1, ...]",
		fn: func(k *callCtx) Value {
			x := k.tensor("x")
			if x.T.Rank() != 4 {
				return k.errorf("", "%s expects f32[N, C, H, W], got %s", name, x.T)
			}
			kk, st, pad := k.int("kernel"), k.int("stride"), k.int("padding")
			if st == 0 {
				st = kk
			}
			if kk <= 0 || st <= 0 || pad < 0 || 2*pad > kk {
				return k.errorf("", "%s: bad kernel %d, stride %d, padding %d", name, kk, st, pad)
			}
			h, ok1 := k.convOut(x.T.Dims[2], kk, st, pad, 1)
			w, ok2 := k.convOut(x.T.Dims[3], kk, st, pad, 1)
			if !ok1 || !ok2 {
				return InvalidV{}
			}
			a := ir.Pool2DAttr{Kernel: [2]int{int(kk), int(kk)}, Stride: [2]int{int(st), int(st)}, Padding: [2]int{int(pad), int(pad)}}
			return k.emit(tensorOf(x.T.DType, x.T.Dims[0], x.T.Dims[1], h, w), func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
				return op(l.b, in[0], a)
			}, x)
		}}
}

func reshapeRule(k *callCtx) Value {
	x := k.tensor("x")
	var dims []Dim
	infer := -1
	known := ConstDim(1)
	for i, a := range k.rest {
		d, _ := dimOf(a.v)
		if n, ok := d.Const(); ok && n == -1 {
			if infer >= 0 {
				k.c.errorf(a.pos, "reshape: only one dimension may be -1")
				return InvalidV{}
			}
			infer = i
			dims = append(dims, d)
			continue
		}
		if n, ok := d.Const(); ok && n <= 0 {
			k.c.errorf(a.pos, "reshape: dimension %d must be positive", n)
			return InvalidV{}
		}
		known = known.Mul(d)
		dims = append(dims, d)
	}
	total := x.T.NumElements()
	if infer >= 0 {
		q, ok := total.Div(known)
		if !ok {
			return k.errorf("", "cannot reshape %s (%s elements) to [%s]: %s is not divisible by %s", x.T, total, dimsText(dims), total, known)
		}
		dims[infer] = q
	} else if !known.Equal(total) {
		return k.errorf("", "cannot reshape %s (%s elements) to [%s] (%s elements)", x.T, total, dimsText(dims), known)
	}
	return k.emit(TensorType{DType: x.T.DType, Dims: dims}, lowerReshape, x)
}

// lowerReshape gives the input the result's shape.
func lowerReshape(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
	return l.b.Reshape(in[0], t.Shape)
}

func dimsText(ds []Dim) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return strings.Join(parts, ", ")
}

func concatRule(k *callCtx) Value {
	if len(k.rest) < 1 {
		return k.errorf("", "concat needs at least one tensor")
	}
	first := k.rest[0].v.(*TensorV)
	ax, ok := k.normAxis("axis", k.int("axis"), first.T.Rank())
	if !ok {
		return InvalidV{}
	}
	sum := Dim{}
	ins := make([]*TensorV, len(k.rest))
	for i, a := range k.rest {
		t := a.v.(*TensorV)
		ins[i] = t
		if t.T.Rank() != first.T.Rank() || t.T.DType != first.T.DType {
			k.c.errorf(a.pos, "concat: %s does not match %s", t.T, first.T)
			return InvalidV{}
		}
		for j := range t.T.Dims {
			if j != ax && !t.T.Dims[j].Equal(first.T.Dims[j]) {
				k.c.errorf(a.pos, "concat along axis %d: %s does not match %s", ax, t.T, first.T)
				return InvalidV{}
			}
		}
		sum = sum.Add(t.T.Dims[ax])
	}
	dims := append([]Dim(nil), first.T.Dims...)
	dims[ax] = sum
	return k.emit(TensorType{DType: first.T.DType, Dims: dims}, func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		return l.b.Concat(ax, in...)
	}, ins...)
}

// sinusoidal is the [n, d] position encoding of Vaswani et al.
func sinusoidal(n, d int) []float64 {
	out := make([]float64, n*d)
	for pos := 0; pos < n; pos++ {
		for i := 0; i < d; i++ {
			k := float64(i - i%2)
			angle := float64(pos) / math.Pow(10000, k/float64(d))
			if i%2 == 0 {
				out[pos*d+i] = math.Sin(angle)
			} else {
				out[pos*d+i] = math.Cos(angle)
			}
		}
	}
	return out
}

// ---------------------------------------------------------------------
// Losses

func losses() []*Entry {
	scalar := tensorOf("f32")
	same := func(name, doc string, lower lowerFunc) *Entry {
		return &Entry{Name: name, Kind: KLoss, In: []ParamSpec{req("input", "tensor", "prediction"), req("target", "tensor", "target")}, Doc: doc,
			Sig: "f32[...], f32[...] -> f32[]",
			fn: func(k *callCtx) Value {
				a, b := k.tensor("input"), k.tensor("target")
				if !isFloat(b.T.DType) {
					return k.errorf("target", "%s expects a float target, got %s", name, b.T)
				}
				if !a.T.Equal(b.T) {
					return k.errorf("", "%s: input %s and target %s differ", name, a.T, b.T)
				}
				return k.emit(scalar, asLoss(lower), a, b)
			}}
	}
	classes := func(name, doc, what string, lower func(labelSmoothing float64) lowerFunc) *Entry {
		e := &Entry{Name: name, Kind: KLoss, In: []ParamSpec{req("input", "tensor", what), req("target", "tensor", "integer class labels")}, Doc: doc,
			Sig: "f32[N, C], i32[N] -> f32[]",
			fn: func(k *callCtx) Value {
				a, b := k.tensor("input"), k.tensor("target")
				if !isFloat(a.T.DType) || a.T.Rank() < 1 {
					return k.errorf("input", "%s expects %s f32[N, C], got %s", name, what, a.T)
				}
				if !isInt(b.T.DType) {
					return k.errorf("target", "%s expects integer class labels, got %s", name, b.T)
				}
				lead := TensorType{DType: b.T.DType, Dims: a.T.Dims[:a.T.Rank()-1]}
				if !lead.Equal(b.T) {
					return k.errorf("target", "%s: labels %s do not match %s %s (want %s)", name, b.T, what, a.T, lead)
				}
				ls := 0.0
				if k.has("label_smoothing") {
					ls = k.float("label_smoothing")
					if ls < 0 || ls >= 1 {
						return k.errorf("label_smoothing", "label_smoothing must be in [0, 1), got %g", ls)
					}
				}
				return k.emit(scalar, asLoss(lower(ls)), a, b)
			}}
		if name == "cross_entropy" {
			e.Params = []ParamSpec{p("label_smoothing", "float", FloatV{0}, "mix the one-hot target with the uniform distribution")}
		}
		return e
	}
	return []*Entry{
		classes("cross_entropy", "cross_entropy is the mean softmax cross-entropy of logits against integer labels (PyTorch F.cross_entropy).", "logits", lowerCrossEntropy),
		classes("nll", "nll is the mean negative log-likelihood of log-probabilities against integer labels.", "log-probabilities",
			func(float64) lowerFunc { return lowerNLL }),
		same("mse", "mse is the mean squared error.", meanOf(func(l *lowerer, d *ir.Value) *ir.Value { return l.must(l.b.Mul(d, d)) })),
		same("l1", "l1 is the mean absolute error.", meanOf(func(l *lowerer, d *ir.Value) *ir.Value { return l.must(l.b.Abs(d)) })),
		same("bce_with_logits", "bce_with_logits is the mean binary cross-entropy of logits against 0/1 targets, computed stably.", lowerBCEWithLogits),
		same("kl_div", "kl_div is the mean KL divergence of target probabilities from input log-probabilities (PyTorch's batchmean).", lowerKLDiv),
		distillEntry(), // distill.go
	}
}

// asLoss makes the first input of a loss the graph's prediction (for
// metrics), then lowers it with f.
func asLoss(f lowerFunc) lowerFunc {
	return func(l *lowerer, t ir.Type, in []*ir.Value) (*ir.Value, error) {
		l.notePred(in[0])
		return f(l, t, in)
	}
}

// lowerCrossEntropy lowers the fused softmax cross-entropy of logits
// [..., C] against labels [...], flattened to rows.
func lowerCrossEntropy(labelSmoothing float64) lowerFunc {
	return func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		b, logits, labels := l.b, in[0], in[1]
		if c := logits.Type.Shape; len(c) > 2 {
			rows := logits.Type.NumElements() / c[len(c)-1]
			logits = l.must(b.Reshape(logits, ir.Shape{rows, c[len(c)-1]}))
			labels = l.must(b.Reshape(labels, ir.Shape{rows}))
		}
		return b.SoftmaxCrossEntropy(logits, labels, labelSmoothing)
	}
}

// lowerNLL lowers -mean(sum(one_hot(labels) * logp)).
func lowerNLL(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
	b, logp, labels := l.b, in[0], in[1]
	c := logp.Type.Shape[logp.Type.Rank()-1]
	oh := l.must(b.OneHot(labels, c, logp.Type.DType))
	s := l.must(b.Sum(l.must(b.Mul(oh, logp)), allAxes(logp.Type.Rank()), false))
	rows := float64(logp.Type.NumElements() / c)
	return b.Div(l.must(b.Neg(s)), l.must(b.Const(logp.Type.DType, rows)))
}

// meanOf lowers the mean of f(input - target) over every element.
func meanOf(f func(l *lowerer, d *ir.Value) *ir.Value) lowerFunc {
	return func(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
		d := f(l, l.must(l.b.Sub(in[0], in[1])))
		if d == nil {
			return nil, nil
		}
		return l.b.Mean(d, allAxes(d.Type.Rank()), false)
	}
}

// lowerBCEWithLogits lowers mean(max(x, 0) - x·y + log(1 + exp(-|x|))).
func lowerBCEWithLogits(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
	b, x, y := l.b, in[0], in[1]
	dt := x.Type.DType
	pos := l.must(b.Relu(x))
	soft := l.must(b.Log(l.must(b.Add(l.must(b.Const(dt, 1)), l.must(b.Exp(l.must(b.Neg(l.must(b.Abs(x))))))))))
	e := l.must(b.Add(l.must(b.Sub(pos, l.must(b.Mul(x, y)))), soft))
	if e == nil {
		return nil, nil
	}
	return b.Mean(e, allAxes(e.Type.Rank()), false)
}

// lowerKLDiv lowers sum(q · (log q - lp)) / rows, with 0 · log 0 = 0.
func lowerKLDiv(l *lowerer, _ ir.Type, in []*ir.Value) (*ir.Value, error) {
	b, lp, q := l.b, in[0], in[1]
	dt := lp.Type.DType
	zero := l.must(b.Const(dt, 0))
	safe := l.must(b.Where(l.must(b.Gt(q, zero)), q, l.must(b.Const(dt, 1))))
	e := l.must(b.Mul(q, l.must(b.Sub(l.must(b.Log(safe)), lp))))
	if e == nil {
		return nil, nil
	}
	s := l.must(b.Sum(e, allAxes(e.Type.Rank()), false))
	rows := 1
	if lp.Type.Rank() > 0 {
		rows = lp.Type.Shape[0]
	}
	return b.Div(s, l.must(b.Const(dt, float64(rows))))
}

// ---------------------------------------------------------------------
// Configuration: initializers, optimizers, schedules, metrics, data.

func cfg(name string, kind Kind, doc string, params ...ParamSpec) *Entry {
	return &Entry{Name: name, Kind: kind, Doc: doc, Params: params}
}

// withOptimizer gives an optimizer entry its translation to the IR.
func withOptimizer(e *Entry, f func(args map[string]Value) ir.Optimizer) *Entry {
	e.optimizer = f
	return e
}

// adam translates the arguments of Adam or AdamW.
func adam(kind ir.OptimizerKind) func(map[string]Value) ir.Optimizer {
	return func(a map[string]Value) ir.Optimizer {
		return ir.Optimizer{Kind: kind, Beta1: argFloat(a, "beta1"), Beta2: argFloat(a, "beta2"), Eps: argFloat(a, "eps")}
	}
}

func configs() []*Entry {
	f := func(v float64) Value { return FloatV{v} }
	return []*Entry{
		cfg("zeros", KInit, "zeros fills the tensor with 0."),
		cfg("ones", KInit, "ones fills the tensor with 1."),
		cfg("fill", KInit, "fill fills the tensor with value.", req("value", "float", "the value")),
		cfg("normal", KInit, "normal draws from N(mean, std²).", p("mean", "float", f(0), "mean"), p("std", "float", f(1), "standard deviation")),
		cfg("uniform", KInit, "uniform draws from U(low, high).", p("low", "float", f(-1), "lower bound"), p("high", "float", f(1), "upper bound")),
		cfg("kaiming_uniform", KInit, "kaiming_uniform draws from U(-b, b), b = sqrt(6 / ((1 + a²) fan_in)) (PyTorch's default for Linear with a = sqrt(5)).",
			p("a", "float", f(0), "negative slope of the following rectifier")),
		cfg("kaiming_normal", KInit, "kaiming_normal draws from N(0, 2 / ((1 + a²) fan_in)).", p("a", "float", f(0), "negative slope")),
		cfg("xavier_uniform", KInit, "xavier_uniform draws from U(-b, b), b = gain sqrt(6 / (fan_in + fan_out)).", p("gain", "float", f(1), "scale")),
		cfg("xavier_normal", KInit, "xavier_normal draws from N(0, gain² 2 / (fan_in + fan_out)).", p("gain", "float", f(1), "scale")),
		cfg("truncated_normal", KInit, "truncated_normal draws from N(0, std²) truncated to ±2 std (BERT's initializer).", p("std", "float", f(0.02), "standard deviation")),

		withOptimizer(cfg("SGD", KOptimizer, "SGD is stochastic gradient descent with optional momentum, Nesterov momentum and weight decay (PyTorch torch.optim.SGD).",
			p("lr", "float", f(0.01), "learning rate"), p("momentum", "float", f(0), "momentum factor"),
			p("dampening", "float", f(0), "dampening of momentum"), p("nesterov", "bool", false_, "Nesterov momentum"),
			p("weight_decay", "float", f(0), "L2 penalty added to the gradient")),
			func(a map[string]Value) ir.Optimizer {
				return ir.Optimizer{Kind: ir.SGD, Momentum: argFloat(a, "momentum"), Dampening: argFloat(a, "dampening"), Nesterov: a["nesterov"].(BoolV).V}
			}),
		withOptimizer(cfg("Adam", KOptimizer, "Adam is adaptive moment estimation (Kingma & Ba; PyTorch torch.optim.Adam).",
			p("lr", "float", f(1e-3), "learning rate"), p("beta1", "float", f(0.9), "first-moment decay"),
			p("beta2", "float", f(0.999), "second-moment decay"), p("eps", "float", f(1e-8), "denominator term"),
			p("weight_decay", "float", f(0), "L2 penalty added to the gradient")),
			adam(ir.Adam)),
		withOptimizer(cfg("AdamW", KOptimizer, "AdamW is Adam with decoupled weight decay (Loshchilov & Hutter; PyTorch torch.optim.AdamW).",
			p("lr", "float", f(1e-3), "learning rate"), p("beta1", "float", f(0.9), "first-moment decay"),
			p("beta2", "float", f(0.999), "second-moment decay"), p("eps", "float", f(1e-8), "denominator term"),
			p("weight_decay", "float", f(0.01), "decoupled weight decay")),
			adam(ir.AdamW)),
		withOptimizer(cfg("RMSprop", KOptimizer, "RMSprop divides the gradient by a running RMS (PyTorch torch.optim.RMSprop).",
			p("lr", "float", f(0.01), "learning rate"), p("alpha", "float", f(0.99), "smoothing constant"),
			p("eps", "float", f(1e-8), "denominator term"), p("momentum", "float", f(0), "momentum factor"),
			p("weight_decay", "float", f(0), "L2 penalty added to the gradient")),
			func(a map[string]Value) ir.Optimizer {
				return ir.Optimizer{Kind: ir.RMSprop, Alpha: argFloat(a, "alpha"), Eps: argFloat(a, "eps"), Momentum: argFloat(a, "momentum")}
			}),

		cfg("constant", KSchedule, "constant keeps the optimizer's learning rate (the default schedule)."),
		cfg("step", KSchedule, "step multiplies the learning rate by gamma every `every` epochs.",
			req("every", "int", "epochs between decays"), p("gamma", "float", f(0.1), "decay factor")),
		cfg("cosine", KSchedule, "cosine anneals from `from` (default: the optimizer's lr) to `to` over the run (or phase), after a linear warm-up.",
			p("from", "float", f(-1), "start rate; -1 means the optimizer's lr"), p("to", "float", f(0), "final rate"),
			p("warmup_steps", "int", IntV{0}, "linear warm-up steps")),
		cfg("linear", KSchedule, "linear goes from `from` to `to` over the run (or phase), after a linear warm-up.",
			p("from", "float", f(-1), "start rate; -1 means the optimizer's lr"), p("to", "float", f(0), "final rate"),
			p("warmup_steps", "int", IntV{0}, "linear warm-up steps")),
		cfg("warmup", KSchedule, "warmup ramps linearly from 0 for `steps` steps, then follows `then`.",
			req("steps", "int", "warm-up steps"), opt("then", "schedule", "schedule after the warm-up (default: constant)")),
		cfg("one_cycle", KSchedule, "one_cycle rises to max_lr over pct_start of the run, then anneals (Smith's 1cycle, cosine form, as PyTorch's OneCycleLR).",
			req("max_lr", "float", "peak rate"), p("pct_start", "float", f(0.3), "fraction of steps rising"),
			p("div_factor", "float", f(25), "initial rate is max_lr / div_factor"), p("final_div_factor", "float", f(1e4), "final rate is initial / final_div_factor")),

		cfg("accuracy", KMetric, "accuracy is the fraction of samples whose argmax logit is the label."),
		cfg("top_k", KMetric, "top_k is the fraction of samples whose label is among the k largest logits.", p("k", "int", IntV{5}, "k")),
		cfg("f1", KMetric, "f1 is the macro-averaged F1 score over classes."),
		cfg("loss", KMetric, "loss is the mean loss over the evaluated split."),

		cfg("builtin", KSource, "builtin names a dataset embedded in encc: \"digits\" (scikit-learn's 8x8 digits, 1,797 samples; image: f32[64], label: i32).",
			req("name", "string", "dataset name")),
		cfg("csv", KSource, "csv reads a CSV file with a header row: numeric feature columns as x: f32[F] and an integer label column, or a text column.",
			req("path", "string", "file, relative to the .enc file"), p("label", "string", StrV{"label"}, "label column"),
			p("text", "string", StrV{""}, "text column (for text datasets)"), p("delimiter", "string", StrV{","}, "field separator"),
			p("labels", "map", &MapV{Vals: map[string]Value{}}, "map label globs to classes: {\"*ham*\": \"ham\", \"spam*\": \"spam\"}"),
			p("strip_headers", "bool", false_, "drop e-mail (RFC 822) headers before the first blank line")),
		cfg("idx", KSource, "idx reads IDX image and label files (MNIST, Fashion-MNIST), raw or gzip: image: f32[1, H, W], label: i32.",
			req("images", "string", "images file"), req("labels", "string", "labels file")),
		cfg("jsonl", KSource, "jsonl reads one JSON object per line with a text and a label field.",
			req("path", "string", "file"), p("text", "string", StrV{"text"}, "text field"), p("label", "string", StrV{"label"}, "label field"),
			p("labels", "map", &MapV{Vals: map[string]Value{}}, "map label globs to classes: {\"*ham*\": \"ham\", \"spam*\": \"spam\"}"),
			p("strip_headers", "bool", false_, "drop e-mail (RFC 822) headers before the first blank line")),
		cfg("synthetic", KSource, "synthetic is random data with the shapes of a real task, for benchmarks and smoke tests: x: f32[shape] from N(0, 1) (or, with vocab > 0, ids: i32[shape] and mask: bool[shape]) and a uniform label.",
			req("shape", "list", "per-sample shape of the input, e.g. [784]"), req("classes", "int", "label classes"),
			p("n", "int", IntV{1024}, "samples"), p("vocab", "int", IntV{0}, "> 0: token ids instead of floats")),
		cfg("json_dir", KSource, "json_dir reads every *.json document under a folder (recursively), each with a text and a label field.",
			req("path", "string", "folder"), p("text", "string", StrV{"text"}, "text field"), p("label", "string", StrV{"label"}, "label field"),
			p("labels", "map", &MapV{Vals: map[string]Value{}}, "map label globs to classes: {\"*ham*\": \"ham\", \"spam*\": \"spam\"}"),
			p("strip_headers", "bool", false_, "drop e-mail (RFC 822) headers before the first blank line")),
		cfg("words", KTokenizer, "words splits text into lower-cased words, maps them to ids from a vocabulary built on the train split ([PAD]=0, [UNK]=1, [CLS]=2, [MASK]=3) and pads or cuts to max_len: ids: i32[max_len], mask: bool[max_len].",
			req("vocab", "int", "vocabulary size, special tokens included"), req("max_len", "int", "sequence length"),
			p("lowercase", "bool", true_, "lower-case before splitting"),
			p("stop_words", "string", StrV{""}, `words dropped before the vocabulary is built and before encoding: "english" (a built-in list of 127 words) or a file of words, relative to the .enc file; "" keeps every word`)),
		cfg("chars", KTokenizer, "chars maps characters to ids: ids: i32[max_len], mask: bool[max_len].",
			req("max_len", "int", "sequence length"), p("lowercase", "bool", false_, "lower-case first")),
		cfg("standard", KOption, "standard normalization: subtract the train split's per-feature mean, divide by its standard deviation."),
		cfg("minmax", KOption, "minmax normalization: scale each feature to [0, 1] by the train split's minimum and maximum."),

		cfg("from", KWeights, "from(train) starts from the weights saved by another train, which runs first when its checkpoint is missing or older than the source.",
			req("train", "train", "the other train"), p("only", "paths", StrV{""}, "glob(s) of parameters to take, e.g. \"encoder.*\"")),
		cfg("load", KWeights, "load reads initial weights from a safetensors file, matching parameters by name.",
			req("path", "string", "safetensors file"), p("only", "paths", StrV{""}, "glob(s) of parameters to take"),
			p("rename", "map", &MapV{Vals: map[string]Value{}}, "prefix rewrites applied to the file's names: {\"bert.\": \"\"}"),
			p("split", "map", &MapV{Vals: map[string]Value{}}, "split fused tensors: {\"attn.in_proj_weight\": [\"attn.q.weight\", \"attn.k.weight\", \"attn.v.weight\"]}"),
			opt("model", "layer", "teacher = load(...) only: the teacher's model, e.g. LeNet5()")),
		quantizeEntry,
		pruneEntry,
		structuredEntry,
		qatEntry,
		cfg("lora", KAdapter, "lora adds low-rank adapters (Hu et al. 2021, PEFT's names and init) to the Linear layers matched by targets, y = x Wᵀ + b + (alpha/r)·dropout(x) Aᵀ Bᵀ, and to Conv2d layers (groups 1) as PEFT does (A a convolution with the layer's kernel, B 1x1), and freezes every other parameter except those under train.",
			req("targets", "paths", "glob(s) of the Linear or Conv2d layers to adapt, e.g. \"encoder.blocks.*.attn.q\""), p("r", "int", IntV{8}, "rank"),
			p("alpha", "float", f(8), "scale numerator: the update is (alpha/r)·B·A"), p("dropout", "float", f(0), "dropout on the adapter's input"),
			p("train", "paths", StrV{""}, "glob(s) of base parameters trained too (the head; PEFT's modules_to_save)")),
		{Name: "repeat", Kind: KRepeat, Doc: "repeat(n, Layer(...)) is a stack of n copies named name.0 … name.{n-1}; calling it applies them in order (PyTorch ModuleList naming).",
			Params: []ParamSpec{req("n", "int", "number of copies"), req("layer", "layer", "the layer to copy")}},
	}
}
