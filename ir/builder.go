// This file implements Builder, which appends type-checked values to a
// graph: one method per op.

package ir

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sync"

	"github.com/encc-lang/encc/internal/diag"
)

// A Builder appends values to a graph. Each op method infers the result
// type with the op's type rule and returns a *diag.Diagnostic at Pos when
// the operands do not fit (mismatched shapes, bad attributes). Values are
// appended in order, so the graph stays topologically sorted.
type Builder struct {
	G   *Graph   // the graph values are appended to
	Pos diag.Pos // position given to new values and errors
}

// NewBuilder returns a builder that appends to g.
func NewBuilder(g *Graph) *Builder { return &Builder{G: g} }

// nameRE is the syntax of input names: dotted identifiers, with ':' to
// qualify optimizer state (encoder.fc1.weight:exp_avg).
// It is compiled on first use: a process that only checks .enc files
// never validates a name.
var nameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*([.:][A-Za-z0-9_]+)*$`)
})

// ValidName reports whether s can name an input or an output.
func ValidName(s string) bool { return nameRE().MatchString(s) }

// Input declares a graph input of the given role and type.
func (b *Builder) Input(name string, role Role, t Type) (*Value, error) {
	if !ValidName(name) {
		return nil, diag.Errorf(b.Pos, "bad input name %q", name)
	}
	if b.G.Input(name) != nil {
		return nil, diag.Errorf(b.Pos, "input %s declared twice", name)
	}
	if role == RoleNone || int(role) >= len(roleNames) {
		return nil, diag.Errorf(b.Pos, "input %s has no role", name)
	}
	v, err := b.newValue(OpInput, t, InputAttr{Role: role}, nil)
	if err != nil {
		return nil, err
	}
	v.ID = b.G.NewID()
	v.Name = name
	// Inputs lead the value list, in declaration order.
	n := len(b.G.Inputs)
	b.G.Values = slices.Insert(b.G.Values, n, v)
	b.G.Inputs = append(b.G.Inputs, v)
	return v, nil
}

// Op appends a value of any op: the generic form behind the typed
// methods, used by the parser and by passes. t is the result type of
// type-carrying ops and is ignored otherwise; aux must be a value of the
// op's attribute type, or nil when the op has none.
func (b *Builder) Op(op Op, t Type, aux any, args ...*Value) (*Value, error) {
	if op == OpInput {
		return nil, diag.Errorf(b.Pos, "inputs are declared with Builder.Input")
	}
	v, err := b.newValue(op, t, aux, args)
	if err != nil {
		return nil, err
	}
	v.ID = b.G.NewID()
	b.G.Values = append(b.G.Values, v)
	return v, nil
}

// newValue makes and type-checks a value without adding it to the graph.
func (b *Builder) newValue(op Op, t Type, aux any, args []*Value) (*Value, error) {
	if op <= OpInvalid || op >= numOps {
		return nil, diag.Errorf(b.Pos, "invalid op %d", op)
	}
	if err := checkArity(op, len(args)); err != nil {
		return nil, diag.Errorf(b.Pos, "%v", err)
	}
	if err := checkAux(op, aux); err != nil {
		return nil, diag.Errorf(b.Pos, "%v", err)
	}
	for i, a := range args {
		if a == nil {
			return nil, diag.Errorf(b.Pos, "%s: operand %d is nil", op, i)
		}
	}
	v := &Value{Op: op, Args: args, Aux: aux, Pos: b.Pos}
	if op.IsTypeCarrying() || op == OpInput {
		v.Type = Type{t.DType, t.Shape.Clone()}
	}
	typ, err := opInfo[op].typ(v)
	if err != nil {
		return nil, diag.Errorf(b.Pos, "%v", err)
	}
	v.Type = typ
	return v, nil
}

func checkArity(op Op, n int) error {
	want := opInfo[op].args
	if want >= 0 && n != want {
		return fmt.Errorf("%s takes %d operands, not %d", op, want, n)
	}
	if want < 0 && n == 0 {
		return fmt.Errorf("%s takes at least one operand", op)
	}
	return nil
}

func checkAux(op Op, aux any) error {
	want := opInfo[op].aux
	switch {
	case want == nil && aux != nil:
		return fmt.Errorf("%s takes no attributes, got %T", op, aux)
	case want != nil && (aux == nil || reflect.TypeOf(aux) != want):
		return fmt.Errorf("%s takes attributes %v, got %T", op, want, aux)
	}
	if c, ok := aux.(interface{ check() error }); ok {
		if err := c.check(); err != nil {
			return fmt.Errorf("%s: %v", op, err)
		}
	}
	return nil
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis, rank int) int {
	if axis < 0 {
		return axis + rank
	}
	return axis
}

// Fill returns a tensor of type t with every element value.
func (b *Builder) Fill(t Type, value float64) (*Value, error) {
	return b.Op(OpFill, t, FillAttr{value})
}

// Const returns the scalar value of dtype d.
func (b *Builder) Const(d DType, value float64) (*Value, error) { return b.Fill(Scalar(d), value) }

// Iota returns a tensor of type t whose elements count along axis.
func (b *Builder) Iota(t Type, axis int) (*Value, error) {
	return b.Op(OpIota, t, IotaAttr{normAxis(axis, t.Rank())})
}

// Literal returns a tensor of type t with the given row-major elements.
func (b *Builder) Literal(t Type, data []float64) (*Value, error) {
	return b.Op(OpLiteral, t, LiteralAttr{slices.Clone(data)})
}

// Neg returns -x.
func (b *Builder) Neg(x *Value) (*Value, error) { return b.Op(OpNeg, Type{}, nil, x) }

// Exp returns e^x.
func (b *Builder) Exp(x *Value) (*Value, error) { return b.Op(OpExp, Type{}, nil, x) }

// Log returns ln x.
func (b *Builder) Log(x *Value) (*Value, error) { return b.Op(OpLog, Type{}, nil, x) }

// Sqrt returns √x.
func (b *Builder) Sqrt(x *Value) (*Value, error) { return b.Op(OpSqrt, Type{}, nil, x) }

// Rsqrt returns 1/√x.
func (b *Builder) Rsqrt(x *Value) (*Value, error) { return b.Op(OpRsqrt, Type{}, nil, x) }

// Tanh returns tanh x.
func (b *Builder) Tanh(x *Value) (*Value, error) { return b.Op(OpTanh, Type{}, nil, x) }

// Sigmoid returns 1/(1+e^-x).
func (b *Builder) Sigmoid(x *Value) (*Value, error) { return b.Op(OpSigmoid, Type{}, nil, x) }

// Relu returns max(x, 0).
func (b *Builder) Relu(x *Value) (*Value, error) { return b.Op(OpRelu, Type{}, nil, x) }

// Gelu returns GELU(x), with the tanh approximation when approximate.
func (b *Builder) Gelu(x *Value, approximate bool) (*Value, error) {
	return b.Op(OpGelu, Type{}, GeluAttr{approximate}, x)
}

// GeluBackward returns dy·gelu'(x), the gradient of Gelu(x, approximate).
func (b *Builder) GeluBackward(x, dy *Value, approximate bool) (*Value, error) {
	return b.Op(OpGeluBackward, Type{}, GeluAttr{approximate}, x, dy)
}

// ReluBackward returns dy where x > 0, else 0: the gradient of Relu(x).
func (b *Builder) ReluBackward(x, dy *Value) (*Value, error) {
	return b.Op(OpReluBackward, Type{}, nil, x, dy)
}

// Erf returns erf x.
func (b *Builder) Erf(x *Value) (*Value, error) { return b.Op(OpErf, Type{}, nil, x) }

// Abs returns |x|.
func (b *Builder) Abs(x *Value) (*Value, error) { return b.Op(OpAbs, Type{}, nil, x) }

// Sign returns the sign of x.
func (b *Builder) Sign(x *Value) (*Value, error) { return b.Op(OpSign, Type{}, nil, x) }

// Cast returns x converted to dtype d; x itself when it has dtype d.
func (b *Builder) Cast(x *Value, d DType) (*Value, error) {
	if x.Type.DType == d {
		return x, nil
	}
	return b.Op(OpCast, Type{d, x.Type.Shape}, nil, x)
}

// Add returns x + y.
func (b *Builder) Add(x, y *Value) (*Value, error) { return b.Op(OpAdd, Type{}, nil, x, y) }

// Sub returns x - y.
func (b *Builder) Sub(x, y *Value) (*Value, error) { return b.Op(OpSub, Type{}, nil, x, y) }

// Mul returns x·y.
func (b *Builder) Mul(x, y *Value) (*Value, error) { return b.Op(OpMul, Type{}, nil, x, y) }

// Div returns x/y.
func (b *Builder) Div(x, y *Value) (*Value, error) { return b.Op(OpDiv, Type{}, nil, x, y) }

// Max returns the elementwise maximum of x and y.
func (b *Builder) Max(x, y *Value) (*Value, error) { return b.Op(OpMax, Type{}, nil, x, y) }

// Min returns the elementwise minimum of x and y.
func (b *Builder) Min(x, y *Value) (*Value, error) { return b.Op(OpMin, Type{}, nil, x, y) }

// Pow returns x^y.
func (b *Builder) Pow(x, y *Value) (*Value, error) { return b.Op(OpPow, Type{}, nil, x, y) }

// Eq returns x == y.
func (b *Builder) Eq(x, y *Value) (*Value, error) { return b.Op(OpEq, Type{}, nil, x, y) }

// Ne returns x != y.
func (b *Builder) Ne(x, y *Value) (*Value, error) { return b.Op(OpNe, Type{}, nil, x, y) }

// Lt returns x < y.
func (b *Builder) Lt(x, y *Value) (*Value, error) { return b.Op(OpLt, Type{}, nil, x, y) }

// Le returns x <= y.
func (b *Builder) Le(x, y *Value) (*Value, error) { return b.Op(OpLe, Type{}, nil, x, y) }

// Gt returns x > y.
func (b *Builder) Gt(x, y *Value) (*Value, error) { return b.Op(OpGt, Type{}, nil, x, y) }

// Ge returns x >= y.
func (b *Builder) Ge(x, y *Value) (*Value, error) { return b.Op(OpGe, Type{}, nil, x, y) }

// Where returns cond ? x : y.
func (b *Builder) Where(cond, x, y *Value) (*Value, error) {
	return b.Op(OpWhere, Type{}, nil, cond, x, y)
}

// reduceAttr normalizes axes (negative from the end, sorted, unique);
// no axes means all of them.
func reduceAttr(x *Value, axes []int, keep bool) ReduceAttr {
	r := x.Type.Rank()
	var out []int
	if len(axes) == 0 {
		for i := range r {
			out = append(out, i)
		}
	}
	for _, a := range axes {
		out = append(out, normAxis(a, r))
	}
	slices.Sort(out)
	return ReduceAttr{Axes: slices.Compact(out), KeepDims: keep}
}

// Sum returns the sum of x over axes (all axes when none are given).
func (b *Builder) Sum(x *Value, axes []int, keepdims bool) (*Value, error) {
	return b.Op(OpSum, Type{}, reduceAttr(x, axes, keepdims), x)
}

// Mean returns the mean of x over axes (all axes when none are given).
func (b *Builder) Mean(x *Value, axes []int, keepdims bool) (*Value, error) {
	return b.Op(OpMean, Type{}, reduceAttr(x, axes, keepdims), x)
}

// ReduceMax returns the maximum of x over axes (all when none are given).
func (b *Builder) ReduceMax(x *Value, axes []int, keepdims bool) (*Value, error) {
	return b.Op(OpReduceMax, Type{}, reduceAttr(x, axes, keepdims), x)
}

// LogSumExp returns log Σ exp x over axes (all when none are given).
func (b *Builder) LogSumExp(x *Value, axes []int, keepdims bool) (*Value, error) {
	return b.Op(OpLogSumExp, Type{}, reduceAttr(x, axes, keepdims), x)
}

// ArgMax returns the index of the maximum of x along axis.
func (b *Builder) ArgMax(x *Value, axis int, keepdims bool) (*Value, error) {
	return b.Op(OpArgMax, Type{}, ArgMaxAttr{normAxis(axis, x.Type.Rank()), keepdims}, x)
}

// MatMul returns the (batched) matrix product of x and y.
func (b *Builder) MatMul(x, y *Value, a MatMulAttr) (*Value, error) {
	return b.Op(OpMatMul, Type{}, a, x, y)
}

// convDefaults sets zero strides and dilations to 1 and one group to 0.
func convDefaults(a Conv2DAttr) Conv2DAttr {
	for i := range 2 {
		if a.Stride[i] == 0 {
			a.Stride[i] = 1
		}
		if a.Dilation[i] == 0 {
			a.Dilation[i] = 1
		}
	}
	if a.Groups == 1 {
		a.Groups = 0
	}
	return a
}

// Conv2D returns the convolution of x[N,C,H,W] with w[O,C/G,KH,KW] in
// a.G() groups. Zero strides and dilations in a mean 1.
func (b *Builder) Conv2D(x, w *Value, a Conv2DAttr) (*Value, error) {
	return b.Op(OpConv2D, Type{}, convDefaults(a), x, w)
}

// Conv2DBackwardInput returns the gradient, of shape xShape, of conv2d
// with respect to its input.
func (b *Builder) Conv2DBackwardInput(dy, w *Value, xShape Shape, a Conv2DAttr) (*Value, error) {
	return b.Op(OpConv2DBackwardInput, Type{dy.Type.DType, xShape}, convDefaults(a), dy, w)
}

// Conv2DBackwardWeight returns the gradient, of shape wShape, of conv2d
// with respect to its weight.
func (b *Builder) Conv2DBackwardWeight(x, dy *Value, wShape Shape, a Conv2DAttr) (*Value, error) {
	return b.Op(OpConv2DBackwardWeight, Type{dy.Type.DType, wShape}, convDefaults(a), x, dy)
}

// poolDefaults sets a zero stride to the kernel size (PyTorch's default).
func poolDefaults(a Pool2DAttr) Pool2DAttr {
	for i := range 2 {
		if a.Stride[i] == 0 {
			a.Stride[i] = a.Kernel[i]
		}
	}
	return a
}

// MaxPool2D returns the maximum over windows of x. A zero stride means
// the kernel size.
func (b *Builder) MaxPool2D(x *Value, a Pool2DAttr) (*Value, error) {
	return b.Op(OpMaxPool2D, Type{}, poolDefaults(a), x)
}

// MaxPool2DBackward returns the gradient of maxpool2d with respect to x.
func (b *Builder) MaxPool2DBackward(x, dy *Value, a Pool2DAttr) (*Value, error) {
	return b.Op(OpMaxPool2DBackward, Type{}, poolDefaults(a), x, dy)
}

// AvgPool2D returns the mean over windows of x. A zero stride means the
// kernel size.
func (b *Builder) AvgPool2D(x *Value, a Pool2DAttr) (*Value, error) {
	return b.Op(OpAvgPool2D, Type{}, poolDefaults(a), x)
}

// AvgPool2DBackward returns the gradient, of shape xShape, of avgpool2d.
func (b *Builder) AvgPool2DBackward(dy *Value, xShape Shape, a Pool2DAttr) (*Value, error) {
	return b.Op(OpAvgPool2DBackward, Type{dy.Type.DType, xShape}, poolDefaults(a), dy)
}

// Reshape returns x with shape s; x itself when it has shape s.
func (b *Builder) Reshape(x *Value, s Shape) (*Value, error) {
	if x.Type.Shape.Equal(s) {
		return x, nil
	}
	return b.Op(OpReshape, Type{x.Type.DType, s}, nil, x)
}

// Permute returns x with its axes reordered by perm.
func (b *Builder) Permute(x *Value, perm ...int) (*Value, error) {
	return b.Op(OpPermute, Type{}, PermuteAttr{slices.Clone(perm)}, x)
}

// Transpose swaps the last two axes of x.
func (b *Builder) Transpose(x *Value) (*Value, error) {
	r := x.Type.Rank()
	if r < 2 {
		return nil, diag.Errorf(b.Pos, "permute: cannot transpose %v", x.Type)
	}
	perm := make([]int, r)
	for i := range perm {
		perm[i] = i
	}
	perm[r-2], perm[r-1] = r-1, r-2
	return b.Permute(x, perm...)
}

// BroadcastTo returns x broadcast to s; x itself when it has shape s.
func (b *Builder) BroadcastTo(x *Value, s Shape) (*Value, error) {
	if x.Type.Shape.Equal(s) {
		return x, nil
	}
	return b.Op(OpBroadcastTo, Type{x.Type.DType, s}, nil, x)
}

// ReduceTo sums x over broadcast dims down to s; x itself when it has
// shape s.
func (b *Builder) ReduceTo(x *Value, s Shape) (*Value, error) {
	if x.Type.Shape.Equal(s) {
		return x, nil
	}
	return b.Op(OpReduceTo, Type{x.Type.DType, s}, nil, x)
}

// sliceDefaults sets zero steps to 1 and fills missing trailing axes.
func sliceDefaults(a SliceAttr, s Shape) SliceAttr {
	out := SliceAttr{make([]int, len(s)), make([]int, len(s)), make([]int, len(s))}
	for i, d := range s {
		out.Stop[i], out.Step[i] = d, 1
		if i < len(a.Start) {
			out.Start[i] = a.Start[i]
		}
		if i < len(a.Stop) {
			out.Stop[i] = a.Stop[i]
		}
		if i < len(a.Step) && a.Step[i] != 0 {
			out.Step[i] = a.Step[i]
		}
	}
	return out
}

// Slice returns a strided window of x. Axes past the end of a's lists are
// taken whole, and zero steps mean 1.
func (b *Builder) Slice(x *Value, a SliceAttr) (*Value, error) {
	return b.Op(OpSlice, Type{}, sliceDefaults(a, x.Type.Shape), x)
}

// SliceBackward returns zeros of shape s with dy at the positions that
// Slice(·, a) reads.
func (b *Builder) SliceBackward(dy *Value, s Shape, a SliceAttr) (*Value, error) {
	return b.Op(OpSliceBackward, Type{dy.Type.DType, s}, sliceDefaults(a, s), dy)
}

// Concat joins xs along axis.
func (b *Builder) Concat(axis int, xs ...*Value) (*Value, error) {
	if len(xs) == 0 {
		return nil, diag.Errorf(b.Pos, "concat: no operands")
	}
	return b.Op(OpConcat, Type{}, AxisAttr{normAxis(axis, xs[0].Type.Rank())}, xs...)
}

// Gather returns the rows of table picked by ids.
func (b *Builder) Gather(table, ids *Value) (*Value, error) {
	return b.Op(OpGather, Type{}, nil, table, ids)
}

// ScatterAdd returns zeros of shape s with the rows of updates added at ids.
func (b *Builder) ScatterAdd(ids, updates *Value, s Shape) (*Value, error) {
	return b.Op(OpScatterAdd, Type{updates.Type.DType, s}, nil, ids, updates)
}

// OneHot returns the one-hot encoding of ids with depth classes, in dtype d.
func (b *Builder) OneHot(ids *Value, depth int, d DType) (*Value, error) {
	return b.Op(OpOneHot, Type{d, append(ids.Type.Shape.Clone(), depth)}, nil, ids)
}

// Softmax returns the softmax of x along axis.
func (b *Builder) Softmax(x *Value, axis int) (*Value, error) {
	return b.Op(OpSoftmax, Type{}, AxisAttr{normAxis(axis, x.Type.Rank())}, x)
}

// LogSoftmax returns the log softmax of x along axis.
func (b *Builder) LogSoftmax(x *Value, axis int) (*Value, error) {
	return b.Op(OpLogSoftmax, Type{}, AxisAttr{normAxis(axis, x.Type.Rank())}, x)
}

// LayerNorm returns the layer normalization of x over its last axis.
func (b *Builder) LayerNorm(x, w, bias *Value, eps float64) (*Value, error) {
	return b.Op(OpLayerNorm, Type{}, LayerNormAttr{eps}, x, w, bias)
}

// LayerNormBackwardInput returns the gradient of layernorm with respect to x.
func (b *Builder) LayerNormBackwardInput(x, w, dy *Value, eps float64) (*Value, error) {
	return b.Op(OpLayerNormBackwardInput, Type{}, LayerNormAttr{eps}, x, w, dy)
}

// LayerNormBackwardWeight returns the gradient of layernorm with respect to w.
func (b *Builder) LayerNormBackwardWeight(x, dy *Value, eps float64) (*Value, error) {
	return b.Op(OpLayerNormBackwardWeight, Type{}, LayerNormAttr{eps}, x, dy)
}

// SoftmaxCrossEntropy returns the mean cross entropy of logits[N,C]
// against labels[N].
func (b *Builder) SoftmaxCrossEntropy(logits, labels *Value, labelSmoothing float64) (*Value, error) {
	return b.Op(OpSoftmaxCrossEntropy, Type{}, CrossEntropyAttr{labelSmoothing}, logits, labels)
}

// SoftmaxCrossEntropyBackward returns the gradient of the loss with
// respect to logits, given the loss's cotangent dloss.
func (b *Builder) SoftmaxCrossEntropyBackward(logits, labels, dloss *Value, labelSmoothing float64) (*Value, error) {
	return b.Op(OpSoftmaxCrossEntropyBackward, Type{}, CrossEntropyAttr{labelSmoothing}, logits, labels, dloss)
}

// Dropout zeroes elements of x with probability p, scaling the rest by
// 1/(1-p), with a mask drawn from seed and step.
func (b *Builder) Dropout(x, seed, step *Value, p float64) (*Value, error) {
	return b.Op(OpDropout, Type{}, DropoutAttr{p}, x, seed, step)
}

// SGD returns p - lr·d, replacing p.
func (b *Builder) SGD(p, d, lr *Value) (*Value, error) { return b.Op(OpSGD, Type{}, nil, p, d, lr) }

// SGDMomentum returns the updated momentum buffer, replacing buf.
func (b *Builder) SGDMomentum(buf, d, step *Value, a MomentumAttr) (*Value, error) {
	return b.Op(OpSGDMomentum, Type{}, a, buf, d, step)
}

// EMA returns decay·s + (1-decay)·x, replacing s.
func (b *Builder) EMA(s, x *Value, decay float64) (*Value, error) {
	return b.Op(OpEMA, Type{}, EMAAttr{decay}, s, x)
}

// EMASq returns decay·s + (1-decay)·x², replacing s.
func (b *Builder) EMASq(s, x *Value, decay float64) (*Value, error) {
	return b.Op(OpEMASq, Type{}, EMAAttr{decay}, s, x)
}

// Adam returns the Adam-updated parameter, replacing p, given updated
// moments m and v.
func (b *Builder) Adam(p, m, v, lr, step *Value, a AdamAttr) (*Value, error) {
	return b.Op(OpAdam, Type{}, a, p, m, v, lr, step)
}

// RMSprop returns the RMSprop-updated parameter, replacing p.
func (b *Builder) RMSprop(p, g, v, lr *Value, eps float64) (*Value, error) {
	return b.Op(OpRMSprop, Type{}, RMSpropAttr{eps}, p, g, v, lr)
}
