// This file implements the canonicalize pass.

package ir

import "math"

// canonicalize rewrites values into the forms later passes expect:
// constants second in commutative ops, subtraction of a constant as
// addition of its negation, division by a power of two as multiplication
// by its (exact) reciprocal, and 0 - x as neg(x). Every rewrite is exact.
func canonicalize(g *Graph) error {
	return rewrite(g, func(b *Builder, v *Value) (*Value, error) {
		if len(v.Args) != 2 || !v.Op.IsElementwise() {
			return nil, nil
		}
		x, y := v.Args[0], v.Args[1]
		_, xConst := fillValue(x)
		c, yConst := fillValue(y)
		switch {
		case v.Op.IsCommutative() && xConst && !yConst:
			v.Args[0], v.Args[1] = y, x
		case v.Op == OpSub && yConst && v.Type.DType.IsFloat():
			return b.Add(x, must(b.Fill(y.Type, -c)))
		case v.Op == OpDiv && yConst && v.Type.DType.IsFloat() && isPowerOfTwo(c):
			return b.Mul(x, must(b.Fill(y.Type, 1/c)))
		case v.Op == OpSub && isFill(x, 0) && y.Type.Equal(v.Type):
			return b.Neg(y)
		}
		return nil, nil
	})
}

// isPowerOfTwo reports whether c is ±2^k with 1/c exact.
func isPowerOfTwo(c float64) bool {
	if c == 0 || math.IsInf(c, 0) || math.IsNaN(c) {
		return false
	}
	frac, exp := math.Frexp(math.Abs(c))
	return frac == 0.5 && exp > -1000 && exp < 1000
}
