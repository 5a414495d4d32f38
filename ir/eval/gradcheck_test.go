package eval

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// An inKind says how the values of a gradient-check input are drawn.
type inKind int

const (
	normal   inKind = iota // N(0,1)
	positive               // in [0.5, 2)
	awayZero               // |x| in [0.2, 1.2), either sign: no kink of relu, abs, max…
	ids                    // integers in [0, hi)
	scalarOf               // the scalar hi
)

// An in declares one input of a gradient check. Float inputs of kind
// normal, positive or awayZero are differentiated; the rest are data.
type in struct {
	t    ir.Type
	kind inKind
	hi   int
}

func must1(v *ir.Value, err error) *ir.Value {
	if err != nil {
		panic(err)
	}
	return v
}

func f32(dims ...int) ir.Type { return ir.TensorOf(ir.F32, dims...) }

// A gradCase checks the VJP of op (and whatever else build uses) by
// central finite differences.
type gradCase struct {
	op    ir.Op
	name  string
	ins   func(r *rand.Rand) []in
	build func(b *ir.Builder, x []*ir.Value) (*ir.Value, error)
}

// dim draws a random dimension in [lo, lo+3).
func dim(r *rand.Rand, lo int) int { return lo + r.Intn(3) }

// same returns n inputs of one random shape and kind.
func same(n int, kind inKind) func(r *rand.Rand) []in {
	return func(r *rand.Rand) []in {
		t := f32(dim(r, 1), dim(r, 2))
		out := make([]in, n)
		for i := range out {
			out[i] = in{t: t, kind: kind}
		}
		return out
	}
}

// fixed returns the given inputs.
func fixed(ins ...in) func(*rand.Rand) []in { return func(*rand.Rand) []in { return ins } }

func un(f func(b *ir.Builder, x *ir.Value) (*ir.Value, error)) func(*ir.Builder, []*ir.Value) (*ir.Value, error) {
	return func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return f(b, x[0]) }
}

func bin(f func(b *ir.Builder, x, y *ir.Value) (*ir.Value, error)) func(*ir.Builder, []*ir.Value) (*ir.Value, error) {
	return func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return f(b, x[0], x[1]) }
}

// binaryCases returns the shape variants of a broadcasting binary op:
// equal shapes, broadcasting on both sides, and a scalar operand.
func binaryCases(op ir.Op, kx, ky inKind, f func(b *ir.Builder, x, y *ir.Value) (*ir.Value, error)) []gradCase {
	return []gradCase{
		{op, "same", func(r *rand.Rand) []in {
			t := f32(dim(r, 1), dim(r, 2))
			return []in{{t: t, kind: kx}, {t: t, kind: ky}}
		}, bin(f)},
		{op, "broadcast", func(r *rand.Rand) []in {
			a, b, c := dim(r, 2), dim(r, 2), dim(r, 2)
			return []in{{t: f32(a, 1, c), kind: kx}, {t: f32(b, 1), kind: ky}}
		}, bin(f)},
		{op, "scalar", func(r *rand.Rand) []in {
			return []in{{t: ir.Scalar(ir.F32), kind: kx}, {t: f32(dim(r, 2), dim(r, 1)), kind: ky}}
		}, bin(f)},
	}
}

func reduceCases(op ir.Op, f func(b *ir.Builder, x *ir.Value, axes []int, keep bool) (*ir.Value, error)) []gradCase {
	shape := func(r *rand.Rand) []in { return []in{{t: f32(dim(r, 2), dim(r, 1), dim(r, 2))}} }
	return []gradCase{
		{op, "axis1keep", shape, un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return f(b, x, []int{1}, true) })},
		{op, "axes02", shape, un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return f(b, x, []int{0, -1}, false) })},
		{op, "all", shape, un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return f(b, x, nil, false) })},
	}
}

var (
	conv = ir.Conv2DAttr{Stride: [2]int{2, 1}, Padding: [2]int{1, 2}, Dilation: [2]int{1, 2}}
	pool = []ir.Pool2DAttr{
		{Kernel: [2]int{2, 2}},
		{Kernel: [2]int{3, 2}, Stride: [2]int{1, 2}, Padding: [2]int{1, 1}},
	}
)

func gradCases() []gradCase {
	var cs []gradCase
	add := func(c ...gradCase) { cs = append(cs, c...) }
	u := func(op ir.Op, kind inKind, f func(b *ir.Builder, x *ir.Value) (*ir.Value, error)) {
		add(gradCase{op, "", same(1, kind), un(f)})
	}
	u(ir.OpNeg, normal, (*ir.Builder).Neg)
	u(ir.OpExp, normal, (*ir.Builder).Exp)
	u(ir.OpLog, positive, (*ir.Builder).Log)
	u(ir.OpSqrt, positive, (*ir.Builder).Sqrt)
	u(ir.OpRsqrt, positive, (*ir.Builder).Rsqrt)
	u(ir.OpTanh, normal, (*ir.Builder).Tanh)
	u(ir.OpSigmoid, normal, (*ir.Builder).Sigmoid)
	u(ir.OpRelu, awayZero, (*ir.Builder).Relu)
	u(ir.OpGelu, normal, func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Gelu(x, false) })
	u(ir.OpGelu, normal, func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Gelu(x, true) })
	for _, a := range []struct {
		beta, threshold float64
		kind            inKind
	}{{1, 20, normal}, {2.5, 20, normal}, {-1.5, 20, normal}, {1, 0.25, positive}} {
		add(gradCase{ir.OpSoftplus, fmt.Sprintf("beta=%g,threshold=%g", a.beta, a.threshold), same(1, a.kind),
			un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) {
				return b.Op(ir.OpSoftplus, ir.Type{}, ir.SoftplusAttr{Beta: a.beta, Threshold: a.threshold}, x)
			})})
	}
	for _, alpha := range []float64{1, 0.3, 0} {
		add(gradCase{ir.OpElu, fmt.Sprint("alpha=", alpha), same(1, awayZero),
			un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) {
				return b.Op(ir.OpElu, ir.Type{}, ir.EluAttr{Alpha: alpha}, x)
			})})
	}
	u(ir.OpErf, normal, (*ir.Builder).Erf)
	u(ir.OpAbs, awayZero, (*ir.Builder).Abs)
	u(ir.OpCast, normal, func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Cast(x, ir.F64) })

	add(binaryCases(ir.OpAdd, normal, normal, (*ir.Builder).Add)...)
	add(binaryCases(ir.OpSub, normal, normal, (*ir.Builder).Sub)...)
	add(binaryCases(ir.OpMul, normal, normal, (*ir.Builder).Mul)...)
	add(binaryCases(ir.OpDiv, normal, awayZero, (*ir.Builder).Div)...)
	add(binaryCases(ir.OpMax, awayZero, normal, (*ir.Builder).Max)...)
	add(binaryCases(ir.OpMin, awayZero, normal, (*ir.Builder).Min)...)
	add(binaryCases(ir.OpPow, positive, normal, (*ir.Builder).Pow)...)
	add(gradCase{ir.OpWhere, "broadcast", func(r *rand.Rand) []in {
		a, b := dim(r, 2), dim(r, 2)
		// cond is computed from a data input so that it is bool.
		return []in{{t: f32(a, b), kind: ids, hi: 2}, {t: f32(a, 1)}, {t: f32(b)}}
	}, func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
		half, _ := b.Const(ir.F32, 0.5)
		c, err := b.Gt(x[0], half)
		if err != nil {
			return nil, err
		}
		return b.Where(c, x[1], x[2])
	}})

	add(reduceCases(ir.OpSum, (*ir.Builder).Sum)...)
	add(reduceCases(ir.OpMean, (*ir.Builder).Mean)...)
	add(reduceCases(ir.OpReduceMax, (*ir.Builder).ReduceMax)...)
	add(reduceCases(ir.OpLogSumExp, (*ir.Builder).LogSumExp)...)

	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			a := ir.MatMulAttr{TransposeA: ta, TransposeB: tb}
			add(gradCase{ir.OpMatMul, fmt.Sprintf("t%v%v", ta, tb), func(r *rand.Rand) []in {
				m, k, n := dim(r, 1), dim(r, 2), dim(r, 1)
				xs, ys := []int{m, k}, []int{k, n}
				if ta {
					xs = []int{k, m}
				}
				if tb {
					ys = []int{n, k}
				}
				return []in{{t: f32(xs...)}, {t: f32(ys...)}}
			}, bin(func(b *ir.Builder, x, y *ir.Value) (*ir.Value, error) { return b.MatMul(x, y, a) })})
		}
	}
	add(gradCase{ir.OpMatMul, "batch-broadcast", func(r *rand.Rand) []in {
		m, k, n := dim(r, 1), dim(r, 2), dim(r, 1)
		return []in{{t: f32(2, 1, m, k)}, {t: f32(3, n, k)}}
	}, bin(func(b *ir.Builder, x, y *ir.Value) (*ir.Value, error) {
		return b.MatMul(x, y, ir.MatMulAttr{TransposeB: true})
	})})

	add(gradCase{ir.OpConv2D, "strided", func(r *rand.Rand) []in {
		return []in{{t: f32(2, 2, dim(r, 4), dim(r, 5))}, {t: f32(3, 2, 2, 2)}}
	}, bin(func(b *ir.Builder, x, w *ir.Value) (*ir.Value, error) { return b.Conv2D(x, w, conv) })})
	add(gradCase{ir.OpConv2D, "plain", fixed(in{t: f32(1, 3, 5, 4)}, in{t: f32(2, 3, 3, 3)}),
		bin(func(b *ir.Builder, x, w *ir.Value) (*ir.Value, error) { return b.Conv2D(x, w, ir.Conv2DAttr{}) })})
	// x [2,2,5,6] with conv gives dy [2,3,3,8].
	add(gradCase{ir.OpConv2DBackwardInput, "", fixed(in{t: f32(2, 3, 3, 8)}, in{t: f32(3, 2, 2, 2)}),
		bin(func(b *ir.Builder, dy, w *ir.Value) (*ir.Value, error) {
			return b.Conv2DBackwardInput(dy, w, ir.Shape{2, 2, 5, 6}, conv)
		})})
	add(gradCase{ir.OpConv2DBackwardWeight, "", fixed(in{t: f32(2, 2, 5, 6)}, in{t: f32(2, 3, 3, 8)}),
		bin(func(b *ir.Builder, x, dy *ir.Value) (*ir.Value, error) {
			return b.Conv2DBackwardWeight(x, dy, ir.Shape{3, 2, 2, 2}, conv)
		})})
	// Grouped: 4 input channels in 2 groups, 6 outputs; depthwise: 3
	// channels in 3 groups, 2 outputs each.
	grouped := conv
	grouped.Groups = 2
	depthwise := ir.Conv2DAttr{Padding: [2]int{1, 1}, Groups: 3}
	add(gradCase{ir.OpConv2D, "grouped", func(r *rand.Rand) []in {
		return []in{{t: f32(2, 4, dim(r, 4), dim(r, 5))}, {t: f32(6, 2, 2, 2)}}
	}, bin(func(b *ir.Builder, x, w *ir.Value) (*ir.Value, error) { return b.Conv2D(x, w, grouped) })})
	add(gradCase{ir.OpConv2D, "depthwise", fixed(in{t: f32(2, 3, 4, 5)}, in{t: f32(6, 1, 3, 3)}),
		bin(func(b *ir.Builder, x, w *ir.Value) (*ir.Value, error) { return b.Conv2D(x, w, depthwise) })})
	// x [2,4,5,6] with grouped gives dy [2,6,3,8].
	add(gradCase{ir.OpConv2DBackwardInput, "grouped", fixed(in{t: f32(2, 6, 3, 8)}, in{t: f32(6, 2, 2, 2)}),
		bin(func(b *ir.Builder, dy, w *ir.Value) (*ir.Value, error) {
			return b.Conv2DBackwardInput(dy, w, ir.Shape{2, 4, 5, 6}, grouped)
		})})
	add(gradCase{ir.OpConv2DBackwardWeight, "grouped", fixed(in{t: f32(2, 4, 5, 6)}, in{t: f32(2, 6, 3, 8)}),
		bin(func(b *ir.Builder, x, dy *ir.Value) (*ir.Value, error) {
			return b.Conv2DBackwardWeight(x, dy, ir.Shape{6, 2, 2, 2}, grouped)
		})})
	for i, p := range pool {
		shape := func(r *rand.Rand) []in { return []in{{t: f32(2, 2, dim(r, 4), dim(r, 4))}} }
		add(gradCase{ir.OpMaxPool2D, fmt.Sprint(i), shape, un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.MaxPool2D(x, p) })})
		add(gradCase{ir.OpAvgPool2D, fmt.Sprint(i), shape, un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.AvgPool2D(x, p) })})
	}
	// x [1,2,5,4] with pool[1] gives [1,2,5,3].
	add(gradCase{ir.OpAvgPool2DBackward, "", fixed(in{t: f32(1, 2, 5, 3)}),
		un(func(b *ir.Builder, dy *ir.Value) (*ir.Value, error) {
			return b.AvgPool2DBackward(dy, ir.Shape{1, 2, 5, 4}, pool[1])
		})})

	add(gradCase{ir.OpReshape, "", fixed(in{t: f32(2, 3, 2)}),
		un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Reshape(x, ir.Shape{3, 4}) })})
	add(gradCase{ir.OpPermute, "", fixed(in{t: f32(2, 3, 4)}),
		un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Permute(x, 2, 0, 1) })})
	add(gradCase{ir.OpBroadcastTo, "", fixed(in{t: f32(3, 1)}),
		un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.BroadcastTo(x, ir.Shape{2, 3, 4}) })})
	add(gradCase{ir.OpReduceTo, "", fixed(in{t: f32(2, 3, 4)}),
		un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.ReduceTo(x, ir.Shape{3, 1}) })})
	sl := ir.SliceAttr{Start: []int{1, 0}, Stop: []int{4, 5}, Step: []int{2, 3}}
	add(gradCase{ir.OpSlice, "", fixed(in{t: f32(5, 6)}),
		un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Slice(x, sl) })})
	// Several slices of one value: Grad joins their slice_backwards
	// (ir/gradjoin.go) when the windows are disjoint along one axis,
	// whether they cover it (steps), leave gaps (gaps) or are along
	// different axes (axes), and adds them when they overlap (overlap).
	windows := func(ws ...[4]int) func(*ir.Builder, []*ir.Value) (*ir.Value, error) {
		return func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
			var out *ir.Value
			for i, w := range ws { // w: axis, start, stop, scale
				a := ir.SliceAttr{Start: []int{0, 0, 0}, Stop: x[0].Type.Shape.Clone()}
				a.Start[w[0]], a.Stop[w[0]] = w[1], w[2]
				s, err := b.Slice(x[0], a)
				if err != nil {
					return nil, err
				}
				if i%2 == 1 {
					s, _ = b.Tanh(s)
				}
				r, _ := b.Mul(s, must1(b.Const(ir.F32, float64(w[3]))))
				r, _ = b.Sum(r, []int{w[0]}, false)
				if out == nil {
					out = r
				} else if out, err = b.Add(out, r); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
	}
	add(gradCase{ir.OpSlice, "steps", fixed(in{t: f32(2, 4, 3)}), windows([4]int{1, 0, 1, 1}, [4]int{1, 1, 2, 2}, [4]int{1, 2, 3, 3}, [4]int{1, 3, 4, 4})})
	add(gradCase{ir.OpSlice, "gaps", fixed(in{t: f32(2, 6, 3)}), windows([4]int{1, 4, 5, 1}, [4]int{1, 1, 3, 2}, [4]int{1, 3, 4, 3})})
	add(gradCase{ir.OpSlice, "axes", fixed(in{t: f32(2, 4, 4)}), windows([4]int{2, 0, 2, 1}, [4]int{1, 0, 3, 2}, [4]int{2, 2, 4, 3}, [4]int{1, 3, 4, 4})})
	add(gradCase{ir.OpSlice, "overlap", fixed(in{t: f32(2, 5, 3)}), windows([4]int{1, 0, 3, 1}, [4]int{1, 2, 5, 2})})
	add(gradCase{ir.OpSliceBackward, "", fixed(in{t: f32(2, 2)}),
		un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.SliceBackward(x, ir.Shape{5, 6}, sl) })})
	add(gradCase{ir.OpConcat, "", fixed(in{t: f32(2, 1, 3)}, in{t: f32(2, 2, 3)}, in{t: f32(2, 1, 3)}),
		func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Concat(1, x...) }})
	add(gradCase{ir.OpGather, "", fixed(in{t: f32(4, 3)}, in{t: ir.TensorOf(ir.I64, 2, 3), kind: ids, hi: 4}),
		bin((*ir.Builder).Gather)})
	add(gradCase{ir.OpScatterAdd, "", fixed(in{t: ir.TensorOf(ir.I32, 5), kind: ids, hi: 3}, in{t: f32(5, 2)}),
		bin(func(b *ir.Builder, i, u *ir.Value) (*ir.Value, error) { return b.ScatterAdd(i, u, ir.Shape{3, 2}) })})

	for _, axis := range []int{0, -1} {
		add(gradCase{ir.OpSoftmax, fmt.Sprint(axis), same(1, normal),
			un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.Softmax(x, axis) })})
		add(gradCase{ir.OpLogSoftmax, fmt.Sprint(axis), same(1, normal),
			un(func(b *ir.Builder, x *ir.Value) (*ir.Value, error) { return b.LogSoftmax(x, axis) })})
	}
	add(gradCase{ir.OpLayerNorm, "", func(r *rand.Rand) []in {
		d := dim(r, 2)
		return []in{{t: f32(2, dim(r, 1), d)}, {t: f32(d)}, {t: f32(d)}}
	}, func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.LayerNorm(x[0], x[1], x[2], 1e-5) }})
	for _, ls := range []float64{0, 0.1} {
		add(gradCase{ir.OpSoftmaxCrossEntropy, fmt.Sprint(ls), func(r *rand.Rand) []in {
			n, c := dim(r, 2), dim(r, 2)
			return []in{{t: f32(n, c)}, {t: ir.TensorOf(ir.I64, n), kind: ids, hi: c}}
		}, bin(func(b *ir.Builder, x, y *ir.Value) (*ir.Value, error) { return b.SoftmaxCrossEntropy(x, y, ls) })})
	}
	for _, bthd := range []bool{false, true} {
		for _, masked := range []bool{false, true} {
			add(gradCase{ir.OpAttention, fmt.Sprint("bthd=", bthd, ",masked=", masked), func(r *rand.Rand) []in {
				b, h, tq, tk, dh, dv := 2, dim(r, 1), dim(r, 1), dim(r, 2), dim(r, 1), dim(r, 1)
				ins := []in{{t: f32(b, h, tq, dh)}, {t: f32(b, h, tk, dh)}, {t: f32(b, h, tk, dv)}}
				if bthd {
					ins = []in{{t: f32(b, tq, h, dh)}, {t: f32(b, tk, h, dh)}, {t: f32(b, tk, h, dv)}}
				}
				if masked {
					ins = append(ins, in{t: ir.TensorOf(ir.Bool, b, tk), kind: ids, hi: 2})
				}
				return ins
			}, func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
				var m *ir.Value
				if len(x) == 4 {
					m = x[3]
				}
				if bthd {
					return b.AttentionBTHD(x[0], x[1], x[2], m, 0.7)
				}
				return b.Attention(x[0], x[1], x[2], m, 0.7)
			}})
		}
	}
	add(gradCase{ir.OpDropout, "", fixed(in{t: f32(4, 5)}, in{t: ir.Scalar(ir.I64), kind: scalarOf, hi: 42}, in{t: ir.Scalar(ir.I64), kind: scalarOf, hi: 3}),
		func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Dropout(x[0], x[1], x[2], 0.3) }})
	return cs
}

// noGradCheck lists the ops without a gradient check, and why.
var noGradCheck = map[ir.Op]string{
	ir.OpInput:      "leaf",
	ir.OpFill:       "constant",
	ir.OpIota:       "constant",
	ir.OpLiteral:    "constant",
	ir.OpSign:       "zero gradient",
	ir.OpEq:         "zero gradient",
	ir.OpNe:         "zero gradient",
	ir.OpLt:         "zero gradient",
	ir.OpLe:         "zero gradient",
	ir.OpGt:         "zero gradient",
	ir.OpGe:         "zero gradient",
	ir.OpArgMax:     "zero gradient",
	ir.OpFused:      "fused after autodiff: no VJP",
	ir.OpMatMulBias: "fused after autodiff: no VJP",
	ir.OpOneHot:     "zero gradient",

	ir.OpFakeQuantMask: "zero gradient",
	ir.OpFakeQuant:     "straight-through estimator: finite differences see a staircase (zero almost everywhere), the VJP passes dy inside the range by definition; checked by TestFakeQuantSTE and against PyTorch's backward (runtime/train TestFakeQuantTorch)",

	ir.OpMaxPool2DBackward:           "backward op, checked through maxpool2d",
	ir.OpReluBackward:                "backward op, checked through relu",
	ir.OpGeluBackward:                "backward op, checked through gelu",
	ir.OpLayerNormBackwardInput:      "backward op, checked through layernorm",
	ir.OpAttentionBackward:           "backward op, checked through attention",
	ir.OpAttentionBackwardProduct:    "backward op, checked through attention",
	ir.OpLayerNormBackwardWeight:     "backward op, checked through layernorm",
	ir.OpSoftmaxCrossEntropyBackward: "backward op, checked through softmax_cross_entropy",
	ir.OpSGD:                         "optimizer update, checked against PyTorch's formulas",
	ir.OpSGDMomentum:                 "optimizer update, checked against PyTorch's formulas",
	ir.OpEMA:                         "optimizer update, checked against PyTorch's formulas",
	ir.OpEMASq:                       "optimizer update, checked against PyTorch's formulas",
	ir.OpAdam:                        "optimizer update, checked against PyTorch's formulas",
	ir.OpRMSprop:                     "optimizer update, checked against PyTorch's formulas",
}

// TestEveryOpHasGradCheck fails when an op is added to the table without
// a gradient check or a stated reason to have none.
func TestEveryOpHasGradCheck(t *testing.T) {
	covered := map[ir.Op]bool{}
	for _, c := range gradCases() {
		covered[c.op] = true
	}
	for _, op := range ir.Ops() {
		why, excused := noGradCheck[op]
		switch {
		case covered[op] && excused:
			t.Errorf("%v has a gradient check and is excused (%s)", op, why)
		case !covered[op] && !excused:
			t.Errorf("%v has no gradient check: add one to gradCases", op)
		case excused && op.HasVJP() && !strings.HasPrefix(why, "straight-through"):
			t.Errorf("%v has a VJP rule, so it needs a gradient check, not %q", op, why)
		case excused && !op.HasZeroGrad() && !op.IsInPlace() && !op.IsLeaf() && !op.IsFused() && why[:8] != "backward" && !strings.HasPrefix(why, "straight-through"):
			t.Errorf("%v: excused as %q", op, why)
		}
	}
}

func seedOf(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64() >> 1)
}

// draw fills a tensor of type t by kind.
func draw(r *rand.Rand, x in) *Tensor {
	t := Zeros(x.t)
	for i := range t.F {
		switch x.kind {
		case normal:
			t.F[i] = r.NormFloat64()
		case positive:
			t.F[i] = 0.5 + 1.5*r.Float64()
		case awayZero:
			t.F[i] = (0.2 + r.Float64()) * float64(1-2*r.Intn(2))
		case ids:
			t.F[i] = float64(r.Intn(x.hi))
		case scalarOf:
			t.F[i] = float64(x.hi)
		}
	}
	return t
}

func differentiable(x in) bool { return x.t.DType.IsFloat() && x.kind <= awayZero }

func TestGradCheck(t *testing.T) {
	for _, c := range gradCases() {
		name := c.op.String()
		if c.name != "" {
			name += "/" + c.name
		}
		t.Run(name, func(t *testing.T) {
			for trial := range 2 {
				r := rand.New(rand.NewSource(seedOf(name) + int64(trial)))
				gradCheck(t, r, c)
			}
		})
	}
}

func gradCheck(t *testing.T, r *rand.Rand, c gradCase) {
	t.Helper()
	g := ir.NewGraph()
	b := ir.NewBuilder(g)
	specs := c.ins(r)
	var args, wrt []*ir.Value
	feed := map[string]*Tensor{}
	for i, s := range specs {
		role := ir.RoleData
		if differentiable(s) {
			role = ir.RoleParam
		}
		name := fmt.Sprintf("x%d", i)
		v, err := b.Input(name, role, s.t)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, v)
		if role == ir.RoleParam {
			wrt = append(wrt, v)
		}
		feed[name] = draw(r, s)
	}
	y, err := c.build(b, args)
	if err != nil {
		t.Fatal(err)
	}
	// loss = Σ y·R for a fixed random R, so every element of y matters.
	weights := make([]float64, y.Type.NumElements())
	for i := range weights {
		weights[i] = r.NormFloat64()
	}
	rw, err := b.Literal(y.Type, weights)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := b.Mul(y, rw)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := b.Sum(prod, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	g.AddOutput("loss", loss)
	grads, err := ir.Grad(g, loss, wrt)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wrt {
		g.AddOutput("grad:"+w.Name, grads[w])
	}
	if err := ir.Verify(g); err != nil {
		t.Fatalf("%v\n%s", err, g)
	}
	text := g.String()
	g2, err := ir.Parse("gradcheck.ir", []byte(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	if g2.String() != text {
		t.Fatalf("text round trip differs:\n%s\nvs\n%s", text, g2)
	}
	res, err := Run(g, feed)
	if err != nil {
		t.Fatal(err)
	}
	lossAt := func() float64 {
		res, err := Run(g, feed)
		if err != nil {
			t.Fatal(err)
		}
		return res.Outputs["loss"].F[0]
	}
	const h = 1e-6
	for _, w := range wrt {
		x := feed[w.Name].F
		got := res.Outputs["grad:"+w.Name].F
		for _, i := range sample(r, len(x), 24) {
			old := x[i]
			x[i] = old + h
			lp := lossAt()
			x[i] = old - h
			lm := lossAt()
			x[i] = old
			want := (lp - lm) / (2 * h)
			if d := math.Abs(got[i] - want); d > 1e-6*(1+math.Abs(want)) || math.IsNaN(got[i]) {
				t.Errorf("d loss/d %s[%d] = %.10g, finite differences give %.10g\n%s", w.Name, i, got[i], want, g)
				return
			}
		}
	}
}

// sample returns up to k distinct indices below n.
func sample(r *rand.Rand, n, k int) []int {
	p := r.Perm(n)
	return p[:min(n, k)]
}
