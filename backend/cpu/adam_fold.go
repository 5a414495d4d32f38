// This file folds a parameter's fused Adam update (fuseAdam) into the
// epilogue of the product that computes its gradient (foldAdamProducts):
// as each block of the weight gradient's rows is final, the core that
// computed it updates those elements of the parameter and its moments,
// reading the gradient while it is still in its cache, instead of a step
// of its own reading the whole gradient back after the product.

package cpu

import (
	"slices"
	"sync/atomic"
)

// adamFoldOn enables foldAdamProducts (tests turn it off to compare).
var adamFoldOn = true

// adamTile is the epilogue (gemm.Params.Tile) of a product whose result
// is the gradient g of a fused Adam update k: the elements of k's
// parameter and moments at the rows C's blocks complete are updated from
// C (g's storage). A block of whole rows is updated as it is final; a
// block of part of the rows counts its columns, and the block that
// completes a row updates it: the update runs on whole rows of the
// parameter, its moments and g, contiguous in memory (updating each
// block's part of each row, several hundred bytes at a stride, took a
// third longer on W1's fc1). span's bits do not depend on the range, so
// they are the update's own.
type adamTile struct {
	k    *adamKernel
	ld   int            // a row of the parameter and of C
	done []atomic.Int32 // per row: the columns final this run (reset)
}

func (t *adamTile) Tile(c []float32, ldc, i0, j0, m, n int) {
	ld := t.ld
	if n == ld {
		t.k.span(i0*ld, (i0+m)*ld, c[:m*ld])
		return
	}
	g := f32s(t.k.g)
	lo := -1 // the first of the rows completed by this block, in a run
	for i := i0; i < i0+m; i++ {
		if int(t.done[i].Add(int32(n))) == ld {
			if lo < 0 {
				lo = i
			}
			continue
		}
		if lo >= 0 {
			t.k.span(lo*ld, i*ld, g[lo*ld:i*ld])
			lo = -1
		}
	}
	if lo >= 0 {
		t.k.span(lo*ld, (i0+m)*ld, g[lo*ld:(i0+m)*ld])
	}
}

// setup sets the update's constants and clears the counts of columns
// before the product runs.
func (t *adamTile) setup() error {
	clear(t.done)
	return t.k.setup()
}

// foldAdamProducts moves each fused Adam update (an adamKernel step) into
// the epilogue of the f32 product that computes its gradient, where
// that is the same computation:
//
//   - the product is one plain call (no batch, no accumulation into its
//     result, no epilogue of its own yet, not a grouped product) writing
//     the gradient's storage, of the parameter's size;
//   - the product's operands share no storage with the parameter, its
//     moments, the learning rate or the step (other tasks of the product
//     still read its operands while one updates), and its result none
//     with the parameter or its moments;
//   - every step between the product and the update is one whose storage
//     stageable knows, writes nothing the update reads (the gradient, the
//     parameter, its moments, the learning rate and the step: those are
//     final when the product runs) and reads nothing the update writes
//     (no later reader of the parameter or its moments is moved before
//     the update).
//
// The gradient is still stored (other readers, a graph output, see it
// unchanged). A clipped gradient is not a product's result (it is
// scaled after), so a clipped update never folds. Runs after
// groupProducts (a grouped product keeps its group) and before
// stageSteps, which sees the product's reads and writes with the
// update's (stageable).
func (p *Program) foldAdamProducts() {
	if !adamFoldOn {
		return
	}
	at := map[*buffer]*matmulF32{} // a product, by its result's storage
	spanOf := p.spanOf()
	folded := map[kernel]bool{}
	for i, s := range p.steps {
		switch k := s.k.(type) {
		case *matmulF32:
			if len(k.ps) == 1 && k.ps[0].Beta == 0 && k.ps[0].Tile == nil && k.ln == nil && k.adam == nil && !k.frozen {
				at[k.out] = k
			}
		case *adamKernel:
			mm, ok := at[k.g]
			if !ok {
				continue
			}
			j := slices.IndexFunc(p.steps[:i], func(t step) bool { return t.k == mm })
			if mm.m*mm.n != k.p.n || k.g.n != k.p.n {
				continue
			}
			reads := []span{spanOf(k.g), spanOf(k.lr), spanOf(k.step), spanOf(k.p), spanOf(k.m), spanOf(k.v)}
			writes := reads[3:]
			ops := []span{spanOf(mm.x), spanOf(mm.y)}
			if mm.bias != nil {
				ops = append(ops, spanOf(mm.bias))
			}
			clash := touches(writes, spanOf(k.g))
			for _, o := range ops {
				clash = clash || touches(reads[1:], o)
			}
			if clash {
				continue
			}
			hoist, ok := p.hoistable(j, i, reads, spanOf)
			if !ok || !p.before(j, writes, spanOf) {
				continue
			}
			var rest []step
			for t := j + 1; t < i; t++ {
				if !hoist[t] {
					rest = append(rest, p.steps[t])
				}
			}
			if !p.leaveAlone(rest, spanOf, reads, writes) {
				continue
			}
			if len(hoist) > 0 {
				// Steps j..i-1 become the hoisted ones, the product, the rest.
				moved := make([]step, 0, i-j)
				for t := j + 1; t < i; t++ {
					if hoist[t] {
						moved = append(moved, p.steps[t])
					}
				}
				moved = append(append(moved, p.steps[j]), rest...)
				copy(p.steps[j:i], moved)
				j += len(hoist)
			}
			mm.adam = &adamTile{k, mm.n, make([]atomic.Int32, mm.m)}
			mm.ps[0].Tile = mm.adam
			delete(at, k.g)
			folded[k] = true
		}
	}
	if len(folded) > 0 {
		p.steps = slices.DeleteFunc(p.steps, func(t step) bool { return folded[t.k] })
	}
}

// before reports whether every step before the one at j that reads or
// writes owned (the parameter and its moments) already runs before it
// in any order stageSteps may choose: the product depends on it (its
// result, or a step's that it depends on, by storage). Folding an update
// whose parameter is read by a step the product need not wait for
// (W1's fc2: its input gradient reads the weight, its weight gradient
// computed beside it in one stage) would order the two: the update is
// not worth the stage it costs.
func (p *Program) before(j int, owned []span, spanOf func(*buffer) span) bool {
	u, ok := p.stageable(p.steps[j], spanOf)
	if !ok {
		return false
	}
	anc := []stepUse{u}
	for t := j - 1; t >= max(0, j-stageWindow); t-- {
		u, ok := p.stageable(p.steps[t], spanOf)
		if !ok {
			return true // a barrier: what precedes it runs before it
		}
		dep := false
		for a := range anc {
			if conflict(&u, &anc[a]) {
				dep = true
				break
			}
		}
		if dep {
			anc = append(anc, u)
			continue
		}
		for _, o := range owned {
			if touches(u.reads, o) || touches(u.writes, o) {
				return false
			}
		}
	}
	return true
}

// hoistable returns the steps between the product at j and the update at
// i that write what the update reads (reads), with those whose results
// they read in turn, when all of them can run before the product: each
// is one whose storage stageable knows and conflicts with none of the
// steps from j up to it that stay.
func (p *Program) hoistable(j, i int, reads []span, spanOf func(*buffer) span) (map[int]bool, bool) {
	need := slices.Clone(reads)
	uses := make([]stepUse, i)
	hoist := map[int]bool{}
	for t := i - 1; t > j; t-- {
		u, ok := p.stageable(p.steps[t], spanOf)
		if !ok {
			return nil, false
		}
		uses[t] = u
		for _, w := range u.writes {
			if touches(need, w) {
				hoist[t] = true
				break
			}
		}
		if hoist[t] {
			need = append(need, u.reads...)
		}
	}
	u, ok := p.stageable(p.steps[j], spanOf)
	if !ok {
		return nil, false
	}
	uses[j] = u
	for t := range hoist {
		for s := j; s < t; s++ {
			if !hoist[s] && conflict(&uses[s], &uses[t]) {
				return nil, false
			}
		}
	}
	return hoist, true
}

// adamSetup sets the folded update's constants (foldAdamProducts) before
// the product runs.
func (k *matmulF32) adamSetup() error {
	if k.adam == nil {
		return nil
	}
	return k.adam.setup()
}
