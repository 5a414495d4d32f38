// This file implements the simplify pass and its table of rules.

package ir

// A rule is one algebraic simplification: when match holds for v, v is
// replaced by what rewrite returns (an existing value or new ones built
// with b).
type rule struct {
	name    string
	op      Op // the op of the values the rule looks at
	match   func(v *Value) bool
	rewrite func(b *Builder, v *Value) (*Value, error)
}

// arg returns the rewrite that replaces v by its i-th operand.
func arg(i int) func(*Builder, *Value) (*Value, error) {
	return func(_ *Builder, v *Value) (*Value, error) { return v.Args[i], nil }
}

// argIs reports whether v's i-th operand has v's type, so that it can
// stand for v.
func argIs(v *Value, i int) bool { return v.Args[i].Type.Equal(v.Type) }

// rules is the table of simplifications. Each keeps the value exactly:
// rules that would change a result (x·0 with NaN or ∞) are not here.
var rules = []rule{
	{"x*1", OpMul, func(v *Value) bool { return isFill(v.Args[1], 1) && argIs(v, 0) }, arg(0)},
	{"1*x", OpMul, func(v *Value) bool { return isFill(v.Args[0], 1) && argIs(v, 1) }, arg(1)},
	{"x+0", OpAdd, func(v *Value) bool { return isFill(v.Args[1], 0) && argIs(v, 0) }, arg(0)},
	{"0+x", OpAdd, func(v *Value) bool { return isFill(v.Args[0], 0) && argIs(v, 1) }, arg(1)},
	{"x-0", OpSub, func(v *Value) bool { return isFill(v.Args[1], 0) && argIs(v, 0) }, arg(0)},
	{"x/1", OpDiv, func(v *Value) bool { return isFill(v.Args[1], 1) && argIs(v, 0) }, arg(0)},
	{"x^1", OpPow, func(v *Value) bool { return isFill(v.Args[1], 1) && argIs(v, 0) }, arg(0)},
	{"neg(neg x)", OpNeg, func(v *Value) bool { return v.Args[0].Op == OpNeg }, func(_ *Builder, v *Value) (*Value, error) {
		return v.Args[0].Args[0], nil
	}},
	{"where(c, x, x)", OpWhere, func(v *Value) bool { return v.Args[1] == v.Args[2] && argIs(v, 1) }, arg(1)},
	{"cast to its dtype", OpCast, func(v *Value) bool { return argIs(v, 0) }, arg(0)},
	{"reshape to its shape", OpReshape, func(v *Value) bool { return argIs(v, 0) }, arg(0)},
	{"reshape(reshape x)", OpReshape, func(v *Value) bool { return v.Args[0].Op == OpReshape }, func(b *Builder, v *Value) (*Value, error) {
		return b.Reshape(v.Args[0].Args[0], v.Type.Shape)
	}},
	{"broadcast_to its shape", OpBroadcastTo, func(v *Value) bool { return argIs(v, 0) }, arg(0)},
	{"reduce_to its shape", OpReduceTo, func(v *Value) bool { return argIs(v, 0) }, arg(0)},
	{"sum over no axes", OpSum, func(v *Value) bool { return argIs(v, 0) && len(v.Aux.(ReduceAttr).Axes) == 0 }, arg(0)},
	{"identity permute", OpPermute, func(v *Value) bool { return isIdentity(v.Aux.(PermuteAttr).Perm) }, arg(0)},
	{"permute(permute x)", OpPermute, func(v *Value) bool { return v.Args[0].Op == OpPermute }, func(b *Builder, v *Value) (*Value, error) {
		inner, outer := v.Args[0].Aux.(PermuteAttr).Perm, v.Aux.(PermuteAttr).Perm
		perm := make([]int, len(outer))
		for i, p := range outer {
			perm[i] = inner[p]
		}
		if isIdentity(perm) {
			return v.Args[0].Args[0], nil
		}
		return b.Permute(v.Args[0].Args[0], perm...)
	}},
}

func isIdentity(perm []int) bool {
	for i, p := range perm {
		if p != i {
			return false
		}
	}
	return true
}

// simplify applies the rules of the table until none matches.
func simplify(g *Graph) error {
	for range 10 {
		changed := false
		err := rewrite(g, func(b *Builder, v *Value) (*Value, error) {
			for _, r := range rules {
				if r.op == v.Op && r.match(v) {
					changed = true
					return r.rewrite(b, v)
				}
			}
			return nil, nil
		})
		if err != nil || !changed {
			return err
		}
	}
	return nil
}
