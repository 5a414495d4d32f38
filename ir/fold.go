// This file implements the fold pass, which computes elementwise ops
// with the op table's arithmetic (EvalScalar).

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
