// This file folds a ReLU's backward into the epilogue of the product
// that computes its incoming gradient (foldReluProducts): W1's hidden
// layers' dH = dZ·W, each block of which becomes dH masked by the
// layer's output as the product finishes it, instead of a step of its
// own reading dH back (and, with stages, a step chained after the
// product or run between two stages).

package cpu

import "github.com/encc-lang/encc/ir"

// reluFoldOn enables foldReluProducts (tests turn it off to compare).
var reluFoldOn = true

// reluGradTile is the epilogue of a product whose result dy only a
// relu_backward(x, dy) reads: each block of C becomes dy where x > 0
// and 0 elsewhere, by the backward's own kernel (an element's bits do
// not depend on the range).
type reluGradTile struct {
	x  *buffer // the ReLU's output (or input): its sign
	ld int
}

func (t *reluGradTile) Tile(c []float32, ldc, i0, j0, m, n int) {
	x := f32s(t.x)
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		off := (i0+i)*t.ld + j0
		reluGradF32(row, x[off:off+n], row)
	}
}

// foldReluProducts moves each f32 relu_backward whose dy is a product's
// result and that product's only reader into the product's epilogue
// (reluGradTile), as foldGeluProducts does a linked gelu_backward: the
// product writes the backward's result in its storage and the step
// goes. The product is one plain call (no batch, no accumulation, no
// epilogue of its own), its operands share no storage with the result,
// x shares none with the result or dy, and every step in between is one
// whose storage stageable knows; the product stays in its place where
// none of them touches the result's storage or writes x, else it moves
// to the backward's place where none of them writes what it reads.
// Runs before stageSteps, which sees the product's read of x
// (stageable).
func (p *Program) foldReluProducts() {
	if !reluFoldOn {
		return
	}
	_, uses, out := graphUses(p.g)
	at := map[*buffer]int{} // a product's step, by its result's storage
	for i, s := range p.steps {
		if k, ok := s.k.(*matmulF32); ok && len(k.ps) == 1 && k.ps[0].Beta == 0 && k.ps[0].Tile == nil &&
			k.ln == nil && p.bufs[s.v] == k.out {
			at[k.out] = i
		}
	}
	spanOf := p.spanOf()
	drop := map[int]bool{}
	for i, s := range p.steps {
		k, ok := s.k.(*gradF32)
		if !ok || k.op != ir.OpReluBackward || k.sum != nil || k.deriv != nil || k.x == k.dy {
			continue
		}
		src, res := k.dy, k.out
		j, ok := at[src]
		if !ok || j >= i || drop[j] || src.n != res.n || k.x.n != res.n {
			continue
		}
		mm := p.steps[j].k.(*matmulF32)
		if mm.m*mm.n != res.n || !p.foldable(s.v, p.steps[j].v, src, uses, out, func(u *ir.Value) bool { return u == s.v }) {
			continue
		}
		rs, xs := spanOf(res), spanOf(k.x)
		reads := []span{spanOf(mm.x), spanOf(mm.y), xs}
		if mm.bias != nil {
			reads = append(reads, spanOf(mm.bias))
		}
		if touches(reads, rs) || xs.overlaps(spanOf(src)) {
			continue
		}
		stay, move := true, true
		for _, t := range p.steps[j+1 : i] {
			u, ok := p.stageable(t, spanOf)
			if !ok {
				stay, move = false, false
				break
			}
			stay = stay && !touches(u.writes, rs) && !touches(u.reads, rs) && !touches(u.writes, xs)
			for _, r := range reads {
				move = move && !touches(u.writes, r)
			}
		}
		if !stay && !move {
			continue
		}
		mm.ps[0].Tile = &reluGradTile{k.x, mm.n}
		mm.relu = k.x
		mm.out = res
		delete(at, src)
		if stay {
			drop[i] = true
		} else {
			p.steps[i], drop[j] = p.steps[j], true
		}
	}
	p.dropSteps(drop)
}
