// This file implements the type rules of the op table: each infers the
// result type of a value from its arguments and attributes, or, for
// type-carrying ops, checks the given result type.

package ir

import (
	"fmt"
	"slices"
)

func errf(v *Value, format string, args ...any) error {
	return fmt.Errorf("%s: %s", v.Op, fmt.Sprintf(format, args...))
}

func typeGiven(v *Value) (Type, error) {
	if v.Type.DType == InvalidDType {
		return Type{}, errf(v, "no result type given")
	}
	for _, d := range v.Type.Shape {
		if d < 0 {
			return Type{}, errf(v, "negative dimension in %v", v.Type)
		}
	}
	return v.Type, nil
}

func typeIota(v *Value) (Type, error) {
	t, err := typeGiven(v)
	if err != nil {
		return t, err
	}
	if a := v.Aux.(IotaAttr); a.Axis < 0 || a.Axis >= t.Rank() {
		return Type{}, errf(v, "axis %d out of range for %v", a.Axis, t)
	}
	if t.DType == Bool {
		return Type{}, errf(v, "cannot count in %v", t)
	}
	return t, nil
}

func typeLiteral(v *Value) (Type, error) {
	t, err := typeGiven(v)
	if err != nil {
		return t, err
	}
	if n := len(v.Aux.(LiteralAttr).Data); n != t.NumElements() {
		return Type{}, errf(v, "%d elements for %v, which has %d", n, t, t.NumElements())
	}
	return t, nil
}

func numeric(v *Value, x *Value) error {
	if x.Type.DType == Bool || x.Type.DType == InvalidDType {
		return errf(v, "operand %v is not numeric", x.Type)
	}
	return nil
}

func float(v *Value, x *Value) error {
	if !x.Type.DType.IsFloat() {
		return errf(v, "operand %v is not floating-point", x.Type)
	}
	return nil
}

func integer(v *Value, x *Value) error {
	if !x.Type.DType.IsInt() {
		return errf(v, "operand %v is not an integer tensor", x.Type)
	}
	return nil
}

func typeUnaryNum(v *Value) (Type, error) {
	if err := numeric(v, v.Args[0]); err != nil {
		return Type{}, err
	}
	return v.Args[0].Type, nil
}

func typeUnaryFloat(v *Value) (Type, error) {
	if err := float(v, v.Args[0]); err != nil {
		return Type{}, err
	}
	return v.Args[0].Type, nil
}

func typeCast(v *Value) (Type, error) {
	if _, err := typeGiven(v); err != nil {
		return Type{}, err
	}
	if !v.Type.Shape.Equal(v.Args[0].Type.Shape) {
		return Type{}, errf(v, "cannot cast %v to %v: shapes differ", v.Args[0].Type, v.Type)
	}
	return v.Type, nil
}

// broadcastArgs returns the broadcast shape of v's args.
func broadcastArgs(v *Value, args []*Value) (Shape, error) {
	shapes := make([]Shape, len(args))
	for i, a := range args {
		shapes[i] = a.Type.Shape
	}
	s, ok := Broadcast(shapes...)
	if !ok {
		types := ""
		for i, a := range args {
			if i > 0 {
				types += " and "
			}
			types += a.Type.String()
		}
		return nil, errf(v, "cannot broadcast %s", types)
	}
	return s, nil
}

func sameDType(v *Value, x, y *Value) error {
	if x.Type.DType != y.Type.DType {
		return errf(v, "mismatched dtypes %v and %v", x.Type, y.Type)
	}
	return nil
}

func typeBinaryNum(v *Value) (Type, error) {
	x, y := v.Args[0], v.Args[1]
	if err := sameDType(v, x, y); err != nil {
		return Type{}, err
	}
	if err := numeric(v, x); err != nil {
		return Type{}, err
	}
	s, err := broadcastArgs(v, v.Args)
	return Type{x.Type.DType, s}, err
}

func typeBinaryFloat(v *Value) (Type, error) {
	if err := float(v, v.Args[0]); err != nil {
		return Type{}, err
	}
	return typeBinaryNum(v)
}

func typeCompare(v *Value) (Type, error) {
	if err := sameDType(v, v.Args[0], v.Args[1]); err != nil {
		return Type{}, err
	}
	s, err := broadcastArgs(v, v.Args)
	return Type{Bool, s}, err
}

func typeWhere(v *Value) (Type, error) {
	c, x, y := v.Args[0], v.Args[1], v.Args[2]
	if c.Type.DType != Bool {
		return Type{}, errf(v, "condition %v is not bool", c.Type)
	}
	if err := sameDType(v, x, y); err != nil {
		return Type{}, err
	}
	s, err := broadcastArgs(v, v.Args)
	return Type{x.Type.DType, s}, err
}

// checkAxes checks that axes are sorted, unique and within rank.
func checkAxes(v *Value, axes []int, rank int) error {
	for i, a := range axes {
		if a < 0 || a >= rank {
			return errf(v, "axis %d out of range for rank %d", a, rank)
		}
		if i > 0 && axes[i-1] >= a {
			return errf(v, "axes %v not sorted and unique", axes)
		}
	}
	return nil
}

// reducedShape returns s with axes removed, or set to 1 when keep.
func reducedShape(s Shape, axes []int, keep bool) Shape {
	out := Shape{}
	for i, d := range s {
		if slices.Contains(axes, i) {
			if keep {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, d)
	}
	return out
}

func typeReduce(v *Value) (Type, error) {
	x := v.Args[0]
	if err := numeric(v, x); err != nil {
		return Type{}, err
	}
	a := v.Aux.(ReduceAttr)
	if err := checkAxes(v, a.Axes, x.Type.Rank()); err != nil {
		return Type{}, err
	}
	return Type{x.Type.DType, reducedShape(x.Type.Shape, a.Axes, a.KeepDims)}, nil
}

func typeReduceFloat(v *Value) (Type, error) {
	if err := float(v, v.Args[0]); err != nil {
		return Type{}, err
	}
	return typeReduce(v)
}

func typeArgMax(v *Value) (Type, error) {
	x := v.Args[0]
	if err := numeric(v, x); err != nil {
		return Type{}, err
	}
	a := v.Aux.(ArgMaxAttr)
	if err := checkAxes(v, []int{a.Axis}, x.Type.Rank()); err != nil {
		return Type{}, err
	}
	return Type{I64, reducedShape(x.Type.Shape, []int{a.Axis}, a.KeepDims)}, nil
}

func typeMatMul(v *Value) (Type, error) {
	x, y := v.Args[0], v.Args[1]
	if err := sameDType(v, x, y); err != nil {
		return Type{}, err
	}
	if err := numeric(v, x); err != nil {
		return Type{}, err
	}
	if x.Type.Rank() < 2 || y.Type.Rank() < 2 {
		return Type{}, errf(v, "cannot matmul %v by %v: operands need rank ≥ 2", x.Type, y.Type)
	}
	a := v.Aux.(MatMulAttr)
	xs, ys := x.Type.Shape, y.Type.Shape
	m, k := xs[len(xs)-2], xs[len(xs)-1]
	if a.TransposeA {
		m, k = k, m
	}
	k2, n := ys[len(ys)-2], ys[len(ys)-1]
	if a.TransposeB {
		k2, n = n, k2
	}
	if k != k2 {
		return Type{}, errf(v, "cannot matmul %v by %v: inner dims %d ≠ %d", x.Type, y.Type, k, k2)
	}
	batch, ok := Broadcast(xs[:len(xs)-2], ys[:len(ys)-2])
	if !ok {
		return Type{}, errf(v, "cannot matmul %v by %v: batch dims do not broadcast", x.Type, y.Type)
	}
	return Type{x.Type.DType, append(batch, m, n)}, nil
}

// conv2DOut returns the result type of conv2d(x, w).
func conv2DOut(v *Value, x, w Type) (Type, error) {
	if x.DType != w.DType || !x.DType.IsFloat() {
		return Type{}, errf(v, "operands %v and %v must share a float dtype", x, w)
	}
	if x.Rank() != 4 || w.Rank() != 4 {
		return Type{}, errf(v, "input %v and weight %v must have rank 4 (NCHW, OIHW)", x, w)
	}
	a := v.Aux.(Conv2DAttr)
	g := a.G()
	if x.Shape[1] != w.Shape[1]*g {
		in := ""
		if g > 1 {
			in = fmt.Sprintf(" in %d groups", g)
		}
		return Type{}, errf(v, "input %v has %d channels but weight %v%s expects %d", x, x.Shape[1], w, in, w.Shape[1]*g)
	}
	if w.Shape[0]%g != 0 {
		return Type{}, errf(v, "weight %v: %d output channels do not split into %d groups", w, w.Shape[0], g)
	}
	out := Shape{x.Shape[0], w.Shape[0], 0, 0}
	for i := range 2 {
		if a.Stride[i] < 1 || a.Dilation[i] < 1 || a.Padding[i] < 0 {
			return Type{}, errf(v, "bad stride %v, padding %v or dilation %v", a.Stride, a.Padding, a.Dilation)
		}
		span := a.Dilation[i]*(w.Shape[2+i]-1) + 1
		in := x.Shape[2+i] + 2*a.Padding[i]
		if in < span {
			return Type{}, errf(v, "kernel %v (dilation %v) larger than padded input %v", w, a.Dilation, x)
		}
		out[2+i] = (in-span)/a.Stride[i] + 1
	}
	return Type{x.DType, out}, nil
}

func typeConv2D(v *Value) (Type, error) {
	return conv2DOut(v, v.Args[0].Type, v.Args[1].Type)
}

func typeConv2DBackwardInput(v *Value) (Type, error) {
	dy, w := v.Args[0].Type, v.Args[1].Type
	y, err := conv2DOut(v, v.Type, w)
	if err != nil {
		return Type{}, err
	}
	if !y.Equal(dy) {
		return Type{}, errf(v, "gradient %v does not match conv2d output %v", dy, y)
	}
	return v.Type, nil
}

func typeConv2DBackwardWeight(v *Value) (Type, error) {
	x, dy := v.Args[0].Type, v.Args[1].Type
	y, err := conv2DOut(v, x, v.Type)
	if err != nil {
		return Type{}, err
	}
	if !y.Equal(dy) {
		return Type{}, errf(v, "gradient %v does not match conv2d output %v", dy, y)
	}
	return v.Type, nil
}

// pool2DOut returns the result type of pooling x.
func pool2DOut(v *Value, x Type) (Type, error) {
	if !x.DType.IsFloat() || x.Rank() != 4 {
		return Type{}, errf(v, "input %v must be a float NCHW tensor", x)
	}
	a := v.Aux.(Pool2DAttr)
	out := Shape{x.Shape[0], x.Shape[1], 0, 0}
	for i := range 2 {
		if a.Kernel[i] < 1 || a.Stride[i] < 1 || a.Padding[i] < 0 || 2*a.Padding[i] > a.Kernel[i] {
			return Type{}, errf(v, "bad kernel %v, stride %v or padding %v (padding at most half the kernel)", a.Kernel, a.Stride, a.Padding)
		}
		in := x.Shape[2+i] + 2*a.Padding[i]
		if in < a.Kernel[i] {
			return Type{}, errf(v, "kernel %v larger than padded input %v", a.Kernel, x)
		}
		out[2+i] = (in-a.Kernel[i])/a.Stride[i] + 1
	}
	return Type{x.DType, out}, nil
}

func typePool2D(v *Value) (Type, error) { return pool2DOut(v, v.Args[0].Type) }

func typeMaxPool2DBackward(v *Value) (Type, error) {
	x, dy := v.Args[0].Type, v.Args[1].Type
	y, err := pool2DOut(v, x)
	if err != nil {
		return Type{}, err
	}
	if !y.Equal(dy) {
		return Type{}, errf(v, "gradient %v does not match pooled output %v", dy, y)
	}
	return x, nil
}

func typeAvgPool2DBackward(v *Value) (Type, error) {
	y, err := pool2DOut(v, v.Type)
	if err != nil {
		return Type{}, err
	}
	if dy := v.Args[0].Type; !y.Equal(dy) {
		return Type{}, errf(v, "gradient %v does not match pooled output %v", dy, y)
	}
	return v.Type, nil
}

func typeReshape(v *Value) (Type, error) {
	x := v.Args[0].Type
	if _, err := typeGiven(v); err != nil {
		return Type{}, err
	}
	if x.DType != v.Type.DType || x.NumElements() != v.Type.NumElements() {
		return Type{}, errf(v, "cannot reshape %v to %v", x, v.Type)
	}
	return v.Type, nil
}

func typePermute(v *Value) (Type, error) {
	x := v.Args[0].Type
	p := v.Aux.(PermuteAttr).Perm
	if len(p) != x.Rank() {
		return Type{}, errf(v, "permutation %v for %v", p, x)
	}
	seen := make([]bool, len(p))
	out := make(Shape, len(p))
	for i, a := range p {
		if a < 0 || a >= len(p) || seen[a] {
			return Type{}, errf(v, "%v is not a permutation", p)
		}
		seen[a] = true
		out[i] = x.Shape[a]
	}
	return Type{x.DType, out}, nil
}

func typeBroadcastTo(v *Value) (Type, error) {
	x := v.Args[0].Type
	if _, err := typeGiven(v); err != nil {
		return Type{}, err
	}
	if x.DType != v.Type.DType || !x.Shape.BroadcastsTo(v.Type.Shape) {
		return Type{}, errf(v, "cannot broadcast %v to %v", x, v.Type)
	}
	return v.Type, nil
}

func typeReduceTo(v *Value) (Type, error) {
	x := v.Args[0].Type
	if _, err := typeGiven(v); err != nil {
		return Type{}, err
	}
	if err := numeric(v, v.Args[0]); err != nil {
		return Type{}, err
	}
	if x.DType != v.Type.DType || !v.Type.Shape.BroadcastsTo(x.Shape) {
		return Type{}, errf(v, "cannot reduce %v to %v", x, v.Type)
	}
	return v.Type, nil
}

// slicedShape returns the shape of slicing s, or an error.
func slicedShape(v *Value, s Shape) (Shape, error) {
	a := v.Aux.(SliceAttr)
	if len(a.Start) != len(s) || len(a.Stop) != len(s) || len(a.Step) != len(s) {
		return nil, errf(v, "slice start %v stop %v step %v for shape %v", a.Start, a.Stop, a.Step, s)
	}
	out := make(Shape, len(s))
	for i, d := range s {
		if a.Start[i] < 0 || a.Start[i] > a.Stop[i] || a.Stop[i] > d || a.Step[i] < 1 {
			return nil, errf(v, "slice %d:%d:%d out of range for dim %d of %v", a.Start[i], a.Stop[i], a.Step[i], i, s)
		}
		out[i] = (a.Stop[i] - a.Start[i] + a.Step[i] - 1) / a.Step[i]
	}
	return out, nil
}

func typeSlice(v *Value) (Type, error) {
	x := v.Args[0].Type
	s, err := slicedShape(v, x.Shape)
	return Type{x.DType, s}, err
}

func typeSliceBackward(v *Value) (Type, error) {
	if _, err := typeGiven(v); err != nil {
		return Type{}, err
	}
	s, err := slicedShape(v, v.Type.Shape)
	if err != nil {
		return Type{}, err
	}
	if dy := v.Args[0].Type; dy.DType != v.Type.DType || !dy.Shape.Equal(s) {
		return Type{}, errf(v, "gradient %v does not match slice of %v, %v", dy, v.Type, s)
	}
	return v.Type, nil
}

func typeConcat(v *Value) (Type, error) {
	if len(v.Args) == 0 {
		return Type{}, errf(v, "no operands")
	}
	x := v.Args[0].Type
	axis := v.Aux.(AxisAttr).Axis
	if axis < 0 || axis >= x.Rank() {
		return Type{}, errf(v, "axis %d out of range for %v", axis, x)
	}
	out := x.Shape.Clone()
	for _, a := range v.Args[1:] {
		t := a.Type
		if t.DType != x.DType || t.Rank() != x.Rank() {
			return Type{}, errf(v, "cannot concat %v and %v", x, t)
		}
		for i := range t.Shape {
			if i != axis && t.Shape[i] != x.Shape[i] {
				return Type{}, errf(v, "cannot concat %v and %v along axis %d", x, t, axis)
			}
		}
		out[axis] += t.Shape[axis]
	}
	return Type{x.DType, out}, nil
}

func typeGather(v *Value) (Type, error) {
	table, ids := v.Args[0], v.Args[1]
	if err := integer(v, ids); err != nil {
		return Type{}, err
	}
	if table.Type.Rank() < 1 {
		return Type{}, errf(v, "table %v has rank 0", table.Type)
	}
	out := append(ids.Type.Shape.Clone(), table.Type.Shape[1:]...)
	return Type{table.Type.DType, out}, nil
}

func typeScatterAdd(v *Value) (Type, error) {
	ids, upd := v.Args[0], v.Args[1]
	if _, err := typeGiven(v); err != nil {
		return Type{}, err
	}
	if err := integer(v, ids); err != nil {
		return Type{}, err
	}
	if err := numeric(v, upd); err != nil {
		return Type{}, err
	}
	if v.Type.Rank() < 1 {
		return Type{}, errf(v, "result %v has rank 0", v.Type)
	}
	want := append(ids.Type.Shape.Clone(), v.Type.Shape[1:]...)
	if upd.Type.DType != v.Type.DType || !upd.Type.Shape.Equal(want) {
		return Type{}, errf(v, "updates %v for ids %v and result %v: want %v", upd.Type, ids.Type, v.Type, Type{v.Type.DType, want})
	}
	return v.Type, nil
}

func typeOneHot(v *Value) (Type, error) {
	ids := v.Args[0]
	if _, err := typeGiven(v); err != nil {
		return Type{}, err
	}
	if err := integer(v, ids); err != nil {
		return Type{}, err
	}
	r := v.Type.Rank()
	if r != ids.Type.Rank()+1 || !v.Type.Shape[:r-1].Equal(ids.Type.Shape) || v.Type.Shape[r-1] < 1 {
		return Type{}, errf(v, "result %v for ids %v: want ids' shape plus a depth ≥ 1", v.Type, ids.Type)
	}
	return v.Type, nil
}

func typeUnaryFloatAxis(v *Value) (Type, error) {
	x := v.Args[0]
	if err := float(v, x); err != nil {
		return Type{}, err
	}
	if a := v.Aux.(AxisAttr).Axis; a < 0 || a >= x.Type.Rank() {
		return Type{}, errf(v, "axis %d out of range for %v", a, x.Type)
	}
	return x.Type, nil
}

// checkLayerNorm checks x and a [D] weight w and the attribute.
func checkLayerNorm(v *Value, x, w Type) error {
	if !x.DType.IsFloat() || x.Rank() < 1 {
		return errf(v, "input %v must be a float tensor of rank ≥ 1", x)
	}
	d := x.Shape[x.Rank()-1]
	if want := (Type{x.DType, Shape{d}}); !w.Equal(want) {
		return errf(v, "weight or bias %v for input %v: want %v", w, x, want)
	}
	if eps := v.Aux.(LayerNormAttr).Eps; !(eps > 0) {
		return errf(v, "eps %g must be > 0", eps)
	}
	return nil
}

func typeLayerNorm(v *Value) (Type, error) {
	x := v.Args[0].Type
	for _, p := range v.Args[1:] {
		if err := checkLayerNorm(v, x, p.Type); err != nil {
			return Type{}, err
		}
	}
	return x, nil
}

func typeLayerNormBackwardInput(v *Value) (Type, error) {
	x, w, dy := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type
	if err := checkLayerNorm(v, x, w); err != nil {
		return Type{}, err
	}
	if !dy.Equal(x) {
		return Type{}, errf(v, "gradient %v does not match input %v", dy, x)
	}
	return x, nil
}

func typeLayerNormBackwardWeight(v *Value) (Type, error) {
	x, dy := v.Args[0].Type, v.Args[1].Type
	if x.Rank() < 1 {
		return Type{}, errf(v, "input %v has rank 0", x)
	}
	w := Type{x.DType, Shape{x.Shape[x.Rank()-1]}}
	if err := checkLayerNorm(v, x, w); err != nil {
		return Type{}, err
	}
	if !dy.Equal(x) {
		return Type{}, errf(v, "gradient %v does not match input %v", dy, x)
	}
	return w, nil
}

func checkCrossEntropy(v *Value, logits, labels Type) error {
	if !logits.DType.IsFloat() || logits.Rank() != 2 {
		return errf(v, "logits %v must be a float [N,C] tensor", logits)
	}
	if !labels.DType.IsInt() || !labels.Shape.Equal(logits.Shape[:1]) {
		return errf(v, "labels %v for logits %v: want integer [%d]", labels, logits, logits.Shape[0])
	}
	if ls := v.Aux.(CrossEntropyAttr).LabelSmoothing; ls < 0 || ls >= 1 {
		return errf(v, "label smoothing %g not in [0,1)", ls)
	}
	return nil
}

func typeSoftmaxCrossEntropy(v *Value) (Type, error) {
	logits, labels := v.Args[0].Type, v.Args[1].Type
	if err := checkCrossEntropy(v, logits, labels); err != nil {
		return Type{}, err
	}
	return Scalar(logits.DType), nil
}

func typeSoftmaxCrossEntropyBackward(v *Value) (Type, error) {
	logits, labels, dl := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type
	if err := checkCrossEntropy(v, logits, labels); err != nil {
		return Type{}, err
	}
	if !dl.Equal(Scalar(logits.DType)) {
		return Type{}, errf(v, "gradient %v must be a %v scalar", dl, logits.DType)
	}
	return logits, nil
}

// scalarInt checks that x is an integer scalar (seed, step).
func scalarInt(v *Value, x *Value, what string) error {
	if !x.Type.DType.IsInt() || x.Type.Rank() != 0 {
		return errf(v, "%s %v must be an integer scalar", what, x.Type)
	}
	return nil
}

// scalarOf checks that x is a scalar of dtype d (learning rate).
func scalarOf(v *Value, x *Value, d DType, what string) error {
	if !x.Type.Equal(Scalar(d)) {
		return errf(v, "%s %v must be a %v scalar", what, x.Type, d)
	}
	return nil
}

// sameType checks that every arg has the type of the first.
func sameType(v *Value, args ...*Value) error {
	for _, a := range args[1:] {
		if !a.Type.Equal(args[0].Type) {
			return errf(v, "operand %v does not match %v", a.Type, args[0].Type)
		}
	}
	return float(v, args[0])
}

func typeDropout(v *Value) (Type, error) {
	x := v.Args[0]
	if err := float(v, x); err != nil {
		return Type{}, err
	}
	if err := scalarInt(v, v.Args[1], "seed"); err != nil {
		return Type{}, err
	}
	if err := scalarInt(v, v.Args[2], "step"); err != nil {
		return Type{}, err
	}
	if p := v.Aux.(DropoutAttr).P; p < 0 || p >= 1 {
		return Type{}, errf(v, "probability %g not in [0,1)", p)
	}
	return x.Type, nil
}

func typeSGD(v *Value) (Type, error) {
	p, d, lr := v.Args[0], v.Args[1], v.Args[2]
	if err := sameType(v, p, d); err != nil {
		return Type{}, err
	}
	return p.Type, scalarOf(v, lr, p.Type.DType, "learning rate")
}

func typeSGDMomentum(v *Value) (Type, error) {
	buf, d, step := v.Args[0], v.Args[1], v.Args[2]
	if err := sameType(v, buf, d); err != nil {
		return Type{}, err
	}
	return buf.Type, scalarInt(v, step, "step")
}

func typeEMA(v *Value) (Type, error) {
	s, x := v.Args[0], v.Args[1]
	if err := sameType(v, s, x); err != nil {
		return Type{}, err
	}
	if d := v.Aux.(EMAAttr).Decay; d < 0 || d > 1 {
		return Type{}, errf(v, "decay %g not in [0,1]", d)
	}
	return s.Type, nil
}

func typeAdam(v *Value) (Type, error) {
	p, m, s, lr, step := v.Args[0], v.Args[1], v.Args[2], v.Args[3], v.Args[4]
	if err := sameType(v, p, m, s); err != nil {
		return Type{}, err
	}
	if err := scalarOf(v, lr, p.Type.DType, "learning rate"); err != nil {
		return Type{}, err
	}
	if err := scalarInt(v, step, "step"); err != nil {
		return Type{}, err
	}
	if a := v.Aux.(AdamAttr); a.Beta1 < 0 || a.Beta1 >= 1 || a.Beta2 < 0 || a.Beta2 >= 1 {
		return Type{}, errf(v, "betas %g, %g not in [0,1)", a.Beta1, a.Beta2)
	}
	return p.Type, nil
}

func typeRMSprop(v *Value) (Type, error) {
	p, g, s, lr := v.Args[0], v.Args[1], v.Args[2], v.Args[3]
	if err := sameType(v, p, g, s); err != nil {
		return Type{}, err
	}
	return p.Type, scalarOf(v, lr, p.Type.DType, "learning rate")
}
