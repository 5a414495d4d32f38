// This file fuses layernorm's backward ops on one x and dy —
// layernorm_backward_input, layernorm_backward_weight and the bias
// gradient reduce_to(dy) — into one pass over blocks of rows, and reads
// a dy broadcast along rows (mean pooling's gradient) from a copy of the
// broadcast's source instead of the broadcast.

package cpu

import (
	"unsafe"

	"github.com/encc-lang/encc/ir"
)

// lnBackOn enables fuseLayerNormBackward (tests turn it off to compare).
var lnBackOn = true

// lnBackBlock returns the rows of a block of the fused backward: 8192
// elements' worth, from 1 to 64 rows (64 of 128, W4/W5), more where that
// would make over 64 blocks (the partial sums' memory). A function of
// the shape alone, so that the sums do not depend on the thread count.
func lnBackBlock(rows, D int) int {
	return max(min(64, max(1, 8192/max(1, D))), (rows+63)/64)
}

// lnBackward is layernorm's backward fused (fuseLayerNormBackward): each
// block of rows writes its rows of dx (the backward input op's own
// code, the same bits) and, row by row as it goes (lnBackSumsAVX2), adds
// the rows' x̂·dy and dy into float64 column sums of its own; run adds
// the blocks' sums in block order into the weight and bias gradients.
// The order of each column's adds is fixed by the shape (not by the
// split over cores): the sums differ from the separate ops' (rows in
// order, (x-mean)·dy·rstd) in the last bits only.
type lnBackward struct {
	k      *layerNormKernel // the backward input op: x, w, dy (k.b), dx (k.out)
	dw, db *buffer          // the weight and bias gradients; nil where not fused
	rb, nb int              // rows per block, blocks
	part   []float64        // per block: D weight sums, then D bias sums
	acc    []float64        // the blocks' sums added, 2·D
}

func newLnBackward(k *layerNormKernel, dw, db *buffer) *lnBackward {
	f := &lnBackward{k: k, dw: dw, db: db}
	f.rb = lnBackBlock(k.rows, k.D)
	f.nb = (k.rows + f.rb - 1) / f.rb
	f.part = make([]float64, 2*k.D*f.nb)
	f.acc = make([]float64, 2*k.D)
	return f
}

func (f *lnBackward) run() error {
	k := f.k
	D := k.D
	parFor(k.pool, f.nb, 8*f.rb*D, f)
	acc := f.acc
	clear(acc)
	for b := range f.nb {
		p := f.part[2*D*b:][:2*D]
		for j, e := range p {
			acc[j] += e
		}
	}
	if f.dw != nil {
		dw := f32s(f.dw)[:D]
		for j := range dw {
			dw[j] = float32(acc[j])
		}
	}
	if f.db != nil {
		db := f32s(f.db)[:D]
		for j := range db {
			db[j] = float32(acc[D+j])
		}
	}
	return nil
}

// Range does blocks [lo, hi).
func (f *lnBackward) Range(lo, hi int) {
	k := f.k
	D := k.D
	for b := lo; b < hi; b++ {
		p := f.part[2*D*b:][:2*D]
		clear(p)
		k.rowRange(b*f.rb, min((b+1)*f.rb, k.rows), p[:D], p[D:])
	}
}

// fuseLayerNormBackward joins each layernorm_backward_input to the
// layernorm_backward_weight and the reduce_to (bias gradient: dy summed
// over its rows) on the same x and dy, where the graph has them, in one
// step at the input op's place (lnBackward); and where dy is a
// broadcast_to along rows read by these ops alone, the broadcast's step
// only copies its source (copyRows) and the fused step reads row r's dy
// at row r/R of the copy (W4/W5: the last layernorm's dy is mean
// pooling's gradient, [32,1,128] made [32,64,128]: 16 KiB copied
// instead of 1 MiB written and read three times). The weight and bias gradients move to the input op's
// place: the steps in between must neither touch their storage nor
// write x, w or dy (leaveAlone), and the results are apart from the
// operands. Runs after the passes that pair steps with products, before
// the stage pass.
func (p *Program) fuseLayerNormBackward() {
	if !lnBackOn {
		return
	}
	uses := p.useMap()
	spanOf := p.spanOf()
	at := map[*ir.Value]int{}
	for i, s := range p.steps {
		at[s.v] = i
	}
	drop := map[int]bool{}
	for i, s := range p.steps {
		k, ok := s.k.(*layerNormKernel)
		if !ok || k.op != ir.OpLayerNormBackwardInput || k.rows == 0 || k.D == 0 || k.tiled || drop[i] {
			continue
		}
		x, dyv := s.v.Args[0], s.v.Args[2]
		var dw, db *buffer
		members := map[int]bool{i: true}
		readers := 1 // dy's uses that are members
		for _, u := range uses[dyv] {
			j, ok := at[u]
			if u == nil || u == s.v || !ok || drop[j] || members[j] {
				continue
			}
			switch t := p.steps[j].k.(type) {
			case *layerNormKernel:
				if dw == nil && t.op == ir.OpLayerNormBackwardWeight && u.Args[0] == x && u.Args[1] == dyv &&
					t.eps == k.eps && t.rows == k.rows && t.D == k.D && !t.tiled {
					dw, members[j] = t.out, true
					readers++
				}
			case *sumWalk:
				if db == nil && u.Op == ir.OpReduceTo && t.x == k.b && t.sumsColumns(k.rows, k.D) {
					db, members[j] = t.out, true
					readers++
				}
			}
		}
		if dw == nil && db == nil {
			continue
		}
		lo, hi := i, i
		for j := range members {
			lo, hi = min(lo, j), max(hi, j)
		}
		var between []step
		for j := lo + 1; j < hi; j++ {
			if !members[j] {
				between = append(between, p.steps[j])
			}
		}
		xs, ws, dys, dxs := spanOf(k.x), spanOf(k.w), spanOf(k.b), spanOf(k.out)
		var owned []span
		for _, b := range []*buffer{dw, db} {
			if b != nil {
				owned = append(owned, spanOf(b))
			}
		}
		apart := !dxs.overlaps(xs) && !dxs.overlaps(dys)
		for a, o := range owned {
			for _, t := range append([]span{xs, ws, dys, dxs}, owned[a+1:]...) {
				apart = apart && !o.overlaps(t)
			}
		}
		if !apart || !p.leaveAlone(between, spanOf, []span{xs, ws, dys}, owned) {
			continue
		}
		// dy broadcast along rows, read by the fused ops alone: the
		// broadcast's step becomes a copy of its source (B·D floats, not
		// B·S·D) into storage of the fused step's own, which reads it
		// there (not the source itself: the source dies at the
		// broadcast, and the arena may give its slot to dx).
		f := newLnBackward(k, dw, db)
		if j, ok := at[dyv]; ok && dyv.Op == ir.OpBroadcastTo && j < i && readers == len(uses[dyv]) {
			if rep := rowBroadcast(dyv.Args[0].Type.Shape, dyv.Type.Shape); rep > 1 && p.bufs[dyv.Args[0]].dt == ir.F32 {
				src := p.bufs[dyv.Args[0]]
				own := make([]float32, src.n)
				dst := &buffer{p: unsafe.Pointer(&own[0]), n: src.n, dt: ir.F32}
				p.steps[j].k = copyRows{dst, src}
				k.b, k.dyRep = dst, rep
			}
		}
		p.steps[i].k = f
		for j := range members {
			if j != i {
				drop[j] = true
			}
		}
	}
	p.dropSteps(drop)
}

// rowBroadcast returns R > 1 where broadcasting a value of shape src to
// dst (the same last axis) repeats each of src's rows R times in a row
// (row r of the result is row r/R of src: the broadcast axes are the
// last ones before the last axis, or all of them), else 0.
func rowBroadcast(src, dst ir.Shape) int {
	n := len(dst)
	if n < 2 || len(src) > n || len(src) == 0 || src[len(src)-1] != dst[n-1] {
		return 0
	}
	full := make([]int, n) // src with leading ones
	for i := range full {
		full[i] = 1
	}
	copy(full[n-len(src):], src)
	rep, inRep := 1, false
	for i := 0; i < n-1; i++ {
		switch {
		case full[i] == dst[i] && !inRep:
		case full[i] == 1:
			inRep = true
			rep *= dst[i]
		default:
			return 0
		}
	}
	if rep <= 1 {
		return 0
	}
	return rep
}

// sumsColumns reports whether the walk sums x, rows × D floats stored
// row after row, over its rows into D results (a bias gradient).
func (k *sumWalk) sumsColumns(rows, D int) bool {
	if k.mean || k.x.n != rows*D || k.out.n != D {
		return false
	}
	switch len(k.lens) { // size-1 axes dropped
	case 2:
		return k.red[0] && !k.red[1] && k.lens[0] == rows && k.lens[1] == D && k.xstr[0] == D && k.xstr[1] == 1
	case 1:
		return rows == 1 && !k.red[0] && k.lens[0] == D && k.xstr[0] == 1 ||
			D == 1 && k.red[0] && k.lens[0] == rows && k.xstr[0] == 1
	}
	return false
}

// copyRows copies src into dst (the same length): a broadcast dy's
// source, kept for the fused layernorm backward that reads it.
type copyRows struct{ dst, src *buffer }

func (c copyRows) run() error {
	copy(f32s(c.dst), f32s(c.src))
	return nil
}
