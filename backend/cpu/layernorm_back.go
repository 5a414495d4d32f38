// This file fuses layernorm's backward ops on one x and dy —
// layernorm_backward_input, layernorm_backward_weight and the bias
// gradient reduce_to(dy) — into one pass over blocks of rows, and reads
// a dy broadcast along rows (mean pooling's gradient) in place.

package cpu

import (
	"unsafe"

	"github.com/encc-lang/encc/ir"
)

// lnBackOn enables fuseLayerNormBackward (tests turn it off to compare).
var lnBackOn = true

// lnBackBlock returns the rows of a block of the fused backward: 4096
// elements' worth (32 rows of 128, 32 KiB of x and dy, which stay in L1
// between the two halves of the block's work), more where that would
// make over 64 blocks (the partial sums' memory). A function of the
// shape alone, so that the sums do not depend on the thread count.
func lnBackBlock(rows, D int) int {
	return max(1, 4096/max(1, D), (rows+63)/64)
}

// lnBackward is layernorm's backward fused (fuseLayerNormBackward): each
// block of rows writes its rows of dx (the backward input op's own
// code, the same bits) and then, while they are in cache, adds its rows'
// dy·x̂ and dy into its own float64 column sums; run adds the blocks'
// sums in block order into the weight and bias gradients. The order of
// each column's adds is fixed by the shape (not by the split over
// cores): the sums differ from the separate ops' (rows in order) in the
// last bits only.
type lnBackward struct {
	k      *layerNormKernel // the backward input op: x, w, dy (k.b), dx (k.out)
	dw, db *buffer          // the weight and bias gradients; nil where not fused
	st     []float64        // every row's mean and 1/σ (k.saved or k.keep)
	rb, nb int              // rows per block, blocks
	part   []float64        // per block: D weight sums, then D bias sums
	acc    []float64        // the blocks' sums added, 2·D
}

func newLnBackward(k *layerNormKernel, dw, db *buffer) *lnBackward {
	f := &lnBackward{k: k, dw: dw, db: db, st: k.saved}
	if f.st == nil {
		k.keep = make([]float64, 2*k.rows)
		f.st = k.keep
	}
	f.rb = lnBackBlock(k.rows, k.D)
	f.nb = (k.rows + f.rb - 1) / f.rb
	f.part = make([]float64, 2*k.D*f.nb)
	f.acc = make([]float64, 2*k.D)
	return f
}

func (f *lnBackward) run() error {
	k := f.k
	D := k.D
	parFor(k.pool, f.nb, 10*f.rb*D, f)
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

// Range does blocks [lo, hi): dx, then the block's column sums.
func (f *lnBackward) Range(lo, hi int) {
	k := f.k
	D := k.D
	x, dy := f32s(k.x), f32s(k.b)
	nv := 0 // columns the vector kernel takes, the same operations per column
	if simdOn {
		nv = D &^ 3
	}
	for b := lo; b < hi; b++ {
		r0, r1 := b*f.rb, min((b+1)*f.rb, k.rows)
		k.Range(r0, r1)
		p := f.part[2*D*b:][:2*D]
		clear(p)
		dw, db := p[:D], p[D:]
		// Runs of rows whose dy rows are evenly spaced: all of them, or
		// with a broadcast dy the rows of one dy row (stride 0).
		for r := r0; r < r1; {
			e, dr, ds := r1, r, D
			if k.dyRep > 1 {
				e, dr, ds = min(r1, (r/k.dyRep+1)*k.dyRep), r/k.dyRep, 0
			}
			if nv > 0 {
				lnCol2AVX2(&dw[0], &db[0], &x[r*D], &dy[dr*D], &f.st[2*r], e-r, nv, D, ds)
			}
			if nv < D {
				for i := r; i < e; i++ {
					xr, g := x[i*D:][:D], dy[dr*D+(i-r)*ds:][:D]
					mean, rstd := f.st[2*i], f.st[2*i+1]
					for j := nv; j < D; j++ {
						dw[j] += float64(g[j]) * (float64(xr[j]) - mean) * rstd
						db[j] += float64(g[j])
					}
				}
			}
			r = e
		}
	}
}

// fuseLayerNormBackward joins each layernorm_backward_input to the
// layernorm_backward_weight and the reduce_to (bias gradient: dy summed
// over its rows) on the same x and dy, where the graph has them, in one
// step at the input op's place (lnBackward); and where dy is a
// broadcast_to along rows read by these ops alone, the step reads the
// broadcast's source in place and the broadcast's step goes (W4/W5: the
// last layernorm's dy is mean pooling's gradient, [32,1,128] made
// [32,64,128]). The weight and bias gradients move to the input op's
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
		// B·S·D) into storage of the fused step's own, which reads it in
		// place (the source's slot may be dx's: it dies at the broadcast).
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
