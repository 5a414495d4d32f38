// This file implements the reductions: sum, mean, reduce_max,
// logsumexp, reduce_to (a sum over broadcast dims) and argmax.

package cpu

import (
	"math"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildReduce, ir.OpSum, ir.OpMean, ir.OpReduceMax, ir.OpLogSumExp, ir.OpReduceTo)
	register(buildArgMax, ir.OpArgMax)
}

// reduceKernel combines, for each result element j, the elements of x at
// base[j] + red[r] for r in [0, len(red)), in that order, so the result
// does not depend on how outputs are split over cores. Sums accumulate in
// float64.
type reduceKernel[T numeric] struct {
	op     ir.Op
	base   []int // per result element, its first x offset
	red    []int // offsets of the reduced elements relative to base
	dense  bool  // red is 0, 1, …: a contiguous run
	x, out *buffer
	pool   *parallel.Pool
}

func (k *reduceKernel[T]) run() error {
	parFor(k.pool, len(k.base), len(k.red), k)
	return nil
}

func (k *reduceKernel[T]) Range(lo, hi int) {
	x, o := view[T](k.x), view[T](k.out)
	R := len(k.red)
	for j := lo; j < hi; j++ {
		b := k.base[j]
		switch k.op {
		case ir.OpSum, ir.OpMean, ir.OpReduceTo:
			s := 0.0
			if k.dense {
				for _, e := range x[b : b+R] {
					s += float64(e)
				}
			} else {
				for _, r := range k.red {
					s += float64(x[b+r])
				}
			}
			if k.op == ir.OpMean {
				s /= float64(R)
			}
			o[j] = T(s)
		case ir.OpReduceMax:
			o[j] = k.max(x, b)
		case ir.OpLogSumExp:
			m := float64(k.max(x, b))
			s := 0.0
			for _, r := range k.red {
				s += math.Exp(float64(x[b+r]) - m)
			}
			o[j] = T(m + math.Log(s))
		}
	}
}

// max returns the largest reduced element at base b (NaN if any is NaN),
// or the lowest value of T when nothing is reduced.
func (k *reduceKernel[T]) max(x []T, b int) T {
	if len(k.red) == 0 {
		return lowest[T]()
	}
	m := x[b+k.red[0]]
	for _, r := range k.red[1:] {
		m = max(m, x[b+r])
	}
	return m
}

// lowest returns -Inf for floats and the minimum of integer types.
func lowest[T numeric]() T {
	var z T
	switch any(z).(type) {
	case float32:
		return T(math.Inf(-1))
	case int32:
		v := int64(math.MinInt32)
		return T(v)
	}
	v := int64(math.MinInt64)
	return T(v)
}

// reduceOffsets returns, for x of shape s reduced over the axes marked in
// reduced, the base offset of every result element (in row-major order
// of the kept axes) and the offsets of the reduced elements.
func reduceOffsets(s ir.Shape, reduced []bool) (base, red []int) {
	st := s.Strides()
	kept, redShape := s.Clone(), s.Clone()
	for i, r := range reduced {
		if r {
			kept[i] = 1
		} else {
			redShape[i] = 1
		}
	}
	return offsetsOf(kept, st), offsetsOf(redShape, st)
}

// offsetsOf lists Σ idx[i]·st[i] for every index of shape s in row-major
// order.
func offsetsOf(s ir.Shape, st []int) []int {
	n := s.NumElements()
	offs := make([]int, n)
	idx := make([]int, len(s))
	for k := range n {
		o := 0
		for i, j := range idx {
			o += j * st[i]
		}
		offs[k] = o
		for i := len(s) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < s[i] {
				break
			}
			idx[i] = 0
		}
	}
	return offs
}

func buildReduce(c *compileCtx, v *ir.Value) (kernel, error) {
	xs := v.Args[0].Type.Shape
	reduced := make([]bool, len(xs))
	if v.Op == ir.OpReduceTo {
		off := len(xs) - v.Type.Rank()
		for i, d := range xs {
			reduced[i] = i < off || (v.Type.Shape[i-off] == 1 && d != 1)
		}
	} else {
		for _, a := range v.Aux.(ir.ReduceAttr).Axes {
			reduced[a] = true
		}
	}
	base, red := reduceOffsets(xs, reduced)
	dense := true
	for i, r := range red {
		dense = dense && r == i
	}
	x, out := c.buf(v.Args[0]), c.buf(v)
	if v.Type.DType == ir.F32 && (v.Op == ir.OpSum || v.Op == ir.OpMean || v.Op == ir.OpReduceTo) {
		return newSumWalk(xs, reduced, v.Op == ir.OpMean, x, out, c.pool), nil
	}
	switch v.Type.DType {
	case ir.F32:
		return &reduceKernel[float32]{v.Op, base, red, dense, x, out, c.pool}, nil
	case ir.I32:
		return &reduceKernel[int32]{v.Op, base, red, dense, x, out, c.pool}, nil
	case ir.I64:
		return &reduceKernel[int64]{v.Op, base, red, dense, x, out, c.pool}, nil
	}
	return nil, unsupported(v, v.Type)
}

// argMaxKernel finds the first maximum along an axis of x viewed as
// [outer, A, inner].
type argMaxKernel[T numeric] struct {
	outer, A, inner int
	x, out          *buffer
	pool            *parallel.Pool
}

func (k *argMaxKernel[T]) run() error { parFor(k.pool, k.outer*k.inner, k.A, k); return nil }

func (k *argMaxKernel[T]) Range(lo, hi int) {
	x, o := view[T](k.x), view[int64](k.out)
	for j := lo; j < hi; j++ {
		b := j/k.inner*k.A*k.inner + j%k.inner
		best := 0
		for a := 1; a < k.A; a++ {
			if x[b+a*k.inner] > x[b+best*k.inner] {
				best = a
			}
		}
		o[j] = int64(best)
	}
}

func buildArgMax(c *compileCtx, v *ir.Value) (kernel, error) {
	s := v.Args[0].Type.Shape
	axis := v.Aux.(ir.ArgMaxAttr).Axis
	outer, inner := s[:axis].NumElements(), s[axis+1:].NumElements()
	x, out := c.buf(v.Args[0]), c.buf(v)
	switch x.dt {
	case ir.F32:
		return &argMaxKernel[float32]{outer, s[axis], inner, x, out, c.pool}, nil
	case ir.I32:
		return &argMaxKernel[int32]{outer, s[axis], inner, x, out, c.pool}, nil
	case ir.I64:
		return &argMaxKernel[int64]{outer, s[axis], inner, x, out, c.pool}, nil
	}
	return nil, unsupported(v, v.Type)
}

// sumWalk sums f32 x over some of its dims by walking x in memory order:
// x is cut into segments of adjacent dims that are all reduced or all
// kept (merged, size-1 dims dropped); an innermost reduced segment is a
// contiguous run summed with four float64 accumulators, an innermost kept
// one a row added into a float64 accumulator per output. Each output gets
// its contributions in x's memory order whatever the split: the work is
// split over the cores only along a kept outermost segment.
type sumWalk struct {
	lens    []int  // per segment, its length
	xstr    []int  // per segment, its stride in x
	ostr    []int  // per segment, its stride in the output (0 if reduced)
	red     []bool // per segment, reduced
	count   int    // reduced elements per output
	mean    bool
	acc     []float64
	x, out  *buffer
	pool    *parallel.Pool
	outerOK bool // the outermost segment is kept: split over it
	colsOK  bool // else x is [rows (reduced), n (kept)] (bias gradients): split over the n columns
	// runSums (else, when the innermost segment is reduced and there are
	// several runs): each run's sumRun, computed over the cores (sumRuns,
	// 4 runs per item), then added into the outputs in memory order, as
	// the serial walk does (LeNet's conv bias gradients: 64·6 and 64·16
	// runs into 6 and 16 outputs).
	runSums []float64
}

// sumRunGroups computes the run sums of items [lo, hi), 4 runs each.
type sumRunGroups struct{ k *sumWalk }

func (g sumRunGroups) Range(lo, hi int) {
	k := g.k
	n := k.lens[len(k.lens)-1]
	r0, r1 := 4*lo, min(4*hi, len(k.runSums))
	sumRuns(k.runSums[r0:r1], f32s(k.x)[r0*n:], n, n)
}

// addRuns adds the run sums of segment s and the segments inside it, at
// output offset oo, into the accumulators, *r being the next run.
func (k *sumWalk) addRuns(s, oo int, r *int) {
	if s == len(k.lens)-1 {
		k.acc[oo] += k.runSums[*r]
		*r++
		return
	}
	for i := range k.lens[s] {
		k.addRuns(s+1, oo+i*k.ostr[s], r)
	}
}

func newSumWalk(xs ir.Shape, reduced []bool, mean bool, x, out *buffer, pool *parallel.Pool) *sumWalk {
	k := &sumWalk{mean: mean, x: x, out: out, pool: pool, acc: make([]float64, out.n), count: 1}
	st := xs.Strides()
	for i, d := range xs {
		if d == 1 {
			continue
		}
		if reduced[i] {
			k.count *= d
		}
		n := len(k.lens)
		if n > 0 && k.red[n-1] == reduced[i] && k.xstr[n-1] == d*st[i] {
			k.lens[n-1] *= d
			k.xstr[n-1] = st[i]
			continue
		}
		k.lens = append(k.lens, d)
		k.xstr = append(k.xstr, st[i])
		k.red = append(k.red, reduced[i])
	}
	k.ostr = make([]int, len(k.lens))
	o := 1
	for i := len(k.lens) - 1; i >= 0; i-- {
		if !k.red[i] {
			k.ostr[i] = o
			o *= k.lens[i]
		}
	}
	k.outerOK = len(k.lens) > 1 && !k.red[0]
	k.colsOK = len(k.lens) == 2 && k.red[0] && !k.red[1] && k.xstr[1] == 1 && k.lens[1] >= 2*minSumCols
	if last := len(k.lens) - 1; !k.outerOK && !k.colsOK && last >= 1 && k.red[last] && k.xstr[last] == 1 && k.lens[last] >= 4 {
		k.runSums = make([]float64, x.n/k.lens[last])
	}
	return k
}

// minSumCols is the fewest columns of the innermost kept segment a core
// takes when a sum over the outer rows is split by columns.
const minSumCols = 16

func (k *sumWalk) run() error {
	if k.x.n == 0 { // nothing to add: zeros (NaN for a mean)
		clear(k.acc)
		k.Range(0, 0)
		return nil
	}
	switch {
	case k.outerOK:
		parFor(k.pool, k.lens[0], k.x.n/k.lens[0], k)
	case k.colsOK:
		// Every column adds its rows in the same order as the serial
		// walk: the split changes no bit of the result.
		n := k.lens[len(k.lens)-1]
		parFor(k.pool, n/minSumCols, minSumCols*(k.x.n/n), sumCols{k})
	case k.runSums != nil && simdOn:
		// The runs of x one after another: sum them over the cores, then
		// add the sums in the serial walk's order (bit-identical).
		n := k.lens[len(k.lens)-1]
		parFor(k.pool, (len(k.runSums)+3)/4, 4*n, sumRunGroups{k})
		clear(k.acc)
		r := 0
		k.addRuns(0, 0, &r)
		k.emit(0, k.out.n)
	default:
		k.Range(0, 1)
	}
	return nil
}

// sumCols sums the columns [lo·minSumCols, hi·minSumCols) of x [rows,
// n] over its rows (the last chunk takes the remainder of n).
type sumCols struct{ k *sumWalk }

func (c sumCols) Range(lo, hi int) {
	k := c.k
	rows, n := k.lens[0], k.lens[1]
	clo, chi := lo*minSumCols, hi*minSumCols
	if chi > n-minSumCols {
		chi = n
	}
	x, o := f32s(k.x), f32s(k.out)
	acc := k.acc[clo:chi]
	clear(acc)
	nv := 0 // columns the vector kernel takes, each summed in the same order
	if simdOn && rows > 0 {
		nv = (chi - clo) &^ 3
		if nv > 0 {
			colSumBlocks(acc, x[clo:], rows, nv, k.xstr[0])
		}
	}
	for r := range rows {
		for i, e := range x[r*k.xstr[0]+clo+nv:][:chi-clo-nv] {
			acc[nv+i] += float64(e)
		}
	}
	for i, a := range acc {
		if k.mean {
			o[clo+i] = float32(a * (1 / float64(k.count)))
		} else {
			o[clo+i] = float32(a)
		}
	}
}

func (k *sumWalk) Range(lo, hi int) {
	x, o := f32s(k.x), f32s(k.out)
	if len(k.lens) == 0 { // a scalar, or only size-1 dims
		if len(x) > 0 {
			o[0] = x[0]
		}
		return
	}
	var olo, ohi int
	if k.x.n == 0 {
		olo, ohi = 0, len(o)
	} else if k.outerOK {
		olo, ohi = lo*k.ostr[0], hi*k.ostr[0]
		acc := k.acc[olo:ohi]
		clear(acc)
		for i := lo; i < hi; i++ {
			k.walk(x, 1, i*k.xstr[0], i*k.ostr[0])
		}
	} else {
		olo, ohi = 0, len(o)
		clear(k.acc)
		k.walk(x, 0, 0, 0)
	}
	k.emit(olo, ohi)
}

// emit writes outputs [olo, ohi) from their accumulators.
func (k *sumWalk) emit(olo, ohi int) {
	o := f32s(k.out)
	scale := 1.0
	if k.mean {
		scale = 1 / float64(k.count)
	}
	for i := olo; i < ohi; i++ {
		if k.mean {
			o[i] = float32(k.acc[i] * scale)
		} else {
			o[i] = float32(k.acc[i])
		}
	}
}

// walk adds segment s and the segments inside it, at x offset xo and
// output offset oo, into the accumulators.
func (k *sumWalk) walk(x []float32, s, xo, oo int) {
	n := k.lens[s]
	if s == len(k.lens)-2 && k.red[s+1] && simdOn && k.lens[s+1] >= 4 {
		// Runs side by side: sumRuns computes the sums of up to 64 runs
		// first, and they are added in the same order as one by one.
		var sums [64]float64
		rn := k.lens[s+1]
		for i0 := 0; i0 < n; i0 += len(sums) {
			m := min(len(sums), n-i0)
			sumRuns(sums[:m], x[xo+i0*k.xstr[s]:], rn, k.xstr[s])
			for i, e := range sums[:m] {
				k.acc[oo+(i0+i)*k.ostr[s]] += e
			}
		}
		return
	}
	if s == len(k.lens)-2 && k.red[s] && !k.red[s+1] && k.xstr[s+1] == 1 && simdOn && k.lens[s+1] >= 4 {
		// Rows of a kept run (a mean over the middle axis): the vector
		// column sums, each column adding its rows in order as below.
		cols := k.lens[s+1]
		nv := cols &^ 3
		acc := k.acc[oo:][:cols]
		colSumBlocks(acc, x[xo:], n, nv, k.xstr[s])
		if nv < cols {
			for r := range n {
				for i, e := range x[xo+r*k.xstr[s]+nv:][:cols-nv] {
					acc[nv+i] += float64(e)
				}
			}
		}
		return
	}
	if s == len(k.lens)-1 {
		if k.red[s] {
			k.acc[oo] += sumRun(x[xo:][:n])
			return
		}
		acc := k.acc[oo:][:n]
		for i, e := range x[xo:][:n] {
			acc[i] += float64(e)
		}
		return
	}
	for i := range n {
		k.walk(x, s+1, xo+i*k.xstr[s], oo+i*k.ostr[s])
	}
}

// colSumBlocks adds x[r·stride+i] into acc[i] for rows rows and n (a
// multiple of 4, ≥ 4) columns by colSumAVX2, a block of rows at a time:
// each column still adds its rows in order (the same bits), but the
// kernel's 32- and 16-column strips walk a block that stays in L1 instead of
// every row of x once per strip (W4's bias gradients, 2048 rows of 128 or
// 512 columns: −40% in isolation).
func colSumBlocks(acc []float64, x []float32, rows, n, stride int) {
	if rows <= 0 {
		return
	}
	_ = acc[n-1]
	_ = x[(rows-1)*stride+n-1]
	rb := min(max(2048/n, 8), 64)
	pf := colSumPrefetch && rows*n >= colSumPrefetchMin
	if pf {
		prefetchRows(&x[0], min(colSumAhead*rb, rows), stride, n)
	}
	for r0 := 0; r0 < rows; r0 += rb {
		if r := r0 + colSumAhead*rb; pf && r < rows {
			prefetchRows(&x[r*stride], min(rb, rows-r), stride, n)
		}
		colSumAVX2(&acc[0], &x[r0*stride], min(rb, rows-r0), n, stride)
	}
}

// colSumPrefetch makes colSumBlocks ask for the cache lines of the
// block colSumAhead blocks ahead while it sums one (sums of at least
// colSumPrefetchMin elements): the strips of a block read its rows a
// row apart, which the hardware prefetchers follow late, so x that had
// left L2 for L3 (a gradient written several steps before) took twice
// the time of x in L2 (BenchmarkColSumCold: −20%; W4's bias gradients
// of the attention output and ff2 75–91 → 35–43 µs of one thread). x in
// DRAM stays bound by it (about 95 µs per MiB on one core here, with or
// without): W4's q/k/v gradients after attention_backward, whose saved
// weights stream through the caches.
var colSumPrefetch = true

const (
	colSumAhead       = 4
	colSumPrefetchMin = 64 * 1024
)

// sumRuns sets s[r] to sumRun of x[r·stride:][:n], bit for bit, four runs
// at a time by sumRuns4AVX2 (simdOn, n ≥ 4): sumRun alone is bound by
// the latency of its adds (LeNet's conv1 bias gradient, 64·6 runs of
// 784, took 127 µs).
func sumRuns(s []float64, x []float32, n, stride int) {
	if len(s) == 0 {
		return
	}
	_ = x[(len(s)-1)*stride+n-1]
	r := 0
	if simdOn && n >= 4 {
		var lanes [16]float64
		n4 := n &^ 3
		for ; r+4 <= len(s); r += 4 {
			sumRuns4AVX2(&x[r*stride], n4, stride, &lanes)
			for j := range 4 {
				l := lanes[4*j:][:4]
				s0 := l[0]
				for _, e := range x[(r+j)*stride+n4:][:n-n4] {
					s0 += float64(e)
				}
				s[r+j] = (s0 + l[1]) + (l[2] + l[3])
			}
		}
	}
	for ; r < len(s); r++ {
		s[r] = sumRun(x[r*stride:][:n])
	}
}

// sumRun is the float64 sum of a run with four independent accumulators.
func sumRun(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}
