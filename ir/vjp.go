// This file implements the VJP rules of the op table: each writes, in IR
// ops, the cotangents of an op's operands given the cotangent of its
// result. Rules run inside Grad; a builder error here is a bug in a rule,
// so must panics and Grad turns the panic into an internal error.

package ir

import (
	"fmt"
	"math"
	"slices"
)

// gradPanic carries a builder error out of a VJP rule.
type gradPanic struct{ err error }

func must(v *Value, err error) *Value {
	if err != nil {
		panic(gradPanic{err})
	}
	return v
}

// konst returns the scalar c in x's dtype.
func konst(b *Builder, x *Value, c float64) *Value { return must(b.Const(x.Type.DType, c)) }

// unbroadcast sums the cotangent g down to the shape of operand x.
func unbroadcast(b *Builder, g, x *Value) *Value { return must(b.ReduceTo(g, x.Type.Shape)) }

// unary builds the cotangent of a one-operand op.
func unary(need []bool, f func() *Value) []*Value {
	if !need[0] {
		return []*Value{nil}
	}
	return []*Value{f()}
}

func gradNeg(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.Neg(g)) })
}

func gradExp(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.Mul(g, v)) })
}

func gradLog(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.Div(g, v.Args[0])) })
}

func gradSqrt(b *Builder, v, g *Value, need []bool) []*Value {
	// d√x = 1/(2√x)
	return unary(need, func() *Value { return must(b.Div(must(b.Mul(g, konst(b, g, 0.5))), v)) })
}

func gradRsqrt(b *Builder, v, g *Value, need []bool) []*Value {
	// d x^-½ = -½ x^-3/2 = -½ y³
	return unary(need, func() *Value {
		y3 := must(b.Mul(must(b.Mul(v, v)), v))
		return must(b.Mul(must(b.Mul(g, konst(b, g, -0.5))), y3))
	})
}

func gradTanh(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		return must(b.Mul(g, must(b.Sub(konst(b, v, 1), must(b.Mul(v, v))))))
	})
}

func gradSigmoid(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		return must(b.Mul(must(b.Mul(g, v)), must(b.Sub(konst(b, v, 1), v))))
	})
}

func gradRelu(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.ReluBackward(v.Args[0], g)) })
}

func gradSoftplus(b *Builder, v, g *Value, need []bool) []*Value {
	// y' = sigmoid(βx), 1 where βx > threshold
	return unary(need, func() *Value {
		x, a := v.Args[0], v.Aux.(SoftplusAttr)
		bx := must(b.Mul(x, konst(b, x, a.Beta)))
		d := must(b.Where(must(b.Gt(bx, konst(b, x, a.Threshold))), konst(b, x, 1), must(b.Sigmoid(bx))))
		return must(b.Mul(g, d))
	})
}

func gradElu(b *Builder, v, g *Value, need []bool) []*Value {
	// y' = 1 where x > 0, else α·e^x
	return unary(need, func() *Value {
		x := v.Args[0]
		neg := must(b.Mul(g, must(b.Mul(konst(b, x, v.Aux.(EluAttr).Alpha), must(b.Exp(x))))))
		return must(b.Where(must(b.Gt(x, konst(b, x, 0))), g, neg))
	})
}

func gradGelu(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		return must(b.GeluBackward(v.Args[0], g, v.Aux.(GeluAttr).Approximate))
	})
}

func gradErf(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		x := v.Args[0]
		e := must(b.Exp(must(b.Neg(must(b.Mul(x, x))))))
		return must(b.Mul(g, must(b.Mul(konst(b, x, 2/math.Sqrt(math.Pi)), e))))
	})
}

func gradAbs(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.Mul(g, must(b.Sign(v.Args[0])))) })
}

func gradCast(b *Builder, v, g *Value, need []bool) []*Value {
	if x := v.Args[0]; !need[0] || !x.Type.DType.IsFloat() {
		return []*Value{nil}
	}
	return []*Value{must(b.Cast(g, v.Args[0].Type.DType))}
}

// binary builds the cotangents of a two-operand broadcasting op from the
// unreduced cotangents dx and dy.
func binary(b *Builder, v *Value, need []bool, dx, dy func() *Value) []*Value {
	out := make([]*Value, 2)
	if need[0] {
		out[0] = unbroadcast(b, dx(), v.Args[0])
	}
	if need[1] {
		out[1] = unbroadcast(b, dy(), v.Args[1])
	}
	return out
}

func gradAdd(b *Builder, v, g *Value, need []bool) []*Value {
	id := func() *Value { return g }
	return binary(b, v, need, id, id)
}

func gradSub(b *Builder, v, g *Value, need []bool) []*Value {
	return binary(b, v, need, func() *Value { return g }, func() *Value { return must(b.Neg(g)) })
}

func gradMul(b *Builder, v, g *Value, need []bool) []*Value {
	x, y := v.Args[0], v.Args[1]
	return binary(b, v, need,
		func() *Value { return must(b.Mul(g, y)) },
		func() *Value { return must(b.Mul(g, x)) })
}

func gradDiv(b *Builder, v, g *Value, need []bool) []*Value {
	y := v.Args[1]
	return binary(b, v, need,
		func() *Value { return must(b.Div(g, y)) },
		func() *Value { return must(b.Neg(must(b.Div(must(b.Mul(g, v)), y)))) })
}

// gradSelect routes g to x where mask holds and to y elsewhere.
func gradSelect(b *Builder, v, g, mask *Value, need []bool) []*Value {
	zero := konst(b, g, 0)
	return binary(b, v, need,
		func() *Value { return must(b.Where(mask, g, zero)) },
		func() *Value { return must(b.Where(mask, zero, g)) })
}

func gradMax(b *Builder, v, g *Value, need []bool) []*Value {
	return gradSelect(b, v, g, must(b.Ge(v.Args[0], v.Args[1])), need)
}

func gradMin(b *Builder, v, g *Value, need []bool) []*Value {
	return gradSelect(b, v, g, must(b.Le(v.Args[0], v.Args[1])), need)
}

func gradPow(b *Builder, v, g *Value, need []bool) []*Value {
	x, y := v.Args[0], v.Args[1]
	return binary(b, v, need,
		func() *Value {
			// y·x^(y-1)
			p := must(b.Pow(x, must(b.Sub(y, konst(b, y, 1)))))
			return must(b.Mul(g, must(b.Mul(y, p))))
		},
		func() *Value { return must(b.Mul(g, must(b.Mul(v, must(b.Log(x)))))) })
}

func gradWhere(b *Builder, v, g *Value, need []bool) []*Value {
	c := v.Args[0]
	zero := konst(b, g, 0)
	out := make([]*Value, 3)
	if need[1] {
		out[1] = unbroadcast(b, must(b.Where(c, g, zero)), v.Args[1])
	}
	if need[2] {
		out[2] = unbroadcast(b, must(b.Where(c, zero, g)), v.Args[2])
	}
	return out
}

// keepDims reshapes the result (or cotangent) r of a reduction of x to
// the shape with the reduced axes kept as size 1.
func keepDims(b *Builder, r, x *Value, a ReduceAttr) *Value {
	return must(b.Reshape(r, reducedShape(x.Type.Shape, a.Axes, true)))
}

func gradSum(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		x := v.Args[0]
		return must(b.BroadcastTo(keepDims(b, g, x, v.Aux.(ReduceAttr)), x.Type.Shape))
	})
}

func gradMean(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		x := v.Args[0]
		n := x.Type.NumElements() / max(1, v.Type.NumElements())
		gk := keepDims(b, must(b.Div(g, konst(b, g, float64(n)))), x, v.Aux.(ReduceAttr))
		return must(b.BroadcastTo(gk, x.Type.Shape))
	})
}

func gradReduceMax(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		x := v.Args[0]
		a := v.Aux.(ReduceAttr)
		mask := must(b.Cast(must(b.Eq(x, keepDims(b, v, x, a))), x.Type.DType))
		count := must(b.Sum(mask, a.Axes, true))
		return must(b.Mul(mask, must(b.Div(keepDims(b, g, x, a), count))))
	})
}

func gradLogSumExp(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		x := v.Args[0]
		a := v.Aux.(ReduceAttr)
		p := must(b.Exp(must(b.Sub(x, keepDims(b, v, x, a)))))
		return must(b.Mul(p, keepDims(b, g, x, a)))
	})
}

func gradMatMul(b *Builder, v, g *Value, need []bool) []*Value {
	x, y := v.Args[0], v.Args[1]
	a := v.Aux.(MatMulAttr)
	mm := func(p, q *Value, ta, tb bool) *Value {
		return must(b.MatMul(p, q, MatMulAttr{TransposeA: ta, TransposeB: tb}))
	}
	out := make([]*Value, 2)
	if need[0] {
		var dx *Value
		switch {
		case !a.TransposeA && !a.TransposeB: // C = AB: dA = G Bᵀ
			dx = mm(g, y, false, true)
		case !a.TransposeA && a.TransposeB: // C = ABᵀ: dA = G B
			dx = mm(g, y, false, false)
		case a.TransposeA && !a.TransposeB: // C = AᵀB: dA = B Gᵀ
			dx = mm(y, g, false, true)
		default: // C = AᵀBᵀ: dA = Bᵀ Gᵀ
			dx = mm(y, g, true, true)
		}
		out[0] = unbroadcast(b, dx, x)
	}
	if need[1] {
		var dy *Value
		switch {
		case !a.TransposeA && !a.TransposeB: // dB = Aᵀ G
			dy = mm(x, g, true, false)
		case !a.TransposeA && a.TransposeB: // dB = Gᵀ A
			dy = mm(g, x, true, false)
		case a.TransposeA && !a.TransposeB: // dB = A G
			dy = mm(x, g, false, false)
		default: // dB = Gᵀ Aᵀ
			dy = mm(g, x, true, true)
		}
		out[1] = unbroadcast(b, dy, y)
	}
	return out
}

func gradConv2D(b *Builder, v, g *Value, need []bool) []*Value {
	x, w := v.Args[0], v.Args[1]
	a := v.Aux.(Conv2DAttr)
	out := make([]*Value, 2)
	if need[0] {
		out[0] = must(b.Conv2DBackwardInput(g, w, x.Type.Shape, a))
	}
	if need[1] {
		out[1] = must(b.Conv2DBackwardWeight(x, g, w.Type.Shape, a))
	}
	return out
}

// gradConv2DBackwardInput: z = Jₓᵀdy is bilinear in (dy, w) with
// ⟨z, g⟩ = ⟨dy, conv2d(g, w)⟩ = ⟨w, conv2d_backward_weight(g, dy)⟩.
func gradConv2DBackwardInput(b *Builder, v, g *Value, need []bool) []*Value {
	dy, w := v.Args[0], v.Args[1]
	a := v.Aux.(Conv2DAttr)
	out := make([]*Value, 2)
	if need[0] {
		out[0] = must(b.Conv2D(g, w, a))
	}
	if need[1] {
		out[1] = must(b.Conv2DBackwardWeight(g, dy, w.Type.Shape, a))
	}
	return out
}

// gradConv2DBackwardWeight: ⟨z, g⟩ = ⟨dy, conv2d(x, g)⟩ =
// ⟨x, conv2d_backward_input(dy, g)⟩.
func gradConv2DBackwardWeight(b *Builder, v, g *Value, need []bool) []*Value {
	x, dy := v.Args[0], v.Args[1]
	a := v.Aux.(Conv2DAttr)
	out := make([]*Value, 2)
	if need[0] {
		out[0] = must(b.Conv2DBackwardInput(dy, g, x.Type.Shape, a))
	}
	if need[1] {
		out[1] = must(b.Conv2D(x, g, a))
	}
	return out
}

func gradMaxPool2D(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.MaxPool2DBackward(v.Args[0], g, v.Aux.(Pool2DAttr))) })
}

func gradAvgPool2D(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		return must(b.AvgPool2DBackward(g, v.Args[0].Type.Shape, v.Aux.(Pool2DAttr)))
	})
}

func gradAvgPool2DBackward(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.AvgPool2D(g, v.Aux.(Pool2DAttr))) })
}

func gradReshape(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.Reshape(g, v.Args[0].Type.Shape)) })
}

func gradPermute(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		p := v.Aux.(PermuteAttr).Perm
		inv := make([]int, len(p))
		for i, a := range p {
			inv[a] = i
		}
		return must(b.Permute(g, inv...))
	})
}

func gradBroadcastTo(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.ReduceTo(g, v.Args[0].Type.Shape)) })
}

func gradReduceTo(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.BroadcastTo(g, v.Args[0].Type.Shape)) })
}

func gradSlice(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		return must(b.SliceBackward(g, v.Args[0].Type.Shape, v.Aux.(SliceAttr)))
	})
}

func gradSliceBackward(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value { return must(b.Slice(g, v.Aux.(SliceAttr))) })
}

func gradConcat(b *Builder, v, g *Value, need []bool) []*Value {
	axis := v.Aux.(AxisAttr).Axis
	out := make([]*Value, len(v.Args))
	off := 0
	for i, x := range v.Args {
		n := x.Type.Shape[axis]
		if need[i] {
			a := sliceDefaults(SliceAttr{}, g.Type.Shape)
			a.Start[axis], a.Stop[axis] = off, off+n
			out[i] = must(b.Slice(g, a))
		}
		off += n
	}
	return out
}

func gradGather(b *Builder, v, g *Value, need []bool) []*Value {
	table, ids := v.Args[0], v.Args[1]
	if !need[0] {
		return []*Value{nil, nil}
	}
	return []*Value{must(b.ScatterAdd(ids, g, table.Type.Shape)), nil}
}

func gradScatterAdd(b *Builder, v, g *Value, need []bool) []*Value {
	if !need[1] {
		return []*Value{nil, nil}
	}
	return []*Value{nil, must(b.Gather(g, v.Args[0]))}
}

func gradSoftmax(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		axis := v.Aux.(AxisAttr).Axis
		s := must(b.Sum(must(b.Mul(g, v)), []int{axis}, true))
		return must(b.Mul(v, must(b.Sub(g, s))))
	})
}

func gradLogSoftmax(b *Builder, v, g *Value, need []bool) []*Value {
	return unary(need, func() *Value {
		axis := v.Aux.(AxisAttr).Axis
		s := must(b.Sum(g, []int{axis}, true))
		return must(b.Sub(g, must(b.Mul(must(b.Exp(v)), s))))
	})
}

func gradLayerNorm(b *Builder, v, g *Value, need []bool) []*Value {
	x, w, bias := v.Args[0], v.Args[1], v.Args[2]
	eps := v.Aux.(LayerNormAttr).Eps
	out := make([]*Value, 3)
	if need[0] {
		out[0] = must(b.LayerNormBackwardInput(x, w, g, eps))
	}
	if need[1] {
		out[1] = must(b.LayerNormBackwardWeight(x, g, eps))
	}
	if need[2] {
		out[2] = unbroadcast(b, g, bias)
	}
	return out
}

func gradSoftmaxCrossEntropy(b *Builder, v, g *Value, need []bool) []*Value {
	if !need[0] {
		return []*Value{nil, nil}
	}
	ls := v.Aux.(CrossEntropyAttr).LabelSmoothing
	return []*Value{must(b.SoftmaxCrossEntropyBackward(v.Args[0], v.Args[1], g, ls)), nil}
}

// gradDropout applies the same mask to g: it depends only on seed, step
// and the element index.
func gradDropout(b *Builder, v, g *Value, need []bool) []*Value {
	if !need[0] {
		return []*Value{nil, nil, nil}
	}
	return []*Value{must(b.Dropout(g, v.Args[1], v.Args[2], v.Aux.(DropoutAttr).P)), nil, nil}
}

// Grad appends to g the reverse-mode gradient of the scalar loss with
// respect to each value in wrt and returns it by value. Backward ops are
// built only for values on a path from some wrt value to loss, so
// parameters not in wrt (frozen ones) get no gradient and no backward op
// that only they would need. A wrt value that does not reach loss gets a
// zero gradient. Gradients do not flow through integer values nor through
// ops with a zero gradient (comparisons, argmax); reaching an op with no
// VJP rule is an error.
func Grad(g *Graph, loss *Value, wrt []*Value) (grads map[*Value]*Value, err error) {
	if !loss.Type.DType.IsFloat() || loss.Type.Rank() != 0 {
		return nil, fmt.Errorf("grad: loss %v is not a float scalar", loss.Type)
	}
	index := make(map[*Value]int, len(g.Values))
	for i, v := range g.Values {
		index[v] = i
	}
	if _, ok := index[loss]; !ok {
		return nil, fmt.Errorf("grad: loss %s is not in the graph", loss.Ref())
	}
	// Values that depend on some wrt value…
	dep := make(map[*Value]bool)
	for _, w := range wrt {
		if _, ok := index[w]; !ok {
			return nil, fmt.Errorf("grad: %s is not in the graph", w.Ref())
		}
		if !w.Type.DType.IsFloat() {
			return nil, fmt.Errorf("grad: cannot differentiate with respect to %v", w)
		}
		dep[w] = true
	}
	for _, v := range g.Values[:index[loss]+1] {
		if !v.Op.HasZeroGrad() && v.Type.DType.IsFloat() && slices.ContainsFunc(v.Args, func(a *Value) bool { return dep[a] }) {
			dep[v] = true
		}
	}
	// …and on which loss depends.
	live := map[*Value]bool{loss: true}
	for i := index[loss]; i >= 0; i-- {
		if v := g.Values[i]; live[v] {
			for _, a := range v.Args {
				live[a] = true
			}
		}
	}
	active := func(v *Value) bool { return dep[v] && live[v] }

	defer func() {
		if r := recover(); r != nil {
			p, ok := r.(gradPanic)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("internal error in autodiff: %v", p.err)
		}
	}()
	b := NewBuilder(g)
	adj := make(map[*Value]*Value)
	// The slice_backward contributions of a value sliced more than once
	// wait in pending until the value is reached, and are then joined
	// (gradjoin.go).
	sliced := sliceUses(g.Values[:index[loss]+1])
	pending := make(map[*Value][]*Value)
	flush := func(v *Value) {
		ds := pending[v]
		if len(ds) == 0 {
			return
		}
		delete(pending, v)
		for _, d := range joinSlices(b, ds) {
			if prev := adj[v]; prev != nil {
				d = must(b.Add(prev, d))
			}
			adj[v] = d
		}
	}
	if active(loss) {
		b.Pos = loss.Pos
		adj[loss] = must(b.Fill(loss.Type, 1))
	}
	// Walk the forward values backwards; values appended by the walk are
	// past the end and never visited.
	for i := index[loss]; i >= 0; i-- {
		v := g.Values[i]
		b.Pos = v.Pos
		flush(v)
		gv := adj[v]
		if gv == nil || v.Op.IsLeaf() {
			continue
		}
		rule := opInfo[v.Op].grad
		if rule == nil {
			return nil, fmt.Errorf("grad: %s has no VJP rule (value %s)", v.Op, v.Ref())
		}
		need := make([]bool, len(v.Args))
		for j, a := range v.Args {
			need[j] = active(a)
		}
		b.Pos = v.Pos
		for j, d := range rule(b, v, gv, need) {
			if d == nil || !need[j] {
				continue
			}
			a := v.Args[j]
			if !d.Type.Equal(a.Type) {
				panic(gradPanic{fmt.Errorf("VJP of %s gives %v for operand %v", v.Op, d.Type, a.Type)})
			}
			if _, ok := joinAxis(d); ok && sliced[a] > 1 {
				pending[a] = append(pending[a], d)
				continue
			}
			if prev := adj[a]; prev != nil {
				d = must(b.Add(prev, d))
			}
			adj[a] = d
		}
	}
	grads = make(map[*Value]*Value, len(wrt))
	for _, w := range wrt {
		flush(w)
		if d := adj[w]; d != nil {
			grads[w] = d
		} else {
			b.Pos = w.Pos
			grads[w] = must(b.Fill(w.Type, 0))
		}
	}
	return grads, nil
}
