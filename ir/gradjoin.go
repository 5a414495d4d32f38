package ir

import (
	"slices"
	"sort"
)

// This file holds how Grad adds up the gradient contributions of a value
// that is sliced more than once (the per-step slices of an unrolled
// recurrence, the gate blocks of an LSTM's gate pre-activations). Each
// slice's VJP is a slice_backward: its dy written into zeros of the whole
// operand. Adding T of them costs T full-size tensors; for the T steps of
// a [B, T, n] projection that is T·B·T·n work and memory. joinSlices
// instead writes the dy's of disjoint windows along one axis side by side
// with one concat (and one slice_backward when they do not cover the
// axis), which is what the sum is.

// sliceUses counts, for every value of vs, its uses as the operand of a
// slice.
func sliceUses(vs []*Value) map[*Value]int {
	n := map[*Value]int{}
	for _, v := range vs {
		if v.Op == OpSlice {
			n[v.Args[0]]++
		}
	}
	return n
}

// joinAxis reports the one axis along which the slice_backward d writes a
// window with unit step, the window being whole along every other axis.
func joinAxis(d *Value) (int, bool) {
	if d.Op != OpSliceBackward {
		return 0, false
	}
	a := d.Aux.(SliceAttr)
	axis := -1
	for i, n := range d.Type.Shape {
		if a.Step[i] != 1 {
			return 0, false
		}
		if a.Start[i] == 0 && a.Stop[i] == n {
			continue
		}
		if axis >= 0 {
			return 0, false
		}
		axis = i
	}
	return axis, axis >= 0
}

// joinSlices returns values whose sum is the sum of the slice_backwards
// ds (each with a joinAxis): those along the same axis with disjoint
// windows become one concat of their dy's with zeros in the gaps, written
// into the operand's shape by one slice_backward if the windows do not
// cover the axis. Axes are taken in order, so the result is deterministic.
func joinSlices(b *Builder, ds []*Value) []*Value {
	byAxis := map[int][]*Value{}
	for _, d := range ds {
		ax, _ := joinAxis(d)
		byAxis[ax] = append(byAxis[ax], d)
	}
	axes := make([]int, 0, len(byAxis))
	for ax := range byAxis {
		axes = append(axes, ax)
	}
	sort.Ints(axes)
	var out []*Value
	for _, ax := range axes {
		g := slices.Clone(byAxis[ax])
		sort.SliceStable(g, func(i, j int) bool { return g[i].Aux.(SliceAttr).Start[ax] < g[j].Aux.(SliceAttr).Start[ax] })
		disjoint := len(g) > 1
		for i := 1; i < len(g); i++ {
			if g[i].Aux.(SliceAttr).Start[ax] < g[i-1].Aux.(SliceAttr).Stop[ax] {
				disjoint = false
			}
		}
		if !disjoint {
			out = append(out, g...)
			continue
		}
		t := g[0].Type
		first := g[0].Aux.(SliceAttr).Start[ax]
		pos := first
		var pieces []*Value
		for _, d := range g {
			a := d.Aux.(SliceAttr)
			if a.Start[ax] > pos {
				s := t.Shape.Clone()
				s[ax] = a.Start[ax] - pos
				pieces = append(pieces, must(b.Fill(Type{t.DType, s}, 0)))
			}
			pieces = append(pieces, d.Args[0])
			pos = a.Stop[ax]
		}
		joined := must(b.Concat(ax, pieces...))
		if first > 0 || pos < t.Shape[ax] {
			a := SliceAttr{Start: make([]int, t.Rank()), Stop: t.Shape.Clone()}
			a.Start[ax], a.Stop[ax] = first, pos
			joined = must(b.SliceBackward(joined, t.Shape, a))
		}
		out = append(out, joined)
	}
	return out
}
