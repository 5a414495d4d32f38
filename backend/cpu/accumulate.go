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
// one pass over [2048, 128] less per residual). The conditions:
//
//   - v is f32 and p and s have its shape (no broadcast);
//   - p is an f32 matmul (not matmul_bias: its bias and activation come
//     in the epilogue), possibly behind reshapes, and the matmul and
//     every reshape on the way are read only by the next one (the last
//     by v) and are not graph outputs;
//   - s is computed before the matmul, and its storage (its root and
//     every view of it: anything sharing the slot) is the arena's (not
//     an input's), is not a graph output, is not read by the matmul
//     (the product would read what it writes), and nothing but v reads
//     it after the matmul (the product overwrites it there);
//   - no int8 weights or observers (their products are not gemm's).
//
// It returns the values that take over s's storage (the matmul and v)
// for ir.PlanOptions.Into, and the matmuls, which compile builds with
// Beta = 1. The sum is s + the product rounded once where gemm's K is a
// single block (K ≤ 256 for the AVX2 and portable kernels: the add's
// bits); for a deeper K gemm adds each K block's partial product into C
// in turn, so s joins the first block's sum instead of the last: other
// bits, the same sum (the tolerance tests say so).
func accumulateFolds(g *ir.Graph, opts Options) (into map[*ir.Value]*ir.Value, acc map[*ir.Value]bool) {
	if !accumulateOn || opts.Int8 != nil || opts.Observe != nil {
		return nil, nil
	}
	index := make(map[*ir.Value]int, len(g.Values))
	uses := map[*ir.Value][]*ir.Value{}
	for i, v := range g.Values {
		index[v] = i
		for _, a := range v.Args {
			uses[a] = append(uses[a], v)
		}
	}
	out := map[*ir.Value]bool{}
	for _, o := range g.Outputs {
		out[o.Value] = true
		if o.Updates != nil {
			out[o.Updates] = true
		}
	}
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
		if v.Op != ir.OpAdd || len(v.Args) != 2 || v.Type.DType != ir.F32 || v.Args[0] == v.Args[1] {
			continue
		}
		for i := range 2 {
			p, s := v.Args[i], v.Args[1-i]
			if m, r := accumulateTarget(g, v, p, s, index, uses, out, view, root); m != nil {
				into[m], into[v] = r, r
				acc[m] = true
				break
			}
		}
	}
	return into, acc
}

// accumulateTarget returns the matmul behind p and the root of s's
// storage where v = add(p, s) may fold (accumulateFolds), else nil.
func accumulateTarget(g *ir.Graph, v, p, s *ir.Value, index map[*ir.Value]int, uses map[*ir.Value][]*ir.Value,
	out map[*ir.Value]bool, view func(*ir.Value) bool, root func(*ir.Value) *ir.Value) (*ir.Value, *ir.Value) {
	if !p.Type.Shape.Equal(v.Type.Shape) || !s.Type.Shape.Equal(v.Type.Shape) || p.Type.DType != ir.F32 || s.Type.DType != ir.F32 {
		return nil, nil
	}
	// The product, read by v alone.
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
	if m.Op != ir.OpMatMul || m.Type.DType != ir.F32 || index[s] >= index[m] {
		return nil, nil
	}
	r := root(s)
	if r.Op == ir.OpInput || r.Op.IsInPlace() || r.Type.NumElements() == 1 {
		return nil, nil
	}
	for _, a := range m.Args {
		if root(a) == r {
			return nil, nil
		}
	}
	// Nothing but v reads the slot after the product, and it is no
	// output.
	for _, u := range g.Values[index[r]:] {
		if root(u) != r {
			continue
		}
		if out[u] {
			return nil, nil
		}
		for _, w := range uses[u] {
			if index[w] >= index[m] && w != v && !view(w) { // a view's readers: its own turn
				return nil, nil
			}
		}
	}
	return m, r
}
