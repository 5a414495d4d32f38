// This file implements the fold pass and the scalar semantics of the
// elementwise ops that it needs.

package ir

import "math"

// fold replaces values computed from constants alone by constants: an
// elementwise op whose operands are all fills becomes a fill, as do
// reshape, broadcast_to, cast and the sum, mean and max of a fill.
func fold(g *Graph) error {
	return rewrite(g, func(b *Builder, v *Value) (*Value, error) {
		if !v.Op.IsPure() || v.Op.IsLeaf() || len(v.Args) == 0 {
			return nil, nil
		}
		xs := make([]float64, len(v.Args))
		for i, a := range v.Args {
			c, ok := fillValue(a)
			if !ok {
				return nil, nil
			}
			xs[i] = c
		}
		c, ok := foldScalar(v, xs)
		if !ok {
			return nil, nil
		}
		return b.Fill(v.Type, c)
	})
}

// foldScalar computes v over constant operands xs, if it knows how.
func foldScalar(v *Value, xs []float64) (float64, bool) {
	switch {
	case v.Op.IsElementwise():
		return EvalScalar(v.Op, v.Aux, v.Type.DType, xs)
	case v.Op == OpReshape || v.Op == OpBroadcastTo || v.Op == OpPermute:
		return xs[0], true
	case v.Op == OpMean || v.Op == OpReduceMax:
		return xs[0], true
	case v.Op == OpSum || v.Op == OpReduceTo:
		// Summing n equal values: n·c is what eval's sequential sum gives
		// only when it is exact, so fold only small integer counts of
		// exactly representable sums.
		n := float64(v.Args[0].Type.NumElements() / max(1, v.Type.NumElements()))
		s := n * xs[0]
		if xs[0] == 0 || (s == math.Trunc(s) && math.Abs(s) < 1<<53 && xs[0] == math.Trunc(xs[0])) {
			return s, true
		}
	}
	return 0, false
}

// EvalScalar applies the elementwise op with attributes aux to scalar
// operands, giving a result of dtype d, with the reference evaluator's
// semantics: every dtype is held in a float64, integer division and
// casts to integers truncate, comparisons give 0 or 1.
func EvalScalar(op Op, aux any, d DType, xs []float64) (float64, bool) {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	x := xs[0]
	var y float64
	if len(xs) > 1 {
		y = xs[1]
	}
	switch op {
	case OpNeg:
		return -x, true
	case OpExp:
		return math.Exp(x), true
	case OpLog:
		return math.Log(x), true
	case OpSqrt:
		return math.Sqrt(x), true
	case OpRsqrt:
		return 1 / math.Sqrt(x), true
	case OpTanh:
		return math.Tanh(x), true
	case OpSigmoid:
		return 1 / (1 + math.Exp(-x)), true
	case OpRelu:
		return max(x, 0), true
	case OpGelu:
		if aux.(GeluAttr).Approximate {
			k := math.Sqrt(2 / math.Pi)
			return 0.5 * x * (1 + math.Tanh(k*(x+0.044715*x*x*x))), true
		}
		return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)), true
	case OpErf:
		return math.Erf(x), true
	case OpAbs:
		return math.Abs(x), true
	case OpSign:
		switch {
		case x > 0:
			return 1, true
		case x < 0:
			return -1, true
		}
		return x, true
	case OpCast:
		switch {
		case d == Bool:
			return b2f(x != 0), true
		case d.IsInt():
			return math.Trunc(x), true
		}
		return x, true
	case OpAdd:
		return x + y, true
	case OpSub:
		return x - y, true
	case OpMul:
		return x * y, true
	case OpDiv:
		if d.IsInt() {
			if y == 0 {
				return 0, false
			}
			return math.Trunc(x / y), true
		}
		return x / y, true
	case OpMax:
		return math.Max(x, y), true
	case OpMin:
		return math.Min(x, y), true
	case OpPow:
		return math.Pow(x, y), true
	case OpEq:
		return b2f(x == y), true
	case OpNe:
		return b2f(x != y), true
	case OpLt:
		return b2f(x < y), true
	case OpLe:
		return b2f(x <= y), true
	case OpGt:
		return b2f(x > y), true
	case OpGe:
		return b2f(x >= y), true
	case OpWhere:
		if x != 0 {
			return y, true
		}
		return xs[2], true
	}
	return 0, false
}
