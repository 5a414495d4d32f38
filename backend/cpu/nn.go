// This file implements the fused neural-network ops: softmax,
// log_softmax, layernorm and its backward ops, softmax cross entropy and
// its backward op, and dropout.

package cpu

import (
	"math"
	"sync/atomic"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildSoftmax, ir.OpSoftmax, ir.OpLogSoftmax)
	register(buildLayerNorm, ir.OpLayerNorm, ir.OpLayerNormBackwardInput, ir.OpLayerNormBackwardWeight)
	register(buildCrossEntropy, ir.OpSoftmaxCrossEntropy, ir.OpSoftmaxCrossEntropyBackward)
	register(buildDropout, ir.OpDropout)
}

// softmaxKernel normalizes the lines along an axis of x viewed as
// [outer, A, inner], in float64.
type softmaxKernel struct {
	log             bool
	outer, A, inner int
	x, out          *buffer
	pool            *parallel.Pool
}

func (k *softmaxKernel) run() error { parFor(k.pool, k.outer*k.inner, 4*k.A, k); return nil }

// expConsts are expSumAVX2's constants: clamp bounds, log2(e), 0.5, ln2
// in two parts, 1, and the polynomial (Cephes expf).
var expConsts = [16]float32{88.3762626647949, -88.3762626647949, 1.44269504088896341, 0.5,
	0.693359375, -2.12194440e-4, 1,
	1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1}

// expSum writes exp(x - shift) into o and returns the sum, 8 lanes at a
// time in float32 where the CPU has AVX2 (hasAVX2FMA: attention's
// softmax takes it whatever simdOn says, so that its tests compare the
// tile products alone), else one by one.
func expSum(o, x []float32, shift float32) float32 {
	x = x[:len(o)]
	i := 0
	if hasAVX2FMA {
		i = len(o) &^ 7
	}
	var s float32
	if i > 0 {
		s = expSumAVX2(&o[0], &x[0], i, shift, &expConsts)
	}
	for ; i < len(o); i++ {
		o[i] = float32(math.Exp(float64(x[i] - shift)))
		s += o[i]
	}
	return s
}

// expSum2 is expSum for two rows (simdOn, at least 8 elements each, the
// same length): the vector part of both side by side, so that their
// chains of dependent instructions overlap; each row's results are
// bit for bit expSum's.
func expSum2(o0, x0, o1, x1 []float32, shift0, shift1 float32) (float32, float32) {
	n := len(o0)
	x0, o1, x1 = x0[:n], o1[:n], x1[:n]
	i := n &^ 7
	s0, s1 := expSum2AVX2(&o0[0], &x0[0], &o1[0], &x1[0], i, shift0, shift1, &expConsts)
	for ; i < n; i++ {
		o0[i] = float32(math.Exp(float64(x0[i] - shift0)))
		s0 += o0[i]
		o1[i] = float32(math.Exp(float64(x1[i] - shift1)))
		s1 += o1[i]
	}
	return s0, s1
}

// rowsVector is softmax over contiguous rows with the vector exp: the
// row's max, exp(x - max) and its sum in float32, then a scale (or, for
// log_softmax, x - max - log(sum)).
func (k *softmaxKernel) rowsVector(x, o []float32, lo, hi int) {
	A := k.A
	for j := lo; j < hi; j++ {
		xr, or := x[j*A:][:A], o[j*A:][:A]
		m := maxF32(xr)
		s := expSum(or, xr, m)
		if k.log {
			l := m + float32(math.Log(float64(s)))
			for i, e := range xr {
				or[i] = e - l
			}
			continue
		}
		scaleF32(or, 1/s)
	}
}

func (k *softmaxKernel) Range(lo, hi int) {
	x, o := f32s(k.x), f32s(k.out)
	if k.inner == 1 && simdOn {
		k.rowsVector(x, o, lo, hi)
		return
	}
	for j := lo; j < hi; j++ {
		b, st := j/k.inner*k.A*k.inner+j%k.inner, k.inner
		m := math.Inf(-1)
		for a := range k.A {
			m = math.Max(m, float64(x[b+a*st]))
		}
		s := 0.0
		for a := range k.A {
			s += math.Exp(float64(x[b+a*st]) - m)
		}
		l := m + math.Log(s)
		for a := range k.A {
			if k.log {
				o[b+a*st] = float32(float64(x[b+a*st]) - l)
			} else {
				o[b+a*st] = float32(math.Exp(float64(x[b+a*st]) - l))
			}
		}
	}
}

func buildSoftmax(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, unsupported(v, v.Type)
	}
	s, axis := v.Type.Shape, v.Aux.(ir.AxisAttr).Axis
	return &softmaxKernel{v.Op == ir.OpLogSoftmax, s[:axis].NumElements(), s[axis], s[axis+1:].NumElements(),
		c.buf(v.Args[0]), c.buf(v), c.pool}, nil
}

// layerNormKernel runs layernorm or one of its backward ops over the
// rows of the last axis, with statistics in float64.
type layerNormKernel struct {
	op      ir.Op
	rows, D int
	eps     float64
	x, w, b *buffer // b: the bias (forward) or dy (backward input)
	dy, out *buffer // dy: backward weight's
	acc     []float64
	st      []float64 // backward weight: mean and 1/σ of every row
	// saved: the mean and 1/σ of every row, written by a forward for the
	// backward ops linked to it (shareLayerNormStats), which read them
	// instead of computing them again; nil where not linked.
	saved []float64
	// res (forward only): x = res[0] + res[1], the residual add just
	// before the layernorm, computed here row by row into x before the
	// row's statistics (fuseResidualLayerNorm); nil where not fused.
	res [2]*buffer
	// resOnly: the layernorm is the residual sum's only reader (a frozen
	// block's, whose backward does not run): the sum of a group of rows
	// goes to a scratch block on the stack instead of x, which is not
	// written (fuseResidualLayerNorm; rows of up to resScratch/4).
	resOnly bool
	// tiled: the product that computes x, or a term of it, does its
	// rows in its epilogue (foldLayerNormProducts, lnTile), marking
	// them in rowDone and counting them in done.
	tiled   bool
	done    atomic.Int64
	rowDone []bool
	// dyRep (backward input): rows of x per row of dy, 1 unless dy is
	// (a copy of) the source of a broadcast along rows, which the kernel
	// reads instead of the broadcast (fuseLayerNormBackward): row r's dy
	// is row r/dyRep.
	dyRep int
	pool  *parallel.Pool
}

// resScratch is the scratch block of a resOnly layernorm: four rows.
const resScratch = 2048

// addF32 writes o = x + y, as binaryInner's add does (addF32AVX2 8 lanes
// at a time, then the scalar loop: float32 sums, the same bits), without
// letting o escape (a stack block).
func addF32(o, x, y []float32) {
	x, y = x[:len(o)], y[:len(o)]
	i := 0
	if simdOn {
		if i = len(o) &^ 7; i > 0 {
			addF32AVX2(&o[0], &x[0], &y[0], i)
		}
	}
	for ; i < len(o); i++ {
		o[i] = x[i] + y[i]
	}
}

// stats returns the mean and 1/√(var+eps) of a row (sums with four
// independent accumulators, so that the adds do not wait on each other).
func (k *layerNormKernel) stats(row []float32) (mean, rstd float64) {
	var s0, s1, s2, s3 float64
	i, nv := 0, 0
	if simdOn && len(row) >= 4 { // the same sums, four lanes at a time
		nv = len(row) &^ 3
		var s [4]float64
		lnSumsAVX2(&row[0], nv, 0, 0, &s)
		s0, s1, s2, s3, i = s[0], s[1], s[2], s[3], nv
	}
	for ; i+4 <= len(row); i += 4 {
		s0 += float64(row[i])
		s1 += float64(row[i+1])
		s2 += float64(row[i+2])
		s3 += float64(row[i+3])
	}
	for ; i < len(row); i++ {
		s0 += float64(row[i])
	}
	mean = ((s0 + s1) + (s2 + s3)) / float64(len(row))
	s0, s1, s2, s3 = 0, 0, 0, 0
	i = 0
	if nv > 0 {
		var s [4]float64
		lnSumsAVX2(&row[0], nv, mean, 1, &s)
		s0, s1, s2, s3, i = s[0], s[1], s[2], s[3], nv
	}
	for ; i+4 <= len(row); i += 4 {
		d0, d1, d2, d3 := float64(row[i])-mean, float64(row[i+1])-mean, float64(row[i+2])-mean, float64(row[i+3])-mean
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(row); i++ {
		d := float64(row[i]) - mean
		s0 += d * d
	}
	return mean, 1 / math.Sqrt(((s0+s1)+(s2+s3))/float64(len(row))+k.eps)
}

// lnStats computes every row's statistics (layernorm_backward_weight's
// first pass, split over rows).
type lnStats struct{ k *layerNormKernel }

func (s lnStats) Range(lo, hi int) {
	k := s.k
	x := f32s(k.x)
	for r := lo; r < hi; r++ {
		k.st[2*r], k.st[2*r+1] = k.stats(x[r*k.D:][:k.D])
	}
}

// lnColumns adds dy·x̂ over the rows, in order, into the accumulators of
// columns [lo, hi) (the second pass, split over columns).
type lnColumns struct{ k *layerNormKernel }

func (s lnColumns) Range(lo, hi int) {
	k := s.k
	x, dy, dw := f32s(k.x), f32s(k.dy), f32s(k.out)
	acc := k.acc[lo:hi]
	clear(acc)
	nv := 0 // columns the vector kernel takes, the same sums per column
	if simdOn && k.rows > 0 {
		nv = (hi - lo) &^ 3
		if nv > 0 {
			// A block of rows at a time, as colSumBlocks: each column
			// still adds its rows in order (the same bits), while the
			// kernel's 8-column strips walk rows that stay in L1.
			rb := min(max(1024/nv, 8), 64)
			for r0 := 0; r0 < k.rows; r0 += rb {
				o := r0*k.D + lo
				lnColAVX2(&acc[0], &x[o], &dy[o], &k.st[2*r0], min(rb, k.rows-r0), nv, k.D)
			}
		}
	}
	for r := range k.rows {
		row, g := x[r*k.D+lo+nv:][:hi-lo-nv], dy[r*k.D+lo+nv:][:hi-lo-nv]
		mean, rstd := k.st[2*r], k.st[2*r+1]
		for j, e := range row {
			acc[nv+j] += float64(g[j]) * (float64(e) - mean) * rstd
		}
	}
	for j, a := range acc {
		dw[lo+j] = float32(a)
	}
}

func (k *layerNormKernel) run() error {
	if k.tiled {
		k.runTiled()
		return nil
	}
	if k.op != ir.OpLayerNormBackwardWeight {
		parFor(k.pool, k.rows, 4*k.D, k)
		return nil
	}
	// dw[j] = Σ_rows dy·x̂, rows in order: the statistics of every row,
	// then the columns split over the cores.
	if k.saved == nil {
		parFor(k.pool, k.rows, 2*k.D, lnStats{k})
	}
	parFor(k.pool, k.D, 2*k.rows, lnColumns{k})
	return nil
}

func (k *layerNormKernel) Range(lo, hi int) { k.rowRange(lo, hi, nil, nil) }

// rowRange does rows [lo, hi); for the backward input op with dw and db
// (a block of the fused backward, lnBackward), it also adds each row's
// x̂·dy into dw and dy into db, column by column, rows in order.
func (k *layerNormKernel) rowRange(lo, hi int, dw, db []float64) {
	x, w, o := f32s(k.x), f32s(k.w), f32s(k.out)
	D := k.D
	nv := 0 // elements of a row the vector kernels take, the same float64 operations
	if simdOn {
		nv = D &^ 3
	}
	// Rows [gs, gs+4) have their statistics in gm, gr (stats4): four rows
	// side by side, so that the chains of adds of their sums overlap.
	var gm, gr [4]float64
	gs := -8
	summed := lo // rows [lo, summed) of x hold the fused residual add
	// Row r is xs[(r-base)·D:]: x, or with resOnly the scratch block
	// holding the rows of the current group.
	var scratch [resScratch]float32
	xs, base := x, 0
	for r := lo; r < hi; r++ {
		if k.res[0] != nil && r >= summed {
			// x = a + b for this row and the next three (a group of
			// stats4 takes four), while they are in cache.
			a, b := f32s(k.res[0]), f32s(k.res[1])
			summed = min(r+4, hi)
			if k.resOnly {
				xs, base = scratch[:], r
				addF32(xs[:(summed-r)*D], a[r*D:], b[r*D:])
			} else {
				binaryInner(ir.OpAdd, x[r*D:summed*D], a[r*D:], 1, b[r*D:], 1)
			}
		}
		row, orow := xs[(r-base)*D:][:D], o[r*D:][:D]
		var mean, rstd float64
		switch {
		case k.op == ir.OpLayerNorm || k.saved == nil:
			if nv > 0 && r >= gs+4 && r+4 <= hi {
				gs = r
				k.stats4(xs, r-base, &gm, &gr)
			}
			if r < gs+4 {
				mean, rstd = gm[r-gs], gr[r-gs]
			} else {
				mean, rstd = k.stats(row)
			}
			if k.op == ir.OpLayerNorm && k.saved != nil {
				k.saved[2*r], k.saved[2*r+1] = mean, rstd
			}
		default:
			mean, rstd = k.saved[2*r], k.saved[2*r+1]
		}
		if k.op == ir.OpLayerNorm {
			b := f32s(k.b)
			if nv > 0 {
				lnApplyAVX2(&orow[0], &row[0], &w[0], &b[0], nv, mean, rstd)
			}
			for j := nv; j < D; j++ {
				orow[j] = float32((float64(row[j])-mean)*rstd*float64(w[j]) + float64(b[j]))
			}
			continue
		}
		// dx = rstd·(g - mean(g) - x̂·mean(g·x̂)), g = dy·w; both sums
		// with four independent accumulators (element j into j mod 4,
		// the rest into the first), as the statistics are
		dr := r
		if k.dyRep > 1 {
			dr = r / k.dyRep
		}
		dy := f32s(k.b)[dr*D:][:D]
		var g0, g1, g2, g3, h0, h1, h2, h3 float64
		j := 0
		if nv > 0 {
			var s [8]float64
			lnDotsAVX2(&row[0], &w[0], &dy[0], nv, mean, rstd, &s)
			g0, g1, g2, g3, h0, h1, h2, h3, j = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], nv
		}
		for ; j+4 <= D; j += 4 {
			a0, a1 := float64(dy[j])*float64(w[j]), float64(dy[j+1])*float64(w[j+1])
			a2, a3 := float64(dy[j+2])*float64(w[j+2]), float64(dy[j+3])*float64(w[j+3])
			g0, g1, g2, g3 = g0+a0, g1+a1, g2+a2, g3+a3
			h0 += a0 * (float64(row[j]) - mean) * rstd
			h1 += a1 * (float64(row[j+1]) - mean) * rstd
			h2 += a2 * (float64(row[j+2]) - mean) * rstd
			h3 += a3 * (float64(row[j+3]) - mean) * rstd
		}
		for ; j < D; j++ {
			g := float64(dy[j]) * float64(w[j])
			g0 += g
			h0 += g * (float64(row[j]) - mean) * rstd
		}
		mg, mgx := ((g0+g1)+(g2+g3))/float64(D), ((h0+h1)+(h2+h3))/float64(D)
		if nv > 0 {
			if dw != nil {
				lnBackSumsAVX2(&orow[0], &row[0], &w[0], &dy[0], nv, mean, rstd, mg, mgx, &dw[0], &db[0])
			} else {
				lnBackAVX2(&orow[0], &row[0], &w[0], &dy[0], nv, mean, rstd, mg, mgx)
			}
		}
		for j := nv; j < D; j++ {
			h := (float64(row[j]) - mean) * rstd
			if dw != nil {
				g := float64(dy[j])
				dw[j] += float64(h * g) // no fused multiply-add: the vector kernel's bits
				db[j] += g
			}
			orow[j] = float32(rstd * (float64(dy[j])*float64(w[j]) - mg - h*mgx))
		}
	}
}

// stats4 writes the statistics of rows [r, r+4) of x into mean and rstd,
// bit for bit those of stats (simdOn, D ≥ 4): the four rows' sums side
// by side (lnSums4AVX2), the same operations in the same order per row.
func (k *layerNormKernel) stats4(x []float32, r int, mean, rstd *[4]float64) {
	D := k.D
	nv := D &^ 3
	_ = x[(r+4)*D-1]
	var s [16]float64
	lnSums4AVX2(&x[r*D], nv, D, mean, 0, &s)
	for i := range 4 {
		row := x[(r+i)*D:][:D]
		s0 := s[4*i]
		for _, e := range row[nv:] {
			s0 += float64(e)
		}
		mean[i] = ((s0 + s[4*i+1]) + (s[4*i+2] + s[4*i+3])) / float64(D)
	}
	lnSums4AVX2(&x[r*D], nv, D, mean, 1, &s)
	for i := range 4 {
		row := x[(r+i)*D:][:D]
		s0 := s[4*i]
		for _, e := range row[nv:] {
			d := float64(e) - mean[i]
			s0 += d * d
		}
		rstd[i] = 1 / math.Sqrt(((s0+s[4*i+1])+(s[4*i+2]+s[4*i+3]))/float64(D)+k.eps)
	}
}

func buildLayerNorm(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, unsupported(v, v.Type)
	}
	xs := v.Args[0].Type.Shape
	D := xs[len(xs)-1]
	k := &layerNormKernel{op: v.Op, D: D, eps: v.Aux.(ir.LayerNormAttr).Eps, x: c.buf(v.Args[0]), out: c.buf(v), dyRep: 1, pool: c.pool}
	if D > 0 {
		k.rows = xs.NumElements() / D
	}
	switch v.Op {
	case ir.OpLayerNorm, ir.OpLayerNormBackwardInput: // x, w, bias or dy
		k.w, k.b = c.buf(v.Args[1]), c.buf(v.Args[2])
	case ir.OpLayerNormBackwardWeight: // x, dy
		k.dy = c.buf(v.Args[1])
		k.acc = make([]float64, D)
		k.st = make([]float64, 2*k.rows)
	}
	return k, nil
}

// lnResidualOn enables fuseResidualLayerNorm (tests turn it off to
// compare), and lnResidualOnlyOn its scratch block for a sum read by the
// layernorm alone.
var lnResidualOn, lnResidualOnlyOn = true, true

// fuseResidualLayerNorm folds x = add(a, b) into the layernorm step on x
// right after it (a post-LN block's residual add): the layernorm adds
// each row of a and b into x, then takes that row's statistics and
// writes its result, while the row is in cache, and the add's step goes
// (W4: one pass over a 1 MiB sum less per layernorm). x is still
// written, with the add's bits (binaryInner, the add's own loop), for
// its later readers (the backward ops); where the layernorm is its only
// reader (a frozen block: W5's block 0), the rows go to a scratch block
// instead and x is not written at all. a and b have x's shape (no
// broadcast) and the layernorm's result is either apart from their
// storage or exactly one of them (the arena may reuse a slot that dies
// at the add): row r of the result is written only after row r of a and
// b is read, so the rows below are intact. Runs before the stage pass,
// while the two steps are adjacent in program order.
func (p *Program) fuseResidualLayerNorm() {
	if !lnResidualOn {
		return
	}
	uses := p.useMap()
	drop := map[int]bool{}
	for i := 1; i < len(p.steps); i++ {
		s, prev := p.steps[i], p.steps[i-1]
		k, ok := s.k.(*layerNormKernel)
		if !ok || k.op != ir.OpLayerNorm || k.rows == 0 || k.D == 0 || s.v.Args[0] != prev.v || drop[i-1] {
			continue
		}
		add, ok := prev.k.(*binaryKernel[float32])
		if !ok || add.op != ir.OpAdd || add.out != k.x {
			continue
		}
		sh := prev.v.Type.Shape
		if !prev.v.Args[0].Type.Shape.Equal(sh) || !prev.v.Args[1].Type.Shape.Equal(sh) ||
			!apartOrSame(k.out, add.x) || !apartOrSame(k.out, add.y) || !apartOrSame(k.x, add.x) || !apartOrSame(k.x, add.y) {
			continue
		}
		k.res = [2]*buffer{add.x, add.y}
		k.resOnly = lnResidualOnlyOn && len(uses[prev.v]) == 1 && 4*k.D <= resScratch
		drop[i-1] = true
	}
	p.dropSteps(drop)
}

// apartOrSame reports whether buffers a and b of the same length either
// share no byte or start at the same address. A buffer without storage
// yet (an input bound later, never in the arena) is apart from the
// arena's.
func apartOrSame(a, b *buffer) bool {
	if a.n != b.n {
		return false
	}
	if a.p == nil || b.p == nil || a.p == b.p {
		return true
	}
	n := uintptr(a.n * a.dt.Size())
	pa, pb := uintptr(a.p), uintptr(b.p)
	return pa+n <= pb || pb+n <= pa
}

// lnShareOn enables shareLayerNormStats (tests turn it off to compare).
var lnShareOn = true

// shareLayerNormStats links each layernorm_backward_input and
// layernorm_backward_weight to a layernorm forward on the same x and eps
// that it depends on (its dy is computed from the forward's result, so
// every schedule runs the forward first): the forward then keeps every
// row's mean and 1/σ (2 float64 per row, outside the memory plan), and
// the backward ops read them instead of computing them again (W4: each
// of the 4 layernorms computed its row statistics 3 times per step, 3.8%
// of the step's CPU). x is the backward's argument, so it is live and
// unchanged until it runs; the statistics are those the backward would
// compute, by the same function, bit for bit. The two backward ops only
// read them, so they may run side by side.
func (p *Program) shareLayerNormStats() {
	if !lnShareOn {
		return
	}
	type key struct {
		x   *ir.Value
		eps float64
	}
	type forward struct {
		v *ir.Value
		k *layerNormKernel
	}
	fwd := map[key]forward{}
	for _, s := range p.steps {
		k, ok := s.k.(*layerNormKernel)
		if !ok || k.rows == 0 {
			continue
		}
		kk := key{s.v.Args[0], k.eps}
		var dy *ir.Value
		switch k.op {
		case ir.OpLayerNorm:
			fwd[kk] = forward{s.v, k}
			continue
		case ir.OpLayerNormBackwardInput:
			dy = s.v.Args[2]
		case ir.OpLayerNormBackwardWeight:
			dy = s.v.Args[1]
		default:
			continue
		}
		f, ok := fwd[kk]
		if !ok || f.k.rows != k.rows || f.k.D != k.D || !dependsOn(dy, f.v) {
			continue
		}
		if f.k.saved == nil {
			f.k.saved = make([]float64, 2*k.rows)
		}
		k.saved = f.k.saved
		if k.op == ir.OpLayerNormBackwardWeight {
			k.st = k.saved // lnColumns reads them; lnStats is skipped
		}
	}
}

// crossEntropyKernel computes the mean softmax cross entropy of
// logits[N,C] against integer labels, or its gradient.
type crossEntropyKernel struct {
	backward           bool
	N, C               int
	eps                float64
	logits, labels, dl *buffer
	out                *buffer
	pool               *parallel.Pool
}

// rowMax is the largest element of row as float64 (-Inf when empty), NaN
// if any is NaN: math.Max's result for these rows (it may differ in the
// sign of a zero maximum, which gives the same exp(e - max) and
// max + log Σ), without its call per element.
func rowMax(row []float32) float64 {
	m := float32(math.Inf(-1))
	for _, e := range row {
		if e > m || e != e {
			m = e
			if e != e {
				break
			}
		}
	}
	return float64(m)
}

// lse returns log Σ exp of a row and its mean, in float64.
func lse(row []float32) (l, mean float64) {
	m := rowMax(row)
	for _, e := range row {
		mean += float64(e)
	}
	s := 0.0
	for _, e := range row {
		s += math.Exp(float64(e) - m)
	}
	return m + math.Log(s), mean / float64(len(row))
}

func (k *crossEntropyKernel) run() error {
	for n := range k.N {
		if id := idAt(k.labels, n); id < 0 || id >= int64(k.C) {
			return idError(id, k.C)
		}
	}
	if k.backward {
		parFor(k.pool, k.N, 4*k.C, k)
		return nil
	}
	x := f32s(k.logits)
	total := 0.0
	for n := range k.N {
		row := x[n*k.C:][:k.C]
		l, mean := lse(row)
		total += (1-k.eps)*(l-float64(row[idAt(k.labels, n)])) + k.eps*(l-mean)
	}
	f32s(k.out)[0] = float32(total / float64(k.N))
	return nil
}

// ceSmallC: rows of at most this many classes keep their exps on the
// stack in the gradient.
const ceSmallC = 64

func (k *crossEntropyKernel) Range(lo, hi int) {
	x, o := f32s(k.logits), f32s(k.out)
	scale := float64(scalarF32(k.dl)) / float64(k.N)
	var ex [ceSmallC]float64
	for n := lo; n < hi; n++ {
		row, orow := x[n*k.C:][:k.C], o[n*k.C:][:k.C]
		label := int(idAt(k.labels, n))
		if k.C <= ceSmallC {
			// One exp per element: softmax = exp(e-max)/Σ, the sum's
			// terms kept (the general path below takes two exps and a
			// log per element; this is what W1's gradient of 64×10
			// logits spent a third of its time on).
			m := rowMax(row)
			s := 0.0
			for c, e := range row {
				ex[c] = math.Exp(float64(e) - m)
				s += ex[c]
			}
			t0 := k.eps / float64(k.C)
			for c := range orow {
				t := t0
				if c == label {
					t += 1 - k.eps
				}
				orow[c] = float32((ex[c]/s - t) * scale)
			}
			continue
		}
		l, _ := lse(row)
		for c, e := range row {
			t := k.eps / float64(k.C)
			if c == label {
				t += 1 - k.eps
			}
			orow[c] = float32((math.Exp(float64(e)-l) - t) * scale)
		}
	}
}

func buildCrossEntropy(c *compileCtx, v *ir.Value) (kernel, error) {
	logits := v.Args[0]
	if logits.Type.DType != ir.F32 {
		return nil, unsupported(v, logits.Type)
	}
	k := &crossEntropyKernel{backward: v.Op == ir.OpSoftmaxCrossEntropyBackward,
		N: logits.Type.Shape[0], C: logits.Type.Shape[1], eps: v.Aux.(ir.CrossEntropyAttr).LabelSmoothing,
		logits: c.buf(logits), labels: c.buf(v.Args[1]), out: c.buf(v), pool: c.pool}
	if k.backward {
		k.dl = c.buf(v.Args[2])
	}
	return k, nil
}

// dropoutKernel keeps element i where ir.DropoutKeep(seed, step, i, p),
// scaled by 1/(1-p), and zeroes the rest. It hoists the part of the hash
// that depends on seed and step out of the loop (dropoutHash), which
// TestDropoutHash checks against ir.DropoutKeep.
type dropoutKernel struct {
	p       float64
	scale   float32
	h0      uint64  // mix64(mix64(seed) ^ step) for this run
	x, s, t *buffer // x, seed, step
	out     *buffer
	pool    *parallel.Pool
}

// mix64 is SplitMix64's finalizer, as ir.DropoutKeep defines it.
func mix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// dropoutHash returns the per-run prefix of the mask hash.
func dropoutHash(seed, step int64) uint64 { return mix64(mix64(uint64(seed)) ^ uint64(step)) }

// dropoutKeep is ir.DropoutKeep given dropoutHash(seed, step).
func dropoutKeep(h0 uint64, i int, p float64) bool {
	return float64(mix64(h0+uint64(i))>>11)*(1.0/(1<<53)) >= p
}

func (k *dropoutKernel) run() error {
	k.h0 = dropoutHash(scalarInt(k.s), scalarInt(k.t))
	parFor(k.pool, k.out.n, 8, k)
	return nil
}

func (k *dropoutKernel) Range(lo, hi int) {
	x, o := f32s(k.x), f32s(k.out)
	for i := lo; i < hi; i++ {
		if dropoutKeep(k.h0, i, k.p) {
			o[i] = x[i] * k.scale
		} else {
			o[i] = 0
		}
	}
}

func buildDropout(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, unsupported(v, v.Type)
	}
	p := v.Aux.(ir.DropoutAttr).P
	return &dropoutKernel{p: p, scale: float32(1 / (1 - p)), x: c.buf(v.Args[0]), s: c.buf(v.Args[1]),
		t: c.buf(v.Args[2]), out: c.buf(v), pool: c.pool}, nil
}
