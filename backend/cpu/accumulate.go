// This file implements the accumulating product: an add of a product and
// another value whose storage the product can overwrite becomes the
// product accumulating into that storage (gemm's Beta = 1), and the add's
// step goes.

package cpu

import "github.com/encc-lang/encc/ir"

// accumulateOn enables accumulateFolds (tests turn it off to compare).
var accumulateOn = true

// accumulateFolds finds the adds v = add(p, s) (either order) that the
// product behind p can compute by accumulating into s's storage: the
// gradient through a residual connection, the input gradient of the
// product after the skip plus the skip's gradient (W4/W5's backward:
// one pass over [2048, 128] less per residual). A fused chain of adds
// v = ((s + p1) + p2) + … (W4's gradient of a block's input: the skip's
// and those through q, k and v) folds likewise, the products adding
// into s's storage one after another. The conditions:
//
//   - v is f32 and its operands have its shape (no broadcast);
//   - each p is an f32 matmul (not matmul_bias: its bias and activation
//     come in the epilogue), possibly behind reshapes, and the matmul and
//     every reshape on the way are read only by the next one (the last
//     by v) and are not graph outputs; in a chain, the matmuls come in
//     the order the sum adds them;
//   - s is computed before the (first) matmul, and its storage (its root
//     and every view of it: anything sharing the slot) is the arena's
//     (not an input's), is not a graph output, is not read by the
//     matmuls (a product would read what it writes), and nothing but v
//     reads it after the first matmul (the product overwrites it there);
//   - no int8 weights or observers (their products are not gemm's).
//
// It returns the values that take over s's storage (the matmuls and v)
// for ir.PlanOptions.Into, and the matmuls, which compile builds with
// Beta = 1. Each sum is the one before + the product rounded once where
// gemm's K is a single block (K ≤ 256 for the AVX2 and portable kernels:
// the add's bits); for a deeper K gemm adds each K block's partial product into C
// in turn, so s joins the first block's sum instead of the last: other
// bits, the same sum (the tolerance tests say so).
func accumulateFolds(g *ir.Graph, opts Options) (into map[*ir.Value]*ir.Value, acc map[*ir.Value]bool) {
	if !accumulateOn || opts.Int8 != nil || opts.Observe != nil {
		return nil, nil
	}
	index, uses, out := graphUses(g)
	view := func(v *ir.Value) bool {
		return v.Op == ir.OpReshape && len(v.Args) == 1 && v.Args[0].Type.Bytes() == v.Type.Bytes()
	}
	// root follows views and earlier folds to the value owning the slot.
	into = map[*ir.Value]*ir.Value{}
	root := func(v *ir.Value) *ir.Value {
		for {
			if t, ok := into[v]; ok {
				v = t
			} else if view(v) {
				v = v.Args[0]
			} else {
				return v
			}
		}
	}
	acc = map[*ir.Value]bool{}
	for _, v := range g.Values {
		ops := sumChain(v)
		if ops == nil {
			continue
		}
		for first := range 2 {
			// s first, then the products in the order the sum adds them
			// (the first add's two operands commute).
			order := append([]*ir.Value{ops[first], ops[1-first]}, ops[2:]...)
			if ms, r := accumulateTargets(g, v, order, index, uses, out, view, root); ms != nil {
				for _, m := range ms {
					into[m] = r
					acc[m] = true
				}
				into[v] = r
				break
			}
		}
	}
	return into, acc
}

// sumChain returns the operands of v in the order v adds them where v
// is an f32 add or a fused chain of adds ((a0 + a1) + a2) + …, else nil.
func sumChain(v *ir.Value) []*ir.Value {
	if v.Type.DType != ir.F32 {
		return nil
	}
	switch v.Op {
	case ir.OpAdd:
		if len(v.Args) == 2 {
			return v.Args
		}
	case ir.OpFused:
		at, ok := v.Aux.(ir.FusedAttr)
		n := len(v.Args)
		if !ok || at.Operands != n || n < 2 || len(at.Body) != n-1 {
			return nil
		}
		for j, in := range at.Body {
			want := []int{0, 1}
			if j > 0 {
				want = []int{n + j - 1, j + 1}
			}
			if in.Op != ir.OpAdd || in.DType != ir.F32 || len(in.Args) != 2 || in.Args[0] != want[0] || in.Args[1] != want[1] {
				return nil
			}
		}
		return v.Args
	}
	return nil
}

// accumulateTargets returns the matmuls behind ops[1:] and the root of
// ops[0]'s storage where v, the sum of ops in that order, may fold
// (accumulateFolds), else nil: the matmuls add into the storage one
// after another, in the sum's order.
func accumulateTargets(g *ir.Graph, v *ir.Value, ops []*ir.Value, index map[*ir.Value]int, uses map[*ir.Value][]*ir.Value,
	out map[*ir.Value]bool, view func(*ir.Value) bool, root func(*ir.Value) *ir.Value) ([]*ir.Value, *ir.Value) {
	s := ops[0]
	for _, a := range ops {
		if !a.Type.Shape.Equal(v.Type.Shape) || a.Type.DType != ir.F32 {
			return nil, nil
		}
	}
	// The products, each read by v alone, computed after s in the
	// order v adds them.
	var ms []*ir.Value
	at := index[s]
	for _, p := range ops[1:] {
		m, next := p, v
		for {
			if out[m] || len(uses[m]) != 1 || uses[m][0] != next {
				return nil, nil
			}
			if !view(m) {
				break
			}
			m, next = m.Args[0], m
		}
		if m.Op != ir.OpMatMul || m.Type.DType != ir.F32 || index[m] <= at {
			return nil, nil
		}
		at = index[m]
		ms = append(ms, m)
	}
	r := root(s)
	if r.Op == ir.OpInput || r.Op.IsInPlace() || r.Type.NumElements() == 1 {
		return nil, nil
	}
	for _, m := range ms {
		for _, a := range m.Args {
			if root(a) == r {
				return nil, nil
			}
		}
	}
	// Nothing but v reads the slot after the first product, and it is
	// no output.
	for _, u := range g.Values[index[r]:] {
		if root(u) != r {
			continue
		}
		if out[u] {
			return nil, nil
		}
		for _, w := range uses[u] {
			if index[w] >= index[ms[0]] && w != v && !view(w) { // a view's readers: its own turn
				return nil, nil
			}
		}
	}
	return ms, r
}

// graphUses returns each value's position in g.Values, its readers in
// program order, and the set of values g outputs (outputs and the
// values they update).
func graphUses(g *ir.Graph) (index map[*ir.Value]int, uses map[*ir.Value][]*ir.Value, out map[*ir.Value]bool) {
	index = make(map[*ir.Value]int, len(g.Values))
	uses = map[*ir.Value][]*ir.Value{}
	for i, v := range g.Values {
		index[v] = i
		for _, a := range v.Args {
			uses[a] = append(uses[a], v)
		}
	}
	out = map[*ir.Value]bool{}
	for _, o := range g.Outputs {
		out[o.Value] = true
		if o.Updates != nil {
			out[o.Updates] = true
		}
	}
	return index, uses, out
}
