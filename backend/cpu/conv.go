// This file implements conv2d and its two backward ops by im2col + GEMM,
// one sample (and, for a grouped convolution, one group) at a time, or,
// for an ungrouped convolution with few output pixels, blocks of samples
// per GEMM (convKernel.S) and segments of samples per weight-gradient
// dot (segS); samples spread over the pool. A depthwise convolution (one
// input channel per group) runs the direct kernels of depthwise.go
// instead, and a stride-1 convolution with few output channels and
// small planes the tap kernels of convtaps.go (convKernel.taps).

package cpu

import (
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildConv, ir.OpConv2D, ir.OpConv2DBackwardInput, ir.OpConv2DBackwardWeight)
}

// convGeom is the geometry of a convolution x[N,G·C,H,W] ⋆ w[G·O,C,KH,KW]
// → y[N,G·O,OH,OW] in G groups: C and O count the channels of one group,
// whose input, weight and output channels are contiguous.
type convGeom struct {
	N, G, C, H, W, O, KH, KW, OH, OW int
	sh, sw, ph, pw, dh, dw           int
	direct                           bool // 1×1, stride 1, no padding: the column matrix is x itself
}

func newConvGeom(at ir.Conv2DAttr, x, w, y ir.Shape) convGeom {
	G := at.G()
	g := convGeom{N: x[0], G: G, C: w[1], H: x[2], W: x[3], O: w[0] / G, KH: w[2], KW: w[3], OH: y[2], OW: y[3],
		sh: at.Stride[0], sw: at.Stride[1], ph: at.Padding[0], pw: at.Padding[1], dh: at.Dilation[0], dw: at.Dilation[1]}
	g.direct = g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0
	return g
}

func (g *convGeom) ckk() int { return g.C * g.KH * g.KW }
func (g *convGeom) p() int   { return g.OH * g.OW }

// span returns, for kernel column kw, the output columns [lo, hi)
// whose input column ow - pw + kw·dw lies inside the row (stride 1).
func (g *convGeom) span(kw int) (lo, hi int) {
	off := kw*g.dw - g.pw
	lo, hi = max(0, -off), min(g.OW, g.W-off)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// im2col writes the column matrix [C·KH·KW, OH·OW] of one sample x.
func (g *convGeom) im2col(col, x []float32) { g.im2colLD(col, x, g.p()) }

// im2colLD is im2col into rows ld ≥ OH·OW floats apart: the columns of
// several samples side by side, for one GEMM over all of them.
func (g *convGeom) im2colLD(col, x []float32, ld int) {
	if g.sw == 1 {
		g.im2colUnit(col, x, ld)
		return
	}
	P := g.p()
	for c := range g.C {
		for kh := range g.KH {
			for kw := range g.KW {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:][:P]
				for oh := range g.OH {
					seg := row[oh*g.OW : (oh+1)*g.OW]
					ih := oh*g.sh - g.ph + kh*g.dh
					if ih < 0 || ih >= g.H {
						clear(seg)
						continue
					}
					xr := x[(c*g.H+ih)*g.W:][:g.W]
					for ow := range seg {
						iw := ow*g.sw - g.pw + kw*g.dw
						if iw >= 0 && iw < g.W {
							seg[ow] = xr[iw]
						} else {
							seg[ow] = 0
						}
					}
				}
			}
		}
	}
}

// rowsOf returns the output rows [lo, hi) whose input row for kernel row
// kh lies inside the input.
func (g *convGeom) rowsOf(kh int) (lo, hi int) {
	lo, hi = g.OH, 0
	for oh := range g.OH {
		if ih := oh*g.sh - g.ph + kh*g.dh; ih >= 0 && ih < g.H {
			lo, hi = min(lo, oh), oh+1
		}
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// im2colVector is im2colUnit copying 8 floats at a time, for pieces of
// at least 8. It writes only the pieces that come from x: the zeros of
// the padding are those the column buffer was allocated with, since
// nothing else writes into it.
func (g *convGeom) im2colVector(col, x []float32, ld int) {
	P, OW, W := g.p(), g.OW, g.W
	for kh := range g.KH {
		r0, r1 := g.rowsOf(kh)
		if r1 <= r0 {
			continue
		}
		ih0 := r0*g.sh - g.ph + kh*g.dh
		for c := range g.C {
			xc := x[c*g.H*W:][:g.H*W]
			for kw := range g.KW {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:][:P]
				lo, hi := g.span(kw)
				off := kw*g.dw - g.pw
				dst := row[r0*OW+lo:][:(r1-r0-1)*OW+hi-lo]
				src := xc[ih0*W+lo+off:][:(r1-r0-1)*g.sh*W+hi-lo]
				copyRowsAVX2(&dst[0], &src[0], r1-r0, hi-lo, OW, g.sh*W)
			}
		}
	}
}

// im2colUnit is im2col for a horizontal stride of 1: each output row of
// a kernel tap is a contiguous piece of an input row between zeros.
func (g *convGeom) im2colUnit(col, x []float32, ld int) {
	P, OW, W := g.p(), g.OW, g.W
	if simdOn && g.minPiece() >= 8 {
		g.im2colVector(col, x, ld)
		return
	}
	for c := range g.C {
		xc := x[c*g.H*W:][:g.H*W]
		for kh := range g.KH {
			for kw := range g.KW {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:][:P]
				lo, hi := g.span(kw)
				off := kw*g.dw - g.pw
				for oh := range g.OH {
					seg := row[oh*OW:][:OW]
					ih := oh*g.sh - g.ph + kh*g.dh
					if ih < 0 || ih >= g.H {
						for i := range seg {
							seg[i] = 0
						}
						continue
					}
					// Short pieces: plain loops beat memmove and memclr calls.
					for i := 0; i < lo; i++ {
						seg[i] = 0
					}
					for i := hi; i < OW; i++ {
						seg[i] = 0
					}
					src := xc[ih*W+lo+off:][:hi-lo]
					dst := seg[lo:hi]
					if len(dst) > 32 {
						copy(dst, src)
						continue
					}
					src = src[:len(dst)]
					for i, e := range src {
						dst[i] = e
					}
				}
			}
		}
	}
}

// minPiece is the shortest piece of an input row a kernel column reads
// (stride 1).
func (g *convGeom) minPiece() int {
	m := g.OW
	for kw := range g.KW {
		lo, hi := g.span(kw)
		m = min(m, hi-lo)
	}
	return m
}

// col2imUnit is col2im for a horizontal stride of 1.
func (g *convGeom) col2imUnit(dx, col []float32, ld int) {
	clear(dx)
	P, OW, W := g.p(), g.OW, g.W
	if simdOn {
		for c := range g.C {
			xc := dx[c*g.H*W:][:g.H*W]
			for kh := range g.KH {
				r0, r1 := g.rowsOf(kh)
				if r1 <= r0 {
					continue
				}
				ih0 := r0*g.sh - g.ph + kh*g.dh
				for kw := range g.KW {
					lo, hi := g.span(kw)
					if hi <= lo {
						continue
					}
					row := col[((c*g.KH+kh)*g.KW+kw)*ld:][:P]
					off := kw*g.dw - g.pw
					src := row[r0*OW+lo:][:(r1-r0-1)*OW+hi-lo]
					dst := xc[ih0*W+lo+off:][:(r1-r0-1)*g.sh*W+hi-lo]
					addRowsAVX2(&dst[0], &src[0], r1-r0, hi-lo, g.sh*W, OW)
				}
			}
		}
		return
	}
	for c := range g.C {
		xc := dx[c*g.H*W:][:g.H*W]
		for kh := range g.KH {
			for kw := range g.KW {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:][:P]
				lo, hi := g.span(kw)
				off := kw*g.dw - g.pw
				for oh := range g.OH {
					ih := oh*g.sh - g.ph + kh*g.dh
					if ih < 0 || ih >= g.H {
						continue
					}
					src := row[oh*OW+lo:][:hi-lo]
					dst := xc[ih*W+lo+off:][:len(src)]
					for i, e := range src {
						dst[i] += e
					}
				}
			}
		}
	}
}

// col2im adds the column matrix of one sample into dx (which it zeroes
// first).
func (g *convGeom) col2im(dx, col []float32) { g.col2imLD(dx, col, g.p()) }

// col2imLD is col2im of a column matrix whose rows are ld floats apart.
func (g *convGeom) col2imLD(dx, col []float32, ld int) {
	if g.sw == 1 {
		g.col2imUnit(dx, col, ld)
		return
	}
	clear(dx)
	P := g.p()
	for c := range g.C {
		for kh := range g.KH {
			for kw := range g.KW {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:][:P]
				for oh := range g.OH {
					ih := oh*g.sh - g.ph + kh*g.dh
					if ih < 0 || ih >= g.H {
						continue
					}
					xr := dx[(c*g.H+ih)*g.W:][:g.W]
					for ow, e := range row[oh*g.OW : (oh+1)*g.OW] {
						if iw := ow*g.sw - g.pw + kw*g.dw; iw >= 0 && iw < g.W {
							xr[iw] += e
						}
					}
				}
			}
		}
	}
}

// convKernel runs one of the three convolution ops. Task t handles the
// samples of chunk t of N with its own column buffer, GEMM parameters
// and, for the weight gradient, its own partial sum, which are added in
// task order: the result depends on the pool size only.
type convKernel struct {
	op ir.Op
	convGeom
	a, b, out *buffer // the op's two operands and its result
	tasks     int
	cols      [][]float32 // per task: column matrix
	// saved holds the column matrices of every sample (N × CKK·P) when a
	// conv2d and the conv2d_backward_weight of the same x share them
	// (shareColumns): the forward writes them, the backward reads them.
	saved   []float32
	saves   bool // conv2d: write saved
	reuses  bool // conv2d_backward_weight: read saved instead of im2col
	x       *ir.Value
	attr    ir.Conv2DAttr
	rowBias *buffer       // conv2d: a per-channel bias added in the GEMM epilogue (fuseConvBias)
	dots    bool          // conv2d_backward_weight: by addDots (AVX2, at least 8 output pixels)
	partial [][]float32   // per task: dw partial sums (weight gradient, tasks > 1)
	ps      []gemm.Params // per task
	pool    *parallel.Pool

	// depthwise: one input channel per group, run by the direct kernels
	// of depthwise.go (no column matrices, no GEMM)
	depthwise bool

	// S > 1 (conv2d and its input gradient, ungrouped, with a column
	// matrix): blocks of S samples, from sample 0 on, share one GEMM over
	// their columns side by side (N = S·OH·OW), which fills the
	// micro-kernel better than one small product per sample; tasks take
	// whole blocks. tmp (per task, O·S·OH·OW) holds the block's output
	// (conv2d) or its gathered output gradient (backward input). For a
	// conv2d that saves its columns, block b's matrix [CKK, w·OH·OW] (w
	// its samples) starts at sample b·S's place in saved; savedS tells a
	// conv2d_backward_weight that reuses them that layout.
	S, savedS int
	tmp       [][]float32

	// segS > 1 (conv2d_backward_weight by addDots, ungrouped, not reusing
	// saved columns): task t's column buffer holds segS samples, and
	// addDots runs over them as segments, summing segS samples in its
	// registers before each reduction of its accumulators.
	segS int

	// taps (conv2d with few output channels, or the weight gradient, of
	// an ungrouped stride-1 convolution): the tap kernels of
	// convtaps.go over shifted planes (cols[t] holds tapSeg samples'
	// planes) instead of im2col and GEMM or addDots.
	taps         bool
	tapOff       []int
	wpack, bpack []float32 // conv2d: the weight and bias packed by packTaps
	tapSeg       int
	// dplanes (conv2d_backward_input, per task): the shifted planes
	// col2imPlanes folds the column matrix through; nil: col2im.
	dplanes [][]float32
	// backSegs (conv2d_backward_input on taps): the segments of a plane
	// and the taps that reach dy there
	backSegs []backSeg
}

// col2im folds task t's column matrix (rows ld apart) into dx.
func (k *convKernel) col2imTask(t int, dx, col []float32, ld int) {
	if k.dplanes != nil {
		k.col2imPlanes(dx, col, ld, k.dplanes[t])
		return
	}
	k.col2imLD(dx, col, ld)
}

// segRange runs samples [lo, hi) of a weight gradient with segS > 1.
func (k *convKernel) segRange(t, lo, hi int) {
	a, b, dw := f32s(k.a), f32s(k.b), f32s(k.out)
	if k.partial != nil {
		dw = k.partial[t]
	}
	if lo == hi { // no samples: a zero gradient
		clear(dw)
		return
	}
	col := k.cols[t]
	CHW, OP, CKK, P := k.C*k.H*k.W, k.O*k.p(), k.ckk(), k.p()
	for n0 := lo; n0 < hi; n0 += k.segS {
		w := min(k.segS, hi-n0)
		for s := range w {
			k.im2col(col[s*CKK*P:][:CKK*P], a[(n0+s)*CHW:][:CHW])
		}
		addDots(dw, b[n0*OP:][:w*OP], col, k.O, CKK, P, P, w, OP, CKK*P, n0 == lo)
	}
}

// block returns the samples [n0, n1) of block q of S samples.
func (k *convKernel) block(q int) (n0, n1 int) { return q * k.S, min(q*k.S+k.S, k.N) }

// blocks is the number of blocks of S samples.
func (k *convKernel) blocks() int { return (k.N + k.S - 1) / k.S }

// blockRange runs task t's blocks of a conv2d or backward input with S > 1.
func (k *convKernel) blockRange(t int) {
	lo, hi := parallel.Chunk(k.blocks(), k.tasks, t)
	a, b, out := f32s(k.a), f32s(k.b), f32s(k.out)
	p, tmp := &k.ps[t], k.tmp[t]
	P, CHW, OP, CKKP := k.p(), k.C*k.H*k.W, k.O*k.p(), k.ckk()*k.p()
	for q := lo; q < hi; q++ {
		n0, n1 := k.block(q)
		w := n1 - n0
		wp := w * P
		switch k.op {
		case ir.OpConv2D: // y[n0:n1] = w · [col(x[n0]) … col(x[n1-1])]
			col, ld := k.cols[t], k.S*P
			if k.saves {
				col, ld = k.saved[n0*CKKP:][:w*CKKP], wp
			}
			for s := range w {
				k.im2colLD(col[s*P:], a[(n0+s)*CHW:][:CHW], ld)
			}
			p.A, p.B, p.LDB, p.N = b, col, ld, wp
			if w == 1 {
				p.C, p.LDC = out[n0*OP:][:OP], P
			} else {
				p.C, p.LDC = tmp[:k.O*wp], wp
			}
			if k.rowBias != nil {
				p.RowBias = f32s(k.rowBias)[:k.O]
			}
			gemm.SgemmEx(p)
			if w > 1 {
				for s := range w {
					y := out[(n0+s)*OP:][:OP]
					for o := range k.O {
						copy(y[o*P:][:P], tmp[o*wp+s*P:][:P])
					}
				}
			}
		case ir.OpConv2DBackwardInput: // [col …] = wᵀ · [dy[n0] … dy[n1-1]]; dx[n] = col2im(col)
			col := k.cols[t]
			if w == 1 {
				p.B, p.LDB = a[n0*OP:][:OP], P
			} else {
				for s := range w {
					dy := a[(n0+s)*OP:][:OP]
					for o := range k.O {
						copy(tmp[o*wp+s*P:][:P], dy[o*P:][:P])
					}
				}
				p.B, p.LDB = tmp[:k.O*wp], wp
			}
			p.A, p.N, p.C, p.LDC = b, wp, col[:k.ckk()*wp], wp
			gemm.SgemmEx(p)
			for s := range w {
				k.col2imTask(t, out[(n0+s)*CHW:][:CHW], col[s*P:], wp)
			}
		}
	}
	p.A, p.B, p.C, p.RowBias = nil, nil, nil, nil
}

func (k *convKernel) run() error {
	if k.ckk() == 0 || k.O == 0 || k.p() == 0 || k.N == 0 { // an empty dimension: each output sums nothing
		out := f32s(k.out)
		clear(out)
		if k.rowBias != nil {
			P := k.p()
			for i, b := range f32s(k.rowBias)[:k.G*k.O] {
				for n := range k.N {
					row := out[(n*k.G*k.O+i)*P:][:P]
					for j := range row {
						row[j] = b
					}
				}
			}
		}
		return nil
	}
	switch {
	case k.taps && k.op == ir.OpConv2D:
		var bias []float32
		if k.rowBias != nil {
			bias = f32s(k.rowBias)[:k.O]
		}
		k.packTaps(f32s(k.b), bias)
	case k.taps && k.op == ir.OpConv2DBackwardInput:
		k.packBackTaps(f32s(k.b))
	}
	if k.tasks == 1 {
		k.RangeWorker(0, 0, 1)
	} else {
		k.pool.Tasks(k.tasks, k)
	}
	if k.partial != nil {
		dw := f32s(k.out)
		copy(dw, k.partial[0])
		for _, p := range k.partial[1:] {
			for i, e := range p {
				dw[i] += e
			}
		}
	}
	return nil
}

func (k *convKernel) RangeWorker(_, t, _ int) {
	lo, hi := parallel.Chunk(k.N, k.tasks, t)
	if k.depthwise {
		k.depthwiseRange(lo, hi, t)
		return
	}
	if k.taps {
		switch k.op {
		case ir.OpConv2D:
			k.tapsForward(t, lo, hi)
		case ir.OpConv2DBackwardInput:
			k.tapsBackward(t, lo, hi)
		default:
			k.tapsWeight(t, lo, hi)
		}
		return
	}
	if k.S > 1 {
		k.blockRange(t)
		return
	}
	if k.segS > 1 && !k.reuses {
		k.segRange(t, lo, hi)
		return
	}
	a, b, out := f32s(k.a), f32s(k.b), f32s(k.out)
	col, p := k.cols[t], &k.ps[t]
	// Per group: input, output and weight sizes.
	CHW, OP, OCKK := k.C*k.H*k.W, k.O*k.p(), k.O*k.ckk()
	CKKP := k.ckk() * k.p()
	dwAll := out
	if k.partial != nil {
		dwAll = k.partial[t]
	}
	if k.op == ir.OpConv2DBackwardWeight && lo == hi { // no samples: a zero gradient
		clear(dwAll)
	}
	for n := lo; n < hi; n++ {
		for grp := range k.G {
			ng := n*k.G + grp // the sample's group: its slices of x and y
			var w []float32   // the group's weight (conv2d, backward input: b = w)
			if k.op != ir.OpConv2DBackwardWeight {
				w = b[grp*OCKK:][:OCKK]
			}
			switch k.op {
			case ir.OpConv2D: // a = x, b = w: y[n] = w · col(x[n])
				x := a[ng*CHW:][:CHW]
				if !k.direct {
					if k.saves {
						col = k.saved[ng*CKKP:][:CKKP]
					}
					k.im2col(col, x)
					x = col
				}
				p.A, p.B, p.C = w, x, out[ng*OP:][:OP]
				if k.rowBias != nil {
					p.RowBias = f32s(k.rowBias)[grp*k.O:][:k.O]
				}
			case ir.OpConv2DBackwardInput: // a = dy, b = w: dx[n] = col2im(wᵀ · dy[n])
				p.A, p.B = w, a[ng*OP:][:OP]
				if k.direct {
					p.C = out[ng*CHW:][:CHW]
				} else {
					p.C = col
				}
			case ir.OpConv2DBackwardWeight: // a = x, b = dy: dw += dy[n] · col(x[n])ᵀ
				x := a[ng*CHW:][:CHW]
				dw := dwAll[grp*OCKK:][:OCKK]
				ldx := k.p()
				switch {
				case k.reuses && k.savedS > 1: // sample n of its block's columns
					n0 := n / k.savedS * k.savedS
					ldx = min(k.savedS, k.N-n0) * k.p()
					x = k.saved[n0*CKKP+(n-n0)*k.p():]
				case k.reuses:
					x = k.saved[ng*CKKP:][:CKKP]
				case !k.direct:
					k.im2col(col, x)
					x = col
				}
				if k.dots {
					// One sample at a time: its columns stay in L2 for all
					// the tiles (all samples at once ran slower).
					addDots(dw, b[ng*OP:][:OP], x, k.O, k.ckk(), k.p(), ldx, 1, 0, 0, n == lo)
					continue
				}
				p.A, p.B, p.C, p.LDB = b[ng*OP:][:OP], x, dw, ldx
				p.Beta = 1
				if n == lo {
					p.Beta = 0
				}
			}
			if k.op == ir.OpConv2DBackwardWeight && k.dots {
				continue
			}
			gemm.SgemmEx(p)
			if k.op == ir.OpConv2DBackwardInput && !k.direct {
				k.col2imTask(t, out[ng*CHW:][:CHW], col, k.p())
			}
		}
	}
	p.A, p.B, p.C, p.RowBias = nil, nil, nil, nil
}

func buildConv(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, unsupported(v, v.Type)
	}
	at := v.Aux.(ir.Conv2DAttr)
	var g convGeom
	a, b := v.Args[0], v.Args[1]
	switch v.Op {
	case ir.OpConv2D:
		g = newConvGeom(at, a.Type.Shape, b.Type.Shape, v.Type.Shape)
	case ir.OpConv2DBackwardInput:
		g = newConvGeom(at, v.Type.Shape, b.Type.Shape, a.Type.Shape)
	case ir.OpConv2DBackwardWeight:
		g = newConvGeom(at, a.Type.Shape, v.Type.Shape, b.Type.Shape)
	}
	if v.Op == ir.OpConv2D {
		q, err := c.int8Conv(v, &g)
		if err != nil {
			return nil, err
		}
		if q != nil {
			return newConvInt8(c, v, g, q), nil
		}
	}
	k := &convKernel{op: v.Op, convGeom: g, a: c.buf(a), b: c.buf(b), out: c.buf(v), pool: c.pool, x: a, attr: at}
	k.depthwise = depthwiseOn && g.isDepthwise()
	k.dots = v.Op == ir.OpConv2DBackwardWeight && simdOn && g.p() >= 8 && !k.depthwise
	// Up to 4 tasks per core of at least 4 samples each, claimed
	// dynamically: a core taken by another process then delays the op
	// by a few samples' work, not by half the batch.
	k.tasks = c.pool.Split(g.N, 1)
	if c.pool.Size() > 1 {
		k.tasks = min(4*c.pool.Size(), max(g.N/4, 1))
	}
	if k.tasks < 1 {
		k.tasks = 1
	}
	CKK, P := g.ckk(), g.p()
	switch v.Op {
	case ir.OpConv2D:
		k.taps = !k.depthwise && g.tapsFwdOK()
	case ir.OpConv2DBackwardWeight:
		k.taps = !k.depthwise && g.tapsWeightOK()
	case ir.OpConv2DBackwardInput:
		k.taps = !k.depthwise && g.tapsBackOK()
	}
	k.S = 1
	if k.taps {
		k.dots = false
		k.tapOff = g.tapOffsets()
		k.tapSeg = 1
		switch v.Op {
		case ir.OpConv2DBackwardWeight:
			k.tapSeg = max(1, min(tapsSegFloats/g.planesLen(), g.N))
		case ir.OpConv2DBackwardInput:
			k.tapOff = g.backTapOffsets()
			k.backSegs = g.backSegs()
			k.wpack = make([]float32, (g.C*g.KW+5)/6*6*g.O*g.KH)
		default:
			k.wpack = make([]float32, (g.O+5)/6*6*CKK)
			k.bpack = make([]float32, (g.O+5)/6*6)
		}
	}
	if convBlockOn && !k.taps && (v.Op == ir.OpConv2D || v.Op == ir.OpConv2DBackwardInput) && g.G == 1 && !g.direct && !k.depthwise {
		k.S = g.blockSize()
	}
	if k.S > 1 {
		k.tasks = max(1, min(k.tasks, k.blocks()))
		k.tmp = make([][]float32, k.tasks)
	}
	k.segS = 1
	if dotsSegOn && k.dots && g.G == 1 && !g.direct {
		k.segS = g.blockSize()
	}
	k.cols = make([][]float32, k.tasks)
	k.ps = make([]gemm.Params, k.tasks)
	for t := range k.tasks {
		switch {
		case k.depthwise: // the phase planes of a horizontal stride > 1
			k.cols[t] = make([]float32, g.phaseLen())
		case k.taps:
			k.cols[t] = make([]float32, g.planesLen()*k.tapSeg)
			if v.Op == ir.OpConv2DBackwardInput {
				k.tmp = append(k.tmp, make([]float32, g.O*g.padLen())) // the padded output gradient
			}
		case !g.direct:
			k.cols[t] = make([]float32, CKK*P*max(k.S, k.segS))
		}
		if k.S > 1 {
			k.tmp[t] = make([]float32, g.O*P*k.S)
		}
		p := gemm.Params{Alpha: 1}
		switch v.Op {
		case ir.OpConv2D: // [O,CKK]·[CKK,P]
			p.M, p.N, p.K, p.LDA, p.LDB, p.LDC = g.O, P, CKK, CKK, P, P
		case ir.OpConv2DBackwardInput: // [O,CKK]ᵀ·[O,P]
			p.TransA = true
			p.M, p.N, p.K, p.LDA, p.LDB, p.LDC = CKK, P, g.O, CKK, P, P
		case ir.OpConv2DBackwardWeight: // [O,P]·[CKK,P]ᵀ
			p.TransB = true
			p.M, p.N, p.K, p.LDA, p.LDB, p.LDC = g.O, CKK, P, P, P, CKK
		}
		k.ps[t] = p
	}
	if v.Op == ir.OpConv2DBackwardInput && !k.taps && !k.depthwise && g.col2imPlanesOK() {
		k.dplanes = make([][]float32, k.tasks)
		for t := range k.dplanes {
			k.dplanes[t] = make([]float32, g.planesLen())
		}
	}
	if v.Op == ir.OpConv2DBackwardWeight && k.tasks > 1 {
		k.partial = make([][]float32, k.tasks)
		for t := range k.partial {
			k.partial[t] = make([]float32, g.G*g.O*CKK)
		}
	}
	if v.Op == ir.OpConv2D && g.G == 1 {
		// Calibration sees the input of every ungrouped convolution
		// (the ones the int8 path runs).
		return c.observe(v, k), nil
	}
	return k, nil
}

// shareColumns pairs each conv2d_backward_weight with the earlier conv2d
// of the same input and attributes: the forward keeps the column
// matrices of all samples and the backward reuses them instead of
// running im2col again. x cannot change in between: it is an operand of
// the backward, so its storage is live until then.
func (p *Program) shareColumns() {
	fwd := map[*ir.Value][]*convKernel{}
	for _, s := range p.steps {
		k, ok := s.k.(*convKernel)
		if !ok || k.direct || k.depthwise || k.taps {
			continue
		}
		switch k.op {
		case ir.OpConv2D:
			fwd[k.x] = append(fwd[k.x], k)
		case ir.OpConv2DBackwardWeight:
			for _, f := range fwd[k.x] {
				if f.attr == k.attr && f.convGeom == k.convGeom {
					if f.saved == nil {
						f.saved = make([]float32, k.N*k.G*k.ckk()*k.p())
						f.saves = true
					}
					if f.taps {
						break
					}
					k.saved, k.reuses, k.savedS = f.saved, true, f.S
					break
				}
			}
		}
	}
}

// convBlockOn turns on blocks of samples per GEMM (convKernel.S) for
// conv2d and its input gradient. A block has about convBlockPixels
// output pixels (measured, one core: the 16×150 · 150×N product of
// LeNet's conv2 runs at 39 GFLOP/s for N = 100, one sample, and 61 for
// N = 400; its input gradient at 36 and 49) and a column matrix of at
// most convBlockFloats floats.
var convBlockOn = true

const (
	convBlockPixels = 512
	convBlockFloats = 1 << 17
)

// dotsSegOn turns on segments of samples per addDots (convKernel.segS):
// LeNet's conv2 weight gradient (dots of 100) reduces its accumulators
// once per 4 samples instead of once per sample.
var dotsSegOn = true

// blockSize is the number of samples per block (conv blocks, addDots
// segments): at most convBlockPixels output pixels and convBlockFloats
// of column matrix, and among the sizes from half that bound up, one
// that divides N if there is one, so that the blocks are equal and the
// pool's tasks get equal work (LeNet's conv2 at batch 64: 4, not 5).
func (g *convGeom) blockSize() int {
	P, CKK := max(g.p(), 1), max(g.ckk(), 1)
	most := max(1, min(convBlockPixels/P, convBlockFloats/(CKK*P), g.N))
	for s := most; s > 1 && 2*s >= most; s-- {
		if g.N%s == 0 {
			return s
		}
	}
	return most
}

// shareColumnsOn turns shareColumns on (it trades a second im2col for
// keeping N column matrices, 5 MB for LeNet's first layer at batch 64,
// 3.8 MB for its second). Off by default: the saved matrices go out to
// memory and back, blocked ones (convKernel.S) are read with strides,
// whereas the weight gradient's im2col of one sample stays in L2. The
// five conv ops of the W3 step (LeNet, batch 64, one thread) took 3.6
// instead of 4.3 ms of CPU with it off, conv blocks on and addDots
// swapped (op profile medians, interleaved, machine shared with other
// jobs); with sharing on, blocks alone did not pay.
var shareColumnsOn = false

// fuseConvBias folds add(conv2d(x, w), b), where b holds one value per
// output channel ([O,1,1] or [1,O,1,1]) and the add is the conv's only
// use and its next step, into the conv: the GEMM adds b per row in its
// epilogue and writes the add's storage; the add's step goes.
func (p *Program) fuseConvBias() {
	uses := map[*ir.Value]int{}
	for _, v := range p.g.Values {
		for _, a := range v.Args {
			uses[a]++
		}
	}
	for _, o := range p.g.Outputs {
		uses[o.Value] += 2
	}
	drop := map[int]bool{}
	for i := 0; i+1 < len(p.steps); i++ {
		k, ok := p.steps[i].k.(*convKernel)
		add := p.steps[i+1].v
		if !ok || k.op != ir.OpConv2D || k.direct || add.Op != ir.OpAdd || add.Type.DType != ir.F32 || uses[p.steps[i].v] != 1 {
			continue
		}
		cv := p.steps[i].v
		var b *ir.Value
		switch {
		case add.Args[0] == cv && add.Args[1] != cv:
			b = add.Args[1]
		case add.Args[1] == cv && add.Args[0] != cv:
			b = add.Args[0]
		default:
			continue
		}
		bs := b.Type.Shape
		O := k.G * k.O
		perChannel := b.Type.DType == ir.F32 && bs.NumElements() == O && len(bs) >= 3 && len(bs) <= 4 &&
			bs[len(bs)-3] == O && bs[len(bs)-2] == 1 && bs[len(bs)-1] == 1
		if !perChannel || !add.Type.Shape.Equal(cv.Type.Shape) {
			continue
		}
		out := p.bufs[add]
		if overlaps(out, k.a) || overlaps(out, k.b) || overlaps(out, p.bufs[b]) {
			continue
		}
		k.out, k.rowBias = out, p.bufs[b]
		drop[i+1] = true
	}
	if len(drop) == 0 {
		return
	}
	kept := p.steps[:0]
	for i, s := range p.steps {
		if !drop[i] {
			kept = append(kept, s)
		}
	}
	p.steps = kept
}

// overlaps says whether the storage of a and b overlap.
func overlaps(a, b *buffer) bool {
	if a.n == 0 || b.n == 0 {
		return false
	}
	alo, blo := uintptr(a.p), uintptr(b.p)
	ahi, bhi := alo+uintptr(a.n*a.dt.Size()), blo+uintptr(b.n*b.dt.Size())
	return alo < bhi && blo < ahi
}

// addDots adds (or, with first, writes) Σ_s a_s·b_sᵀ into c[m, n], for
// nseg pairs of a_s[m, k] and b_s[n, k], both row-major along k (k ≥ 8;
// the rows of b ldb ≥ k floats apart) and astride and bstride floats
// apart: the weight gradient Σ_n
// dy[n]·col[n]ᵀ as dot products of rows, 4 rows of a by 3 of b at a time
// over all the samples, so that col needs no transposition, by gemm's
// dot micro-kernel (gemm.Dot4x3AVX2). Whole tiles with a's rows as the
// 4 go into c from the kernel (added, or written where first: the bits
// of adding a scratch tile); edge tiles, and tiles of the swapped
// orientation (c's transpose), go through a scratch tile, repeating
// their last row and dropping the repeated results.
func addDots(c, a, b []float32, m, n, k, ldb, nseg, astride, bstride int, first bool) {
	if nseg == 0 {
		if first {
			clear(c[:m*n])
		}
		return
	}
	var ap [4]*float32
	var bp [3]*float32
	var out [12]float32 // an edge tile, rows i0+i, columns j0+j at 3i+j
	_, _, _ = a[(nseg-1)*astride+m*k-1], b[(nseg-1)*bstride+(n-1)*ldb+k-1], c[m*n-1]
	acc := 1 // whole tiles (not swapped) go into c, added or (first) stored
	if first {
		acc = 0
	}
	if swapDots(m, n) {
		// 4 rows of b by 3 of a: fewer tiles (LeNet's conv1: m = 6
		// output channels, n = 25 taps: 14 tiles instead of 18).
		for i0 := 0; i0 < n; i0 += 4 {
			for i := range ap {
				ap[i] = &b[min(i0+i, n-1)*ldb]
			}
			for j0 := 0; j0 < m; j0 += 3 {
				for j := range bp {
					bp[j] = &a[min(j0+j, m-1)*k]
				}
				gemm.Dot4x3AVX2(k, nseg, 4*bstride, 4*astride, &ap, &bp, 1, 0, &out[0], 3, 0)
				for j := 0; j < 3 && j0+j < m; j++ {
					row := c[(j0+j)*n:][:n]
					for i := 0; i < 4 && i0+i < n; i++ {
						if first {
							row[i0+i] = out[3*i+j]
						} else {
							row[i0+i] += out[3*i+j]
						}
					}
				}
			}
		}
		return
	}
	for i0 := 0; i0 < m; i0 += 4 {
		for i := range ap {
			ap[i] = &a[min(i0+i, m-1)*k]
		}
		for j0 := 0; j0 < n; j0 += 3 {
			for j := range bp {
				bp[j] = &b[min(j0+j, n-1)*ldb]
			}
			if i0+4 <= m && j0+3 <= n { // a whole tile, into c
				_ = c[(i0+3)*n+j0+2]
				gemm.Dot4x3AVX2(k, nseg, 4*astride, 4*bstride, &ap, &bp, 1, 0, &c[i0*n+j0], n, acc)
				continue
			}
			gemm.Dot4x3AVX2(k, nseg, 4*astride, 4*bstride, &ap, &bp, 1, 0, &out[0], 3, 0)
			for i := 0; i < 4 && i0+i < m; i++ {
				row := c[(i0+i)*n:][:n]
				for j := 0; j < 3 && j0+j < n; j++ {
					if first {
						row[j0+j] = out[3*i+j]
					} else {
						row[j0+j] += out[3*i+j]
					}
				}
			}
		}
	}
}

// swapDots says whether addDots of an m×n result takes fewer 4×3 tiles
// with b's rows as the 4 and a's as the 3 (each tile reads its 7 rows
// once: the time goes with the number of tiles).
func swapDots(m, n int) bool {
	return dotsSwapOn && (n+3)/4*((m+2)/3) < (m+3)/4*((n+2)/3)
}

// dotsSwapOn lets swapDots choose the orientation (tests turn it off).
var dotsSwapOn = true
