// This file implements data movement: reshape (when not aliased),
// permute, broadcast_to, slice, slice_backward, concat, gather,
// scatter_add and one_hot. Copies move elements as unsigned words of the
// element's size, so one kernel serves every dtype.

package cpu

import (
	"fmt"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildCopy, ir.OpReshape, ir.OpPermute, ir.OpBroadcastTo, ir.OpSlice, ir.OpSliceBackward, ir.OpConcat)
	register(buildGather, ir.OpGather)
	register(buildScatterAdd, ir.OpScatterAdd)
	register(buildOneHot, ir.OpOneHot)
}

// word is the unsigned type a copy moves elements as.
type word interface{ uint8 | uint32 | uint64 }

// A copyPart copies the elements of one operand: loop operand 0 walks
// the destination from dstBase, operand 1 the source from srcBase.
type copyPart struct {
	src              *buffer
	l                *ndLoop
	dstBase, srcBase int
}

// copyKernel runs its parts in order, each split over the pool; zero
// clears the destination first (slice_backward).
type copyKernel[T word] struct {
	parts []copyPart
	out   *buffer
	zero  bool
	cur   *copyPart
	pool  *parallel.Pool
}

func (k *copyKernel[T]) run() error {
	if k.zero {
		clear(bytesOf(k.out))
	}
	for i := range k.parts {
		k.cur = &k.parts[i]
		parFor(k.pool, k.cur.l.nitems, k.cur.l.blk, k)
	}
	k.cur = nil
	return nil
}

func (k *copyKernel[T]) Range(lo, hi int) {
	p := k.cur
	dst, src := view[T](k.out)[p.dstBase:], view[T](p.src)[p.srcBase:]
	sd, ss := p.l.istr[0], p.l.istr[1]
	var offs [maxOps]int
	for it := lo; it < hi; it++ {
		n := p.l.item(it, offs[:])
		d, s := dst[offs[0]:], src[offs[1]:]
		if sd == 1 && ss == 1 {
			copy(d[:n], s[:n])
			continue
		}
		id, is := 0, 0
		for range n {
			d[id] = s[is]
			id, is = id+sd, is+ss
		}
	}
}

func newCopy[T word](parts []copyPart, out *buffer, zero bool, pool *parallel.Pool) kernel {
	return &copyKernel[T]{parts: parts, out: out, zero: zero, pool: pool}
}

func buildCopy(c *compileCtx, v *ir.Value) (kernel, error) {
	x := v.Args[0]
	os, xs := v.Type.Shape, x.Type.Shape
	var parts []copyPart
	zero := false
	switch v.Op {
	case ir.OpReshape:
		parts = []copyPart{{src: c.buf(x), l: newLoop(ir.Shape{os.NumElements()}, []int{1}, []int{1})}}
	case ir.OpPermute:
		xst := xs.Strides()
		st := make([]int, len(os))
		for i, p := range v.Aux.(ir.PermuteAttr).Perm {
			st[i] = xst[p]
		}
		parts = []copyPart{{src: c.buf(x), l: newLoop(os, contiguous(os), st)}}
	case ir.OpBroadcastTo:
		parts = []copyPart{{src: c.buf(x), l: newLoop(os, contiguous(os), bcastStrides(os, xs))}}
	case ir.OpSlice, ir.OpSliceBackward:
		at := v.Aux.(ir.SliceAttr)
		full, part := xs, os // slice: read a window of x
		if v.Op == ir.OpSliceBackward {
			full, part = os, xs // write dy into a window of the result
		}
		fst := full.Strides()
		win, base := make([]int, len(full)), 0
		for i := range full {
			win[i] = fst[i] * at.Step[i]
			base += at.Start[i] * fst[i]
		}
		if v.Op == ir.OpSlice {
			parts = []copyPart{{src: c.buf(x), l: newLoop(part, contiguous(part), win), srcBase: base}}
		} else {
			parts = []copyPart{{src: c.buf(x), l: newLoop(part, win, contiguous(part)), dstBase: base}}
			zero = true
		}
	case ir.OpConcat:
		axis := v.Aux.(ir.AxisAttr).Axis
		ost := os.Strides()
		off := 0
		for _, a := range v.Args {
			s := a.Type.Shape
			parts = append(parts, copyPart{src: c.buf(a), l: newLoop(s, ost, contiguous(s)), dstBase: off * ost[axis]})
			off += s[axis]
		}
	}
	out := c.buf(v)
	switch v.Type.DType.Size() {
	case 1:
		return newCopy[uint8](parts, out, zero, c.pool), nil
	case 4:
		return newCopy[uint32](parts, out, zero, c.pool), nil
	case 8:
		return newCopy[uint64](parts, out, zero, c.pool), nil
	}
	return nil, unsupported(v, v.Type)
}

// idError reports an id outside [0, n).
func idError(id int64, n int) error { return fmt.Errorf("id %d out of range [0,%d)", id, n) }

// ids returns the ids of an i32 or i64 buffer as int64 at i.
func idAt(b *buffer, i int) int64 {
	if b.dt == ir.I32 {
		return int64(view[int32](b)[i])
	}
	return view[int64](b)[i]
}

// gatherKernel copies rows table[ids[i]] to row i of the result: the ids
// checked first, then the rows copied over the cores.
type gatherKernel[T word] struct {
	rows, row       int // table rows and elements per row
	table, ids, out *buffer
	pool            *parallel.Pool
}

func (k *gatherKernel[T]) run() error {
	for i := range k.ids.n {
		if id := idAt(k.ids, i); id < 0 || id >= int64(k.rows) {
			return idError(id, k.rows)
		}
	}
	parFor(k.pool, k.ids.n, k.row, k)
	return nil
}

func (k *gatherKernel[T]) Range(lo, hi int) {
	t, o := view[T](k.table), view[T](k.out)
	for i := lo; i < hi; i++ {
		copy(o[i*k.row:(i+1)*k.row], t[int(idAt(k.ids, i))*k.row:][:k.row])
	}
}

func buildGather(c *compileCtx, v *ir.Value) (kernel, error) {
	ts := v.Args[0].Type.Shape
	rows, row := ts[0], ts[1:].NumElements()
	t, ids, out := c.buf(v.Args[0]), c.buf(v.Args[1]), c.buf(v)
	switch v.Type.DType.Size() {
	case 1:
		return &gatherKernel[uint8]{rows: rows, row: row, table: t, ids: ids, out: out, pool: c.pool}, nil
	case 4:
		return &gatherKernel[uint32]{rows: rows, row: row, table: t, ids: ids, out: out, pool: c.pool}, nil
	case 8:
		return &gatherKernel[uint64]{rows: rows, row: row, table: t, ids: ids, out: out, pool: c.pool}, nil
	}
	return nil, unsupported(v, v.Type)
}

// scatterAddKernel adds row i of updates into row ids[i] of zeros, in
// order of i, so colliding ids add deterministically. The ids are
// checked first; then the result's rows are split over the cores, each
// task clearing its rows and adding, in order of i, the updates whose
// id falls among them: every row gets the same adds in the same order
// whatever the split.
type scatterAddKernel[T numeric] struct {
	rows, row     int
	ids, upd, out *buffer
	pool          *parallel.Pool
}

func (k *scatterAddKernel[T]) run() error {
	for i := range k.ids.n {
		if id := idAt(k.ids, i); id < 0 || id >= int64(k.rows) {
			return idError(id, k.rows)
		}
	}
	// Per result row: its clear and its share of the adds.
	parFor(k.pool, k.rows, k.row+k.ids.n*k.row/max(1, k.rows), k)
	return nil
}

func (k *scatterAddKernel[T]) Range(lo, hi int) {
	u, o := view[T](k.upd), view[T](k.out)
	clear(o[lo*k.row : hi*k.row])
	for i := range k.ids.n {
		id := int(idAt(k.ids, i))
		if id < lo || id >= hi {
			continue
		}
		// dst += the update row (float32 by the vector add, the same bits)
		dst := o[id*k.row:][:k.row]
		binaryInner(ir.OpAdd, dst, dst, 1, u[i*k.row:(i+1)*k.row], 1)
	}
}

func buildScatterAdd(c *compileCtx, v *ir.Value) (kernel, error) {
	rows, row := v.Type.Shape[0], v.Type.Shape[1:].NumElements()
	ids, upd, out := c.buf(v.Args[0]), c.buf(v.Args[1]), c.buf(v)
	switch v.Type.DType {
	case ir.F32:
		return &scatterAddKernel[float32]{rows, row, ids, upd, out, c.pool}, nil
	case ir.I32:
		return &scatterAddKernel[int32]{rows, row, ids, upd, out, c.pool}, nil
	case ir.I64:
		return &scatterAddKernel[int64]{rows, row, ids, upd, out, c.pool}, nil
	}
	return nil, unsupported(v, v.Type)
}

// oneHotKernel writes 1 at each id of a zeroed [ids…, depth] result.
type oneHotKernel[T scalar] struct {
	depth    int
	ids, out *buffer
}

func (k *oneHotKernel[T]) run() error {
	o := view[T](k.out)
	clear(o)
	for i := range k.ids.n {
		id := idAt(k.ids, i)
		if id < 0 || id >= int64(k.depth) {
			return idError(id, k.depth)
		}
		o[i*k.depth+int(id)] = 1
	}
	return nil
}

func buildOneHot(c *compileCtx, v *ir.Value) (kernel, error) {
	depth := v.Type.Shape[v.Type.Rank()-1]
	ids, out := c.buf(v.Args[0]), c.buf(v)
	switch v.Type.DType {
	case ir.F32:
		return &oneHotKernel[float32]{depth, ids, out}, nil
	case ir.I32:
		return &oneHotKernel[int32]{depth, ids, out}, nil
	case ir.I64:
		return &oneHotKernel[int64]{depth, ids, out}, nil
	}
	return &oneHotKernel[uint8]{depth, ids, out}, nil
}

// gatherAdd is a gather of f32 rows and the add that reads it
// (fuseGatherAdd): row i of the result is table[ids[i]] + y's row i mod
// (y's rows), y being the add's other operand, the result's shape or a
// trailing part of it (the position embeddings added to the token
// embeddings of a batch). The sums are the add's float32 sums.
type gatherAdd struct {
	g      *gatherKernel[uint32]
	y, out *buffer
}

func (k *gatherAdd) run() error {
	g := k.g
	for i := range g.ids.n {
		if id := idAt(g.ids, i); id < 0 || id >= int64(g.rows) {
			return idError(id, g.rows)
		}
	}
	parFor(g.pool, g.ids.n, 2*g.row, k)
	return nil
}

func (k *gatherAdd) Range(lo, hi int) {
	row := k.g.row
	t, y, o := f32s(k.g.table), f32s(k.y), f32s(k.out)
	for i := lo; i < hi; i++ {
		yo := i * row % len(y)
		addF32(o[i*row:(i+1)*row], t[int(idAt(k.g.ids, i))*row:][:row], y[yo:yo+row])
	}
}

// gatherAddOn enables fuseGatherAdd (tests turn it off to compare).
var gatherAddOn = true

// fuseGatherAdd folds a gather of f32 rows into the add that is its only
// reader, when the add's other operand y is the result's shape or a
// trailing part of it holding whole rows: the add's step computes
// table[ids[i]] + y directly and the gather's step and its result go (W4
// and W5: token embeddings plus position embeddings, one 1 MiB write and
// its read back less). The add may come a few steps later: every step
// in between must be one that writes only its own result (stageable's,
// or another gather), apart from the table and the ids; the result must
// be apart from y (the arena may give it y's slot when y dies at the
// add) and from the table.
func (p *Program) fuseGatherAdd() {
	if !gatherAddOn {
		return
	}
	uses := p.useMap()
	spanOf := p.spanOf()
	at := map[*ir.Value]int{}
	for i, s := range p.steps {
		at[s.v] = i
	}
	drop := map[int]bool{}
	for j, s := range p.steps {
		add, ok := s.k.(*binaryKernel[float32])
		if !ok || add.op != ir.OpAdd {
			continue
		}
		for side, gv := range s.v.Args {
			i, ok := at[gv]
			if !ok || i >= j || drop[i] || len(uses[gv]) != 1 {
				continue
			}
			g, ok := p.steps[i].k.(*gatherKernel[uint32])
			if !ok || gv.Type.DType != ir.F32 || !gv.Type.Shape.Equal(s.v.Type.Shape) {
				continue
			}
			yv := s.v.Args[1-side]
			ys, os := yv.Type.Shape, s.v.Type.Shape
			if len(ys) > len(os) || !ys.Equal(os[len(os)-len(ys):]) || yv.Type.NumElements()%g.row != 0 || yv.Type.NumElements() == 0 {
				continue
			}
			y, out := p.bufs[yv], add.out
			so := spanOf(out)
			if so.overlaps(spanOf(y)) || so.overlaps(spanOf(g.table)) || so.overlaps(spanOf(g.ids)) {
				continue
			}
			src := []span{spanOf(g.table), spanOf(g.ids)}
			between := true
			for _, t := range p.steps[i+1 : j] {
				var writes []span
				if tg, ok := t.k.(*gatherKernel[uint32]); ok {
					writes = []span{spanOf(tg.out)}
				} else if u, ok := p.stageable(t, spanOf); ok {
					writes = u.writes
				} else {
					between = false
					break
				}
				for _, w := range writes {
					if touches(src, w) {
						between = false
					}
				}
			}
			if !between {
				continue
			}
			p.steps[j].k = &gatherAdd{g: g, y: y, out: out}
			drop[i] = true
			break
		}
	}
	p.dropSteps(drop)
}
