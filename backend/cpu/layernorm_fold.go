// This file folds a layernorm forward into the epilogue of the product
// that computes its x (foldLayerNormProducts).

package cpu

import (
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/encc-lang/encc/ir"
)

// lnFoldOn enables foldLayerNormProducts (tests turn it off to compare),
// lnFoldMoveOn its move of a result out of the arena.
var lnFoldOn, lnFoldMoveOn = true, true

// lnTileSkip, set by tests, makes lnTile leave every block whose first
// row r0 has r0/m odd to the layernorm's step (the rows it redoes).
var lnTileSkip = false

// lnTileMissed counts the runs of a folded layernorm whose product's
// epilogue did not cover every row in whole rows (the step then
// normalises all of them itself); tests read it.
var lnTileMissed atomic.Int64

// lnTile is the epilogue (gemm.Params.Tile) of a product whose result
// c is a layernorm's x, or one of the two terms of the residual add x =
// a + b that the layernorm computes (fuseResidualLayerNorm): each block
// of whole rows, just made final, goes through the layernorm's own row
// function (Range: the add, the statistics, the result; the same bits
// as its own pass) at once, while the rows are in cache. A block of part
// of a row cannot (its other columns may not be final yet): it is left
// to the layernorm's step, which then does every row itself.
type lnTile struct {
	k *layerNormKernel
	c *buffer
}

func (t *lnTile) Tile(c []float32, ldc, i0, j0, m, n int) {
	k := t.k
	if j0 != 0 || n != k.D || ldc != k.D || m <= 0 || len(c) == 0 {
		return
	}
	// The block's first row, from its address: whatever part of C the
	// caller's call covers (a batch, a frozen chain's rows).
	base, at := uintptr(t.c.p), uintptr(unsafe.Pointer(&c[0]))
	off := int((at - base) / 4)
	r0 := off / k.D
	if at < base || off%k.D != 0 || r0+m > k.rows || lnTileSkip && r0/m%2 == 1 {
		return
	}
	k.Range(r0, r0+m)
	for r := r0; r < r0+m; r++ {
		k.rowDone[r] = true
	}
	k.done.Add(int64(m))
}

// runTiled is a folded layernorm's step: nothing where the product's
// epilogue did every row, else the rows it did not (their terms, C's
// rows included, are intact: a row's results are written only where
// the row is done).
func (k *layerNormKernel) runTiled() {
	if k.done.Swap(0) == int64(k.rows) {
		clear(k.rowDone)
		return
	}
	lnTileMissed.Add(1)
	for r := 0; r < k.rows; {
		if k.rowDone[r] {
			r++
			continue
		}
		e := r + 1
		for e < k.rows && !k.rowDone[e] {
			e++
		}
		k.Range(r, e)
		r = e
	}
	clear(k.rowDone)
}

// foldUse is what a folded layernorm's rows read and write besides its
// product's result c: its weight and bias, the other term of its
// residual add; its result, and the sum x where it is written.
func (k *layerNormKernel) foldUse(c *buffer) (reads, writes []*buffer) {
	reads = []*buffer{k.w, k.b}
	writes = []*buffer{k.out}
	if k.res[0] != nil {
		for _, r := range k.res {
			if r != c {
				reads = append(reads, r)
			}
		}
		if !k.resOnly {
			writes = append(writes, k.x)
		}
	}
	return reads, writes
}

// foldLayerNormProducts moves each layernorm forward into the epilogue
// of the f32 product before it that computes its x, or a term of the
// residual add it computes (W4/W5's post-LN blocks: x + attn.o(…) and
// x + ff2(…), fuseResidualLayerNorm), saving the layernorm's pass over
// its rows (1 MiB or 2 read again from L3 or memory, W5): lnTile does
// each block of the product's rows as the block becomes final. The
// product's result is still written (the add's term, or x that the
// backward ops read); the layernorm's result, x and the row statistics
// (shareLayerNormStats) are written during the product. The
// layernorm's step stays, and does nothing where the epilogue covered
// every row in whole rows (its row length the product's n, a split over
// M), else does them all itself. So that the product may run the rows
// early and the step may redo them: what the rows write must share no
// storage with what the product or the rows read, and every step in
// between must be one whose storage stageable knows, touching nothing
// the rows write and writing nothing they read. Runs after
// foldGeluProducts, before groupProducts (a product with a Tile is not
// grouped) and the stage pass (stageable lists the rows' storage).
func (p *Program) foldLayerNormProducts() {
	if !lnFoldOn {
		return
	}
	type store struct {
		p unsafe.Pointer
		n int
	}
	at := map[store]int{} // a product's step, by its result's storage
	spanOf := p.spanOf()
	spans := func(bs []*buffer) []span {
		var s []span
		for _, b := range bs {
			s = append(s, spanOf(b))
		}
		return s
	}
	for i, s := range p.steps {
		switch k := s.k.(type) {
		case *matmulF32:
			if len(k.ps) > 0 && k.ps[0].Tile == nil && k.ln == nil && k.out.dt == ir.F32 && k.out.p != nil {
				at[store{k.out.p, k.out.n}] = i
			}
		case *layerNormKernel:
			if k.op != ir.OpLayerNorm || k.tiled || k.rows == 0 || k.D == 0 {
				continue
			}
			src := []*buffer{k.x}
			if k.res[0] != nil {
				src = k.res[:]
			}
			j := -1
			for _, b := range src {
				if jb, ok := at[store{b.p, b.n}]; ok && jb > j {
					j = jb
				}
			}
			if j < 0 {
				continue
			}
			mm := p.steps[j].k.(*matmulF32)
			if mm.n != k.D || mm.m*mm.n*len(mm.ps) != mm.out.n || mm.out.n != k.rows*k.D || mm.sums != nil {
				continue
			}
			good := true
			for _, q := range mm.ps {
				good = good && q.LDC == mm.n
			}
			rb, wb := k.foldUse(mm.out)
			reads, writes := spans(rb), spans(wb)
			cs := spanOf(mm.out)
			reads = append(reads, spanOf(mm.x), spanOf(mm.y))
			if mm.bias != nil {
				reads = append(reads, spanOf(mm.bias))
			}
			// The layernorm's result in the slot of the product's x
			// (the arena gives it the slot of an operand that dies at
			// the product: W5's frozen norm1 takes its attention
			// output's) moves out of the arena into storage of its own
			// (1 MiB in W5), where nothing else is ever stored.
			move := false
			if rs := spanOf(k.out); lnFoldMoveOn && good && (rs.overlaps(spanOf(mm.x)) || rs.overlaps(spanOf(mm.y))) && p.ownsBuffer(s.v) && k.out != mm.out && !cs.overlaps(rs) {
				move, writes[0] = true, span{b: k.out}
			}
			for i, w := range writes {
				// A result may take C's own storage (the arena gives
				// the layernorm's result the slot of the product's,
				// which dies at the layernorm: W4/W5's last norm2):
				// row by row, each row of C is read before the same
				// row of the result is written.
				good = good && !touches(reads, w) && (!cs.overlaps(w) || wb[i].p == mm.out.p && wb[i].n == mm.out.n)
			}
			kept := append([]span{cs}, reads[:len(rb)]...)
			if !good || !p.leaveAlone(p.steps[j+1:i], spanOf, kept, writes) {
				continue
			}
			if move {
				p.moveOutOfArena(k.out)
			}
			t := &lnTile{k, mm.out}
			for b := range mm.ps {
				mm.ps[b].Tile = t
			}
			mm.ln, k.tiled = k, true
			k.rowDone = make([]bool, k.rows)
			delete(at, store{mm.out.p, mm.out.n})
		}
	}
}

// moveOutOfArena gives b (a value's own arena slot, ownsBuffer) storage
// of its own outside the arena: the values it holds keep it, the slot
// is left to the values that share it in the plan, and spanOf no longer
// places b in the arena.
func (p *Program) moveOutOfArena(b *buffer) {
	own := make([]uint64, (b.n*b.dt.Size()+7)/8)
	b.p = unsafe.Pointer(&own[0])
	p.slots = slices.DeleteFunc(p.slots, func(s arenaSlot) bool { return s.b == b })
	if p.outOfArena == nil {
		p.outOfArena = map[*buffer]bool{}
	}
	p.outOfArena[b] = true
}
