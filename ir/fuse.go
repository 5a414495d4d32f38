// This file implements the fuse pass: matmul epilogues and elementwise
// groups.

package ir

import (
	"container/heap"
	"slices"
)

// fuse merges kernels: a matmul whose only use adds a bias[n] per column,
// and the activation that is the only use of that sum, become one
// matmul_bias; then each maximal group of primitive elementwise values of
// one shape, where every member but the last is used only inside the
// group, becomes one fused value whose body replays the group, with
// constants (fills) inlined. Softmax, layernorm and cross entropy are
// already single kernels and stay as they are.
func fuse(g *Graph) error {
	if err := fuseEpilogues(g); err != nil {
		return err
	}
	return fuseElementwise(g)
}

// fuseEpilogues turns add(matmul(x, w), bias) and act(add(…)) into
// matmul_bias; an activation of a reshape of the sum becomes a reshape of
// the matmul_bias.
func fuseEpilogues(g *Graph) error {
	uses := g.Uses()
	outputs := map[*Value]bool{}
	for _, o := range g.Outputs {
		outputs[o.Value] = true
	}
	only := func(v *Value) *Value { // v's single user, if it is not an output
		if u := uses[v]; len(u) == 1 && !outputs[v] {
			return u[0]
		}
		return nil
	}
	pending := map[*Value]*Value{} // activation → its replacement
	return rewrite(g, func(b *Builder, v *Value) (*Value, error) {
		if r := pending[v]; r != nil {
			return r, nil
		}
		if v.Op != OpAdd || !v.Type.DType.IsFloat() {
			return nil, nil
		}
		for i, m := range v.Args {
			bias := v.Args[1-i]
			if m.Op != OpMatMul || only(m) != v || !m.Type.Equal(v.Type) ||
				bias.Type.Rank() != 1 || bias.Type.Shape[0] != v.Type.Shape[v.Type.Rank()-1] {
				continue
			}
			mm := m.Aux.(MatMulAttr)
			a := MatMulBiasAttr{TransposeA: mm.TransposeA, TransposeB: mm.TransposeB}
			u := only(v)
			var reshape *Value // act(reshape(add(…))), as linear layers over [B,T,d] lower
			if u != nil && u.Op == OpReshape {
				reshape, u = u, only(u)
			}
			if u != nil {
				if u.Op.IsEpilogue() {
					a.Act = Activation{Op: u.Op, Aux: u.Aux}
					r, err := b.MatMulBias(m.Args[0], m.Args[1], bias, a)
					if err == nil && reshape != nil {
						r, err = b.Reshape(r, reshape.Type.Shape)
					}
					pending[u] = r
					return nil, err
				}
			}
			return b.MatMulBias(m.Args[0], m.Args[1], bias, a)
		}
		return nil, nil
	})
}

// fusable reports whether v may be a member of an elementwise group: a
// primitive elementwise op over floats and bools only.
func fusable(v *Value) bool {
	if !v.Op.IsElementwise() || v.Op.IsFused() || !fusedDType(v.Type.DType) {
		return false
	}
	for _, a := range v.Args {
		if !fusedDType(a.Type.DType) {
			return false
		}
	}
	return true
}

// fusedDType reports whether fused bodies compute in d: floats and bools.
func fusedDType(d DType) bool { return d.IsFloat() || d == Bool }

// maxFusedInstrs bounds the body of one fused value.
const maxFusedInstrs = 64

// fuseElementwise groups elementwise values (see fuse) and replaces each
// group of two or more instructions by one fused value.
func fuseElementwise(g *Graph) error {
	uses := g.Uses()
	index := map[*Value]int{}
	for i, v := range g.Values {
		index[v] = i
	}
	outputs := map[*Value]bool{}
	for _, o := range g.Outputs {
		outputs[o.Value] = true
	}
	group := map[*Value]*Value{}     // member → root
	members := map[*Value][]*Value{} // root → members in graph order
	for i := len(g.Values) - 1; i >= 0; i-- {
		root := g.Values[i]
		if group[root] != nil || !fusable(root) {
			continue
		}
		group[root] = root
		ms := []*Value{root}
		cands := &valueHeap{index: index}
		push := func(v *Value) {
			for _, a := range v.Args {
				if a.Op != OpFill && group[a] == nil && !slices.Contains(cands.vs, a) {
					heap.Push(cands, a)
				}
			}
		}
		push(root)
		for cands.Len() > 0 && len(ms) < maxFusedInstrs {
			a := heap.Pop(cands).(*Value)
			if group[a] != nil || !fusable(a) || outputs[a] || !a.Type.Shape.Equal(root.Type.Shape) {
				continue
			}
			inside := true
			for _, u := range uses[a] {
				if group[u] != root {
					inside = false
				}
			}
			if !inside {
				continue
			}
			group[a] = root
			ms = append(ms, a)
			push(a)
		}
		slices.SortFunc(ms, func(a, b *Value) int { return index[a] - index[b] })
		members[root] = ms
	}
	return rewrite(g, func(b *Builder, v *Value) (*Value, error) {
		ms := members[v]
		if ms == nil {
			return nil, nil
		}
		attr, operands := fusedBody(ms)
		if len(attr.Body) < 2 {
			return nil, nil
		}
		return b.Fused(v.Type, attr, operands...)
	})
}

// fusedBody builds the body replaying members (in graph order, the last
// one the result) and the list of its operands.
func fusedBody(ms []*Value) (FusedAttr, []*Value) {
	in := map[*Value]bool{}
	for _, m := range ms {
		in[m] = true
	}
	var operands []*Value
	for _, m := range ms {
		for _, a := range m.Args {
			if !in[a] && a.Op != OpFill && !slices.Contains(operands, a) {
				operands = append(operands, a)
			}
		}
	}
	reg := map[*Value]int{}
	for i, a := range operands {
		reg[a] = i
	}
	attr := FusedAttr{Operands: len(operands)}
	emit := func(in FusedInstr, v *Value) {
		reg[v] = len(operands) + len(attr.Body)
		attr.Body = append(attr.Body, in)
	}
	for _, m := range ms {
		for _, a := range m.Args {
			if _, ok := reg[a]; !ok && a.Op == OpFill {
				emit(FusedInstr{Op: OpFill, DType: a.Type.DType, Aux: a.Aux}, a)
			}
		}
		args := make([]int, len(m.Args))
		for i, a := range m.Args {
			args[i] = reg[a]
		}
		emit(FusedInstr{Op: m.Op, DType: m.Type.DType, Args: args, Aux: m.Aux}, m)
	}
	return attr, operands
}

// valueHeap is a max-heap of values by graph position: the fusion
// candidates, latest first, so that every user of a candidate has been
// decided before it is.
type valueHeap struct {
	vs    []*Value
	index map[*Value]int
}

func (h *valueHeap) Len() int           { return len(h.vs) }
func (h *valueHeap) Less(i, j int) bool { return h.index[h.vs[i]] > h.index[h.vs[j]] }
func (h *valueHeap) Swap(i, j int)      { h.vs[i], h.vs[j] = h.vs[j], h.vs[i] }
func (h *valueHeap) Push(x any)         { h.vs = append(h.vs, x.(*Value)) }
func (h *valueHeap) Pop() any {
	v := h.vs[len(h.vs)-1]
	h.vs = h.vs[:len(h.vs)-1]
	return v
}
