package onnx

// This file implements the op table of the export: for every IR op, the
// ONNX operators it becomes, or the reason it has none. Ops of training
// graphs (backward, loss, optimizer) never occur in a forward; reaching
// one is an error naming the op and the .enc position.

import (
	"fmt"
	"math"
	"slices"

	"github.com/encc-lang/encc/export/onnx/internal/onnxpb"
	"github.com/encc-lang/encc/ir"
)

// A form is how one IR op is written in ONNX.
type form struct {
	onnx   string                              // the ONNX operators, for docs and tests
	emit   func(e *emitter, v *ir.Value) error // nil: no form, see reason
	reason string                              // why there is no form
}

const (
	whyTraining = "a backward or optimizer op, which only training-step graphs have"
	whyFused    = "made by the fuse pass, which export does not run (it translates the unoptimized forward)"
	whyQAT      = "quantization-aware training fake-quantizes in training steps only; an int8 model exports with QuantizeLinear and DequantizeLinear (see qdq.go)"
	whyDropout  = "random draws (dropout, the masking of mlm) are training-time only; an eval-mode forward has none"
)

var forms map[ir.Op]form

func unop(name string) form {
	return form{onnx: name, emit: func(e *emitter, v *ir.Value) error {
		e.out(v, name, []string{e.arg(v, 0)})
		return nil
	}}
}

func binop(name string) form {
	return form{onnx: name, emit: func(e *emitter, v *ir.Value) error {
		e.out(v, name, []string{e.arg(v, 0), e.arg(v, 1)})
		return nil
	}}
}

func training() form { return form{reason: whyTraining} }

func init() {
	forms = map[ir.Op]form{
		ir.OpInput:   {onnx: "a graph input (data) or an initializer named by its path (param, const)", emit: func(*emitter, *ir.Value) error { return fmt.Errorf("internal: inputs are translated first") }},
		ir.OpFill:    {onnx: "Constant, or ConstantOfShape(Shape…) for a dynamic shape", emit: emitFill},
		ir.OpIota:    {onnx: "Constant, or Range, Unsqueeze and Expand for a dynamic shape", emit: emitIota},
		ir.OpLiteral: {onnx: "Constant; sinusoidal(T, d) of a dynamic T: Range, Div, Add, Sin in double, Cast", emit: emitLiteral},

		ir.OpNeg:      unop("Neg"),
		ir.OpExp:      unop("Exp"),
		ir.OpLog:      unop("Log"),
		ir.OpSqrt:     unop("Sqrt"),
		ir.OpRsqrt:    {onnx: "Reciprocal(Sqrt)", emit: emitRsqrt},
		ir.OpTanh:     unop("Tanh"),
		ir.OpSigmoid:  unop("Sigmoid"),
		ir.OpRelu:     unop("Relu"),
		ir.OpGelu:     {onnx: "x·(1+Erf(x/√2))/2, or its Tanh form (opset 17 has no Gelu)", emit: emitGelu},
		ir.OpSoftplus: {onnx: "Where(Greater(β·x, threshold), x, Softplus(β·x)/β)", emit: emitSoftplus},
		ir.OpElu:      {onnx: "Elu (alpha)", emit: emitElu},
		ir.OpErf:      unop("Erf"),
		ir.OpAbs:      unop("Abs"),
		ir.OpSign:     unop("Sign"),
		ir.OpCast:     {onnx: "Cast", emit: emitCast},

		ir.OpAdd: binop("Add"),
		ir.OpSub: binop("Sub"),
		ir.OpMul: binop("Mul"),
		ir.OpDiv: binop("Div"),
		ir.OpMax: binop("Max"),
		ir.OpMin: binop("Min"),
		ir.OpPow: binop("Pow"),
		ir.OpEq:  binop("Equal"),
		ir.OpNe:  {onnx: "Not(Equal)", emit: emitNe},
		ir.OpLt:  binop("Less"),
		ir.OpLe:  binop("LessOrEqual"),
		ir.OpGt:  binop("Greater"),
		ir.OpGe:  binop("GreaterOrEqual"),
		ir.OpWhere: {onnx: "Where", emit: func(e *emitter, v *ir.Value) error {
			e.out(v, "Where", []string{e.arg(v, 0), e.arg(v, 1), e.arg(v, 2)})
			return nil
		}},

		ir.OpSum:       {onnx: "ReduceSum (axes input)", emit: emitReduce("ReduceSum")},
		ir.OpMean:      {onnx: "ReduceMean", emit: emitReduce("ReduceMean")},
		ir.OpReduceMax: {onnx: "ReduceMax", emit: emitReduce("ReduceMax")},
		ir.OpLogSumExp: {onnx: "ReduceLogSumExp", emit: emitReduce("ReduceLogSumExp")},
		ir.OpArgMax:    {onnx: "ArgMax (first maximum)", emit: emitArgMax},

		ir.OpMatMul:               {onnx: "Gemm (2-d float), else Transpose and MatMul", emit: emitMatMul},
		ir.OpConv2D:               {onnx: "Conv", emit: emitConv},
		ir.OpFakeQuant:            {reason: whyQAT},
		ir.OpFakeQuantMask:        {reason: whyQAT},
		ir.OpReluBackward:         training(),
		ir.OpGeluBackward:         training(),
		ir.OpConv2DBackwardInput:  training(),
		ir.OpConv2DBackwardWeight: training(),
		ir.OpMaxPool2D:            {onnx: "MaxPool", emit: emitPool("MaxPool")},
		ir.OpMaxPool2DBackward:    training(),
		ir.OpAvgPool2D:            {onnx: "AveragePool (count_include_pad)", emit: emitPool("AveragePool")},
		ir.OpAvgPool2DBackward:    training(),

		ir.OpReshape:       {onnx: "Reshape (-1 for one dynamic dim, else a shape computed from Shape)", emit: emitReshape},
		ir.OpPermute:       {onnx: "Transpose", emit: emitPermute},
		ir.OpBroadcastTo:   {onnx: "Expand", emit: emitBroadcast},
		ir.OpReduceTo:      training(),
		ir.OpSlice:         {onnx: "Slice", emit: emitSlice},
		ir.OpSliceBackward: training(),
		ir.OpConcat:        {onnx: "Concat", emit: emitConcat},
		ir.OpGather:        binop("Gather"),
		ir.OpScatterAdd:    training(),
		ir.OpOneHot:        {onnx: "OneHot (axis -1; ids cast to int64)", emit: emitOneHot},

		ir.OpSoftmax:                     {onnx: "Softmax", emit: emitAxis("Softmax")},
		ir.OpLogSoftmax:                  {onnx: "LogSoftmax", emit: emitAxis("LogSoftmax")},
		ir.OpLayerNorm:                   {onnx: "LayerNormalization (axis -1)", emit: emitLayerNorm},
		ir.OpLayerNormBackwardInput:      training(),
		ir.OpLayerNormBackwardWeight:     training(),
		ir.OpSoftmaxCrossEntropy:         {onnx: "LogSoftmax, OneHot (label smoothing), Mul, ReduceSum, ReduceMean, Neg", emit: emitCrossEntropy},
		ir.OpSoftmaxCrossEntropyBackward: training(),
		ir.OpDropout:                     {reason: whyDropout},
		ir.OpAttention:                   {onnx: "MatMul, Mul, Where (mask, via Unsqueeze), Softmax, MatMul; Transpose with bthd", emit: emitAttention},
		ir.OpAttentionBackward:           training(),
		ir.OpAttentionBackwardProduct:    training(),

		ir.OpSGD:         training(),
		ir.OpSGDMomentum: training(),
		ir.OpEMA:         training(),
		ir.OpEMASq:       training(),
		ir.OpAdam:        training(),
		ir.OpRMSprop:     training(),

		ir.OpFused:      {reason: whyFused},
		ir.OpMatMulBias: {reason: whyFused},
	}
}

func emitFill(e *emitter, v *ir.Value) error {
	val := v.Aux.(ir.FillAttr).Value
	if !e.dynamic(v) && v.Type.NumElements() == 1 {
		t, err := tensor(v.Type.DType, int64s(v.Type.Shape), []float64{val})
		if err != nil {
			return err
		}
		e.out(v, "Constant", nil, attrTensor("value", t))
		return nil
	}
	shape, err := e.shapeOf(v)
	if err != nil {
		return err
	}
	t, err := tensor(v.Type.DType, []int64{1}, []float64{val})
	if err != nil {
		return err
	}
	e.out(v, "ConstantOfShape", []string{shape}, attrTensor("value", t))
	return nil
}

func emitIota(e *emitter, v *ir.Value) error {
	axis := v.Aux.(ir.IotaAttr).Axis
	if !e.dynamic(v) {
		s := v.Type.Shape
		vals := make([]float64, s.NumElements())
		st := s.Strides()
		for i := range vals {
			vals[i] = float64((i / st[axis]) % s[axis])
		}
		t, err := tensor(v.Type.DType, int64s(s), vals)
		if err != nil {
			return err
		}
		e.out(v, "Constant", nil, attrTensor("value", t))
		return nil
	}
	n, err := e.polyTensor(e.dims[v][axis])
	if err != nil {
		return err
	}
	limit := e.op("Squeeze", []string{n, e.i64s(0)})
	r := e.op("Range", []string{e.scalar(ir.I64, 0), limit, e.scalar(ir.I64, 1)})
	if v.Type.DType != ir.I64 {
		et, err := elemType(v.Type.DType)
		if err != nil {
			return err
		}
		r = e.op("Cast", []string{r}, attrInt("to", int64(et)))
	}
	if v.Type.Rank() == 1 {
		e.out(v, "Identity", []string{r})
		return nil
	}
	var axes []int64
	for a := 0; a < v.Type.Rank(); a++ {
		if a != axis {
			axes = append(axes, int64(a))
		}
	}
	u := e.op("Unsqueeze", []string{r, e.i64s(axes...)})
	shape, err := e.shapeOf(v)
	if err != nil {
		return err
	}
	e.out(v, "Expand", []string{u, shape})
	return nil
}

func emitLiteral(e *emitter, v *ir.Value) error {
	if e.dynamic(v) {
		if isSinusoidal(v) {
			return emitSinusoidal(e, v)
		}
		return fmt.Errorf("a constant table of dynamic shape %s has no ONNX form: give it a fixed size", e.shapeString(v))
	}
	t, err := tensor(v.Type.DType, int64s(v.Type.Shape), v.Aux.(ir.LiteralAttr).Data)
	if err != nil {
		return err
	}
	e.out(v, "Constant", nil, attrTensor("value", t))
	return nil
}

// sinusoidal is the position encoding of the sinusoidal built-in, [n, d],
// computed as the compiler computes it (compiler/lower.go).
func sinusoidal(n, d int) []float64 {
	out := make([]float64, n*d)
	for pos := 0; pos < n; pos++ {
		for i := 0; i < d; i++ {
			angle := float64(pos) / sinusoidalDenom(i, d)
			if i%2 == 0 {
				out[pos*d+i] = math.Sin(angle)
			} else {
				out[pos*d+i] = math.Cos(angle)
			}
		}
	}
	return out
}

func sinusoidalDenom(i, d int) float64 { return math.Pow(10000, float64(i-i%2)/float64(d)) }

// isSinusoidal reports whether the literal v is the table of
// sinusoidal(n, d): the one literal whose length may be dynamic.
func isSinusoidal(v *ir.Value) bool {
	s := v.Type.Shape
	return len(s) == 2 && slices.Equal(v.Aux.(ir.LiteralAttr).Data, sinusoidal(s[0], s[1]))
}

// emitSinusoidal computes sinusoidal(n, d) for a dynamic n in double
// precision: position / 10000^(2⌊i/2⌋/d), plus π/2 in the odd columns
// (cos x = sin(x + π/2)), then Sin, cast to the table's dtype.
func emitSinusoidal(e *emitter, v *ir.Value) error {
	d := v.Type.Shape[1]
	if _, ok := e.dims[v][1].isConst(); !ok {
		return fmt.Errorf("sinusoidal with a dynamic model dimension %s has no ONNX form", e.dims[v][1].format(e.vars))
	}
	n, err := e.polyTensor(e.dims[v][0])
	if err != nil {
		return err
	}
	limit := e.op("Cast", []string{e.op("Squeeze", []string{n, e.i64s(0)})}, attrInt("to", int64(onnxpb.TensorProto_DOUBLE)))
	pos := e.op("Range", []string{e.scalar(ir.F64, 0), limit, e.scalar(ir.F64, 1)})
	pos = e.op("Unsqueeze", []string{pos, e.i64s(1)})
	denom, phase := make([]float64, d), make([]float64, d)
	for i := range denom {
		denom[i] = sinusoidalDenom(i, d)
		phase[i] = float64(i%2) * math.Pi / 2
	}
	dn, err := e.constant(ir.F64, []int64{1, int64(d)}, denom)
	if err != nil {
		return err
	}
	ph, err := e.constant(ir.F64, []int64{1, int64(d)}, phase)
	if err != nil {
		return err
	}
	angle := e.op("Add", []string{e.op("Div", []string{pos, dn}), ph})
	et, err := elemType(v.Type.DType)
	if err != nil {
		return err
	}
	e.out(v, "Cast", []string{e.op("Sin", []string{angle})}, attrInt("to", int64(et)))
	return nil
}

func (e *emitter) shapeString(v *ir.Value) string {
	s := "["
	for i, d := range e.dims[v] {
		if i > 0 {
			s += ", "
		}
		s += d.format(e.vars)
	}
	return s + "]"
}

func emitRsqrt(e *emitter, v *ir.Value) error {
	e.out(v, "Reciprocal", []string{e.op("Sqrt", []string{e.arg(v, 0)})})
	return nil
}

func emitGelu(e *emitter, v *ir.Value) error {
	x := e.arg(v, 0)
	dt := v.Type.DType
	var inner string
	if v.Aux.(ir.GeluAttr).Approximate {
		// tanh(√(2/π)·(x + 0.044715·x³))
		x3 := e.op("Mul", []string{e.op("Mul", []string{x, x}), x})
		s := e.op("Add", []string{x, e.op("Mul", []string{x3, e.scalar(dt, 0.044715)})})
		inner = e.op("Tanh", []string{e.op("Mul", []string{s, e.scalar(dt, math.Sqrt(2/math.Pi))})})
	} else {
		inner = e.op("Erf", []string{e.op("Mul", []string{x, e.scalar(dt, 1/math.Sqrt2)})})
	}
	onePlus := e.op("Add", []string{inner, e.scalar(dt, 1)})
	e.out(v, "Mul", []string{e.op("Mul", []string{x, onePlus}), e.scalar(dt, 0.5)})
	return nil
}

func emitSoftplus(e *emitter, v *ir.Value) error {
	x, a, dt := e.arg(v, 0), v.Aux.(ir.SoftplusAttr), v.Type.DType
	bx := e.op("Mul", []string{x, e.scalar(dt, a.Beta)})
	soft := e.op("Div", []string{e.op("Softplus", []string{bx}), e.scalar(dt, a.Beta)})
	e.out(v, "Where", []string{e.op("Greater", []string{bx, e.scalar(dt, a.Threshold)}), x, soft})
	return nil
}

func emitElu(e *emitter, v *ir.Value) error {
	e.out(v, "Elu", []string{e.arg(v, 0)}, attrFloat("alpha", v.Aux.(ir.EluAttr).Alpha))
	return nil
}

func emitCast(e *emitter, v *ir.Value) error {
	et, err := elemType(v.Type.DType)
	if err != nil {
		return err
	}
	e.out(v, "Cast", []string{e.arg(v, 0)}, attrInt("to", int64(et)))
	return nil
}

func emitNe(e *emitter, v *ir.Value) error {
	e.out(v, "Not", []string{e.op("Equal", []string{e.arg(v, 0), e.arg(v, 1)})})
	return nil
}

func emitReduce(name string) func(e *emitter, v *ir.Value) error {
	return func(e *emitter, v *ir.Value) error {
		a := v.Aux.(ir.ReduceAttr)
		if len(a.Axes) == 0 {
			e.out(v, "Identity", []string{e.arg(v, 0)})
			return nil
		}
		keep := int64(0)
		if a.KeepDims {
			keep = 1
		}
		axes := make([]int64, len(a.Axes))
		for i, x := range a.Axes {
			axes[i] = int64(x)
		}
		if name == "ReduceSum" { // axes is an input from opset 13
			e.out(v, name, []string{e.arg(v, 0), e.i64s(axes...)}, attrInt("keepdims", keep))
		} else {
			e.out(v, name, []string{e.arg(v, 0)}, attrInts("axes", axes...), attrInt("keepdims", keep))
		}
		return nil
	}
}

func emitArgMax(e *emitter, v *ir.Value) error {
	a := v.Aux.(ir.ArgMaxAttr)
	keep := int64(0)
	if a.KeepDims {
		keep = 1
	}
	e.out(v, "ArgMax", []string{e.arg(v, 0)}, attrInt("axis", int64(a.Axis)), attrInt("keepdims", keep), attrInt("select_last_index", 0))
	return nil
}

// swapLast transposes the last two axes of x, of rank r.
func (e *emitter) swapLast(x string, r int) string {
	perm := make([]int64, r)
	for i := range perm {
		perm[i] = int64(i)
	}
	perm[r-1], perm[r-2] = perm[r-2], perm[r-1]
	return e.op("Transpose", []string{x}, attrInts("perm", perm...))
}

func emitMatMul(e *emitter, v *ir.Value) error {
	a := v.Aux.(ir.MatMulAttr)
	x, y := v.Args[0], v.Args[1]
	xn := e.arg(v, 0)
	if q := e.qdqInput(v); q != "" { // an int8 product (qdq.go)
		xn = q
	}
	if x.Type.Rank() == 2 && y.Type.Rank() == 2 && v.Type.DType.IsFloat() {
		var attrs []*onnxpb.AttributeProto
		if a.TransposeA {
			attrs = append(attrs, attrInt("transA", 1))
		}
		if a.TransposeB {
			attrs = append(attrs, attrInt("transB", 1))
		}
		e.out(v, "Gemm", []string{xn, e.arg(v, 1)}, attrs...)
		return nil
	}
	yn := e.arg(v, 1)
	if a.TransposeA {
		xn = e.swapLast(xn, x.Type.Rank())
	}
	if a.TransposeB {
		yn = e.swapLast(yn, y.Type.Rank())
	}
	e.out(v, "MatMul", []string{xn, yn})
	return nil
}

func emitConv(e *emitter, v *ir.Value) error {
	a := v.Aux.(ir.Conv2DAttr)
	w := v.Args[1].Type.Shape
	p := a.Padding
	e.out(v, "Conv", []string{e.arg(v, 0), e.arg(v, 1)},
		attrInts("kernel_shape", int64(w[2]), int64(w[3])),
		attrInts("strides", int64(a.Stride[0]), int64(a.Stride[1])),
		attrInts("pads", int64(p[0]), int64(p[1]), int64(p[0]), int64(p[1])),
		attrInts("dilations", int64(a.Dilation[0]), int64(a.Dilation[1])),
		attrInt("group", int64(a.G())))
	return nil
}

func emitPool(name string) func(e *emitter, v *ir.Value) error {
	return func(e *emitter, v *ir.Value) error {
		a := v.Aux.(ir.Pool2DAttr)
		p := a.Padding
		attrs := []*onnxpb.AttributeProto{
			attrInts("kernel_shape", int64(a.Kernel[0]), int64(a.Kernel[1])),
			attrInts("strides", int64(a.Stride[0]), int64(a.Stride[1])),
			attrInts("pads", int64(p[0]), int64(p[1]), int64(p[0]), int64(p[1])),
		}
		if name == "AveragePool" {
			attrs = append(attrs, attrInt("count_include_pad", 1))
		}
		e.out(v, name, []string{e.arg(v, 0)}, attrs...)
		return nil
	}
}

func emitReshape(e *emitter, v *ir.Value) error {
	ds := e.dims[v]
	target := make([]int64, len(ds))
	nDyn := 0
	for i, d := range ds {
		if c, ok := d.isConst(); ok {
			target[i] = c
		} else {
			target[i] = -1
			nDyn++
		}
	}
	var shape string
	if nDyn <= 1 {
		shape = e.i64sExact(target...)
	} else {
		var err error
		if shape, err = e.shapeOf(v); err != nil {
			return err
		}
	}
	e.out(v, "Reshape", []string{e.arg(v, 0), shape})
	return nil
}

func emitPermute(e *emitter, v *ir.Value) error {
	perm := v.Aux.(ir.PermuteAttr).Perm
	p := make([]int64, len(perm))
	for i, x := range perm {
		p[i] = int64(x)
	}
	e.out(v, "Transpose", []string{e.arg(v, 0)}, attrInts("perm", p...))
	return nil
}

func emitBroadcast(e *emitter, v *ir.Value) error {
	shape, err := e.shapeOf(v)
	if err != nil {
		return err
	}
	e.out(v, "Expand", []string{e.arg(v, 0), shape})
	return nil
}

// emitSlice writes each bound as a constant when it is one, as the end
// of the axis (INT64_MAX) or a negative offset from it when it follows
// the axis's size, and as a shape computation otherwise.
func emitSlice(e *emitter, v *ir.Value) error {
	a := v.Aux.(ir.SliceAttr)
	x := v.Args[0]
	n := len(a.Start)
	bounds := e.aux[v]
	var starts, stops []poly
	axes := make([]int64, n)
	steps := make([]int64, n)
	for i := 0; i < n; i++ {
		axes[i], steps[i] = int64(i), int64(a.Step[i])
		size := e.dims[x][i]
		for j, b := range []poly{bounds[i], bounds[n+i]} {
			if _, ok := b.isConst(); !ok {
				if off, ok := b.sub(size).isConst(); ok && off <= 0 {
					if off == 0 {
						b = constPoly(i64Max, len(e.vars))
					} else {
						b = constPoly(off, len(e.vars))
					}
				}
			}
			if j == 0 {
				starts = append(starts, b)
			} else {
				stops = append(stops, b)
			}
		}
	}
	st, err := e.vec(starts)
	if err != nil {
		return err
	}
	sp, err := e.vec(stops)
	if err != nil {
		return err
	}
	e.out(v, "Slice", []string{e.arg(v, 0), st, sp, e.i64s(axes...), e.i64s(steps...)})
	return nil
}

func emitConcat(e *emitter, v *ir.Value) error {
	ins := make([]string, len(v.Args))
	for i := range v.Args {
		ins[i] = e.arg(v, i)
	}
	e.out(v, "Concat", ins, attrInt("axis", int64(v.Aux.(ir.AxisAttr).Axis)))
	return nil
}

func emitOneHot(e *emitter, v *ir.Value) error {
	depth := v.Type.Shape[v.Type.Rank()-1]
	vals, err := e.constant(v.Type.DType, []int64{2}, []float64{0, 1})
	if err != nil {
		return err
	}
	ids := e.arg(v, 0)
	if v.Args[0].Type.DType != ir.I64 { // onnxruntime's kernels take int64 ids with an int64 depth
		ids = e.op("Cast", []string{ids}, attrInt("to", int64(onnxpb.TensorProto_INT64)))
	}
	e.out(v, "OneHot", []string{ids, e.i64s(int64(depth)), vals}, attrInt("axis", -1))
	return nil
}

// emitCrossEntropy writes the mean over N of -Σ_c target·log softmax,
// the target being the one-hot label smoothed by ε: (1-ε)·onehot + ε/C.
func emitCrossEntropy(e *emitter, v *ir.Value) error {
	logits := v.Args[0]
	dt := logits.Type.DType
	c := logits.Type.Shape[1]
	eps := v.Aux.(ir.CrossEntropyAttr).LabelSmoothing
	logp := e.op("LogSoftmax", []string{e.arg(v, 0)}, attrInt("axis", 1))
	ids := e.arg(v, 1)
	if v.Args[1].Type.DType != ir.I64 {
		ids = e.op("Cast", []string{ids}, attrInt("to", int64(onnxpb.TensorProto_INT64)))
	}
	vals, err := e.constant(dt, []int64{2}, []float64{eps / float64(c), 1 - eps + eps/float64(c)})
	if err != nil {
		return err
	}
	target := e.op("OneHot", []string{ids, e.i64s(int64(c)), vals}, attrInt("axis", -1))
	s := e.op("ReduceSum", []string{e.op("Mul", []string{target, logp}), e.i64s(1)}, attrInt("keepdims", 0))
	e.out(v, "Neg", []string{e.op("ReduceMean", []string{s}, attrInts("axes", 0), attrInt("keepdims", 0))})
	return nil
}

func emitAxis(name string) func(e *emitter, v *ir.Value) error {
	return func(e *emitter, v *ir.Value) error {
		e.out(v, name, []string{e.arg(v, 0)}, attrInt("axis", int64(v.Aux.(ir.AxisAttr).Axis)))
		return nil
	}
}

func emitLayerNorm(e *emitter, v *ir.Value) error {
	e.out(v, "LayerNormalization", []string{e.arg(v, 0), e.arg(v, 1), e.arg(v, 2)},
		attrInt("axis", -1), attrFloat("epsilon", v.Aux.(ir.LayerNormAttr).Eps))
	return nil
}

// emitAttention writes softmax(q·kᵀ·scale, masked keys at -1e9)·v with
// plain operators; the mask [B, Tk] is unsqueezed to [B, 1, …, 1, Tk].
// With bthd, q, k, v [B, T, H, d] are transposed to [B, H, T, d] first
// and the result back.
func emitAttention(e *emitter, v *ir.Value) error {
	q, k := v.Args[0], v.Args[1]
	r := q.Type.Rank()
	dt := q.Type.DType
	bthd := v.Aux.(ir.AttentionAttr).BTHD
	heads := func(x string) string {
		if !bthd {
			return x
		}
		return e.op("Transpose", []string{x}, attrInts("perm", 0, 2, 1, 3))
	}
	s := e.op("MatMul", []string{heads(e.arg(v, 0)), e.swapLast(heads(e.arg(v, 1)), k.Type.Rank())})
	s = e.op("Mul", []string{s, e.scalar(dt, v.Aux.(ir.AttentionAttr).Scale)})
	if len(v.Args) == 4 {
		var axes []int64
		for a := 1; a < r-1; a++ {
			axes = append(axes, int64(a))
		}
		m := e.op("Unsqueeze", []string{e.arg(v, 3), e.i64s(axes...)})
		s = e.op("Where", []string{m, s, e.scalar(dt, -1e9)})
	}
	a := e.op("Softmax", []string{s}, attrInt("axis", -1))
	if bthd {
		e.out(v, "Transpose", []string{e.op("MatMul", []string{a, heads(e.arg(v, 2))})}, attrInts("perm", 0, 2, 1, 3))
		return nil
	}
	e.out(v, "MatMul", []string{a, e.arg(v, 2)})
	return nil
}
