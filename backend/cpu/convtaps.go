// This file implements the tap kernels of a stride-1 convolution with
// few output channels and small planes (convKernel.taps): instead of
// im2col's C·KH·KW rows per sample, it builds C·KW shifted planes, in
// which every tap (c, kh, kw) is a contiguous run of the sample's output
// pixels at an offset. The forward sums the taps into 6 output channels
// × 16 pixels in registers (convTaps6AVX2); the weight gradient takes
// dot products of output-gradient rows with tap runs (gemm.Dot4x3AVX2), as
// addDots does with im2col's rows.

package cpu

import "github.com/encc-lang/encc/backend/cpu/gemm"

// tapsOn lets convolutions use the tap kernels (tests turn it off to
// compare with im2col + GEMM).
var tapsOn = true

// The tap kernels run convolutions with at most tapsMaxO output
// channels whose planes take at most tapsMaxPlanes floats per sample
// (they stay in L1/L2 while the taps read them). There the GEMM's 6×16
// micro-kernel gets few rows or a short K, and im2col writes KH times
// more than the planes. Per step of LeNet (batch 64, one core, medians
// of interleaved runs): conv1 589 → 206 µs, conv2 676 → 457 µs; the
// weight gradients of conv1 397 → 233-280 µs and of conv2 656-674 →
// 445-470 µs with 7 samples per Dot4x3AVX2 call (715-747 µs with one).
const (
	tapsMaxO      = 16
	tapsMaxPlanes = 16384
)

// tapsFwdOK says whether conv2d of g can run the forward tap kernel.
func (g *convGeom) tapsFwdOK() bool {
	return g.tapsGeom() && g.p() >= 16 && g.O <= tapsMaxO && g.planesLen() <= tapsMaxPlanes
}

// tapsWeightOK says whether conv2d_backward_weight of g runs the tap
// dots (gemm.Dot4x3AVX2 needs runs of at least 8).
func (g *convGeom) tapsWeightOK() bool {
	return g.tapsGeom() && g.p() >= 8 && g.O <= tapsMaxO && g.planesLen() <= tapsMaxPlanes
}

// tapsSegFloats bounds the planes of the samples one weight-gradient
// call of gemm.Dot4x3AVX2 sums (tapSeg samples).
const tapsSegFloats = 32768

// tapsGeom: one group, stride 1, a column matrix, no empty dimension
// (convTaps6AVX2 takes at least one tap).
func (g *convGeom) tapsGeom() bool {
	return simdOn && tapsOn && g.G == 1 && g.sh == 1 && g.sw == 1 && !g.direct &&
		g.C > 0 && g.O > 0 && g.KH > 0 && g.KW > 0
}

// planeRows is the number of rows of a shifted plane: the padded input
// rows OH + (KH-1)·dh.
func (g *convGeom) planeRows() int { return g.OH + (g.KH-1)*g.dh }

// planesLen is the number of floats of one sample's shifted planes.
func (g *convGeom) planesLen() int { return g.C * g.KW * g.planeRows() * g.OW }

// tapOffsets returns, for tap t = (c·KH + kh)·KW + kw, the offset in a
// sample's planes of the run its output pixels read: plane (c, kw)
// holds X[r][ow] = x[c][r-ph][ow-pw+kw·dw] (zero outside x), so output
// pixel p = oh·OW + ow of the tap reads X[oh + kh·dh][ow], i.e. the
// plane's element p + kh·dh·OW.
func (g *convGeom) tapOffsets() []int {
	off := make([]int, g.ckk())
	R := g.planeRows()
	for c := range g.C {
		for kh := range g.KH {
			for kw := range g.KW {
				off[(c*g.KH+kh)*g.KW+kw] = (c*g.KW+kw)*R*g.OW + kh*g.dh*g.OW
			}
		}
	}
	return off
}

// buildPlanes writes the shifted planes of sample x into X. It writes
// only the elements that come from x: the zeros around them are those X
// was allocated with, since nothing else writes there.
func (g *convGeom) buildPlanes(X, x []float32) {
	R, OW, W := g.planeRows(), g.OW, g.W
	r0, r1 := g.ph, min(g.ph+g.H, R)
	if r1 <= r0 {
		return
	}
	for c := range g.C {
		xc := x[c*g.H*W:][:g.H*W]
		for kw := range g.KW {
			lo, hi := g.span(kw)
			if hi <= lo {
				continue
			}
			off := kw*g.dw - g.pw
			dst := X[((c*g.KW+kw)*R+r0)*OW+lo:][:(r1-r0-1)*OW+hi-lo]
			src := xc[(r0-g.ph)*W+lo+off:][:(r1-r0-1)*W+hi-lo]
			if hi-lo >= 8 {
				copyRowsAVX2(&dst[0], &src[0], r1-r0, hi-lo, OW, W)
				continue
			}
			for r := range r1 - r0 {
				copy(dst[r*OW:][:hi-lo], src[r*W:][:hi-lo])
			}
		}
	}
}

// packTaps lays out w[O, CKK] (and the bias, if any) for convTaps6AVX2:
// per group q of 6 output channels, wp[(q·CKK + t)·6 + j] = w[6q+j][t]
// and bp[6q+j] = bias[6q+j], the last channel repeated past O.
func (k *convKernel) packTaps(w, bias []float32) {
	CKK := k.ckk()
	for q := range (k.O + 5) / 6 {
		for j := range 6 {
			o := min(6*q+j, k.O-1)
			wo := w[o*CKK:][:CKK]
			for t, e := range wo {
				k.wpack[(q*CKK+t)*6+j] = e
			}
			if bias != nil {
				k.bpack[6*q+j] = bias[o]
			}
		}
	}
}

// tapsForward runs conv2d for samples [lo, hi) with the tap kernel.
func (k *convKernel) tapsForward(t, lo, hi int) {
	x, y := f32s(k.a), f32s(k.out)
	X := k.cols[t]
	CHW, P, CKK := k.C*k.H*k.W, k.p(), k.ckk()
	var bp *float32
	if k.rowBias != nil {
		bp = &k.bpack[0]
	}
	var outs [6]*float32
	P16 := P &^ 15
	for n := lo; n < hi; n++ {
		k.buildPlanes(X, x[n*CHW:][:CHW])
		yn := y[n*k.O*P:][:k.O*P]
		for q := range (k.O + 5) / 6 {
			for j := range outs {
				outs[j] = &yn[min(6*q+j, k.O-1)*P]
			}
			wq := &k.wpack[q*CKK*6]
			var bq *float32
			if bp != nil {
				bq = &k.bpack[6*q]
			}
			convTaps6AVX2(&X[0], &k.tapOff[0], CKK, wq, bq, &outs, P16)
			if P16 < P { // the last 16 pixels again, ending at P
				for j := range outs {
					outs[j] = &yn[min(6*q+j, k.O-1)*P+P-16]
				}
				convTaps6AVX2(&X[P-16], &k.tapOff[0], CKK, wq, bq, &outs, 16)
			}
		}
	}
}

// tapsWeight runs conv2d_backward_weight for samples [lo, hi): equal
// segments of up to tapSeg samples build their planes, then addTapDots
// sums them.
func (k *convKernel) tapsWeight(t, lo, hi int) {
	x, dy := f32s(k.a), f32s(k.b)
	dw := f32s(k.out)
	if k.partial != nil {
		dw = k.partial[t]
	}
	if lo == hi {
		clear(dw)
		return
	}
	X := k.cols[t]
	CHW, OP, PL := k.C*k.H*k.W, k.O*k.p(), k.planesLen()
	segs := (hi - lo + k.tapSeg - 1) / k.tapSeg
	per := (hi - lo + segs - 1) / segs // equal segments: 4 + 4, not 7 + 1
	for n0 := lo; n0 < hi; n0 += per {
		w := min(per, hi-n0)
		for s := range w {
			k.buildPlanes(X[s*PL:][:PL], x[(n0+s)*CHW:][:CHW])
		}
		k.addTapDots(dw, dy[n0*OP:][:w*OP], X, w, n0 == lo)
	}
}

// addTapDots adds (or, with first, writes) into dw[o][t] the sums over
// nseg samples s of dy_s[o]·X_s[off[t]:][:P] (dy_s at s·O·P, X_s at
// s·planesLen), 4 rows of one side by 3 of the other at a time as in
// addDots, the orientation with fewer tiles; whole tiles of 4 channels
// by 3 taps are added into dw by the kernel, as in addDots. (LeNet's
// conv2, 16 × 150: its weight gradient 443 → 421 µs of one thread's CPU,
// W3's op profile, medians of 9 alternated runs, against a scratch tile
// for every tile.)
func (k *convKernel) addTapDots(dw, dy, X []float32, nseg int, first bool) {
	O, T, P := k.O, k.ckk(), k.p()
	_, _ = dy[(nseg-1)*O*P+O*P-1], X[(nseg-1)*k.planesLen()+k.planesLen()-1]
	dyStride, xStride := 4*O*P, 4*k.planesLen()
	var ap [4]*float32
	var bp [3]*float32
	var out [12]float32 // an edge tile (or swapped), rows i0+i, columns j0+j at 3i+j
	if first {          // the tiles add into dw
		clear(dw[:O*T])
	}
	if swapDots(O, T) { // 4 taps by 3 channels
		for i0 := 0; i0 < T; i0 += 4 {
			for i := range ap {
				ap[i] = &X[k.tapOff[min(i0+i, T-1)]]
			}
			for j0 := 0; j0 < O; j0 += 3 {
				for j := range bp {
					bp[j] = &dy[min(j0+j, O-1)*P]
				}
				gemm.Dot4x3AVX2(P, nseg, xStride, dyStride, &ap, &bp, 1, 0, &out[0], 3, 0)
				for j := 0; j < 3 && j0+j < O; j++ {
					for i := 0; i < 4 && i0+i < T; i++ {
						dw[(j0+j)*T+i0+i] += out[3*i+j]
					}
				}
			}
		}
		return
	}
	for i0 := 0; i0 < O; i0 += 4 { // 4 channels by 3 taps
		for i := range ap {
			ap[i] = &dy[min(i0+i, O-1)*P]
		}
		for j0 := 0; j0 < T; j0 += 3 {
			for j := range bp {
				bp[j] = &X[k.tapOff[min(j0+j, T-1)]]
			}
			if i0+4 <= O && j0+3 <= T { // a whole tile, added into dw
				_ = dw[(i0+3)*T+j0+2]
				gemm.Dot4x3AVX2(P, nseg, dyStride, xStride, &ap, &bp, 1, 0, &dw[i0*T+j0], T, 1)
				continue
			}
			gemm.Dot4x3AVX2(P, nseg, dyStride, xStride, &ap, &bp, 1, 0, &out[0], 3, 0)
			for i := 0; i < 4 && i0+i < O; i++ {
				for j := 0; j < 3 && j0+j < T; j++ {
					dw[(i0+i)*T+j0+j] += out[3*i+j]
				}
			}
		}
	}
}

// col2imPlanesOK says whether the input gradient of g can fold its
// column matrix through shifted planes (col2imPlanes): stride 1 and
// pieces of at least 8 floats.
func (g *convGeom) col2imPlanesOK() bool {
	return g.tapsGeom() && g.minPiece() >= 8
}

// col2imPlanes is col2im (stride 1) through the shifted planes X of
// one sample: the adjoint of buildPlanes. The rows of the KH taps of
// plane (c, kw) are whole runs at offsets kh·dh·OW, so they go in as
// C·KH·KW runs of OH·OW floats; then the C·KW planes fold into dx, a
// piece per plane row. col2imUnit adds C·KH·KW·OH pieces of OW floats
// instead (LeNet's conv2: 1500 pieces of 10 per sample against 150
// runs of 100 and 420 pieces; the op took 9% less CPU). Each element of dx sums the same terms,
// in another order: per kw over kh first.
func (g *convGeom) col2imPlanes(dx, col []float32, ld int, X []float32) {
	R, OW, P := g.planeRows(), g.OW, g.p()
	PL := R * OW
	for kh := range g.KH { // kh outermost: consecutive runs go to different planes
		for c := range g.C {
			for kw := range g.KW {
				row := col[((c*g.KH+kh)*g.KW+kw)*ld:][:P]
				pl := X[(c*g.KW+kw)*PL:][:PL]
				if kh == 0 { // the first run writes; rows below it start at zero
					copy(pl[:P], row)
					clear(pl[P:])
					continue
				}
				dst := pl[kh*g.dh*OW:][:P]
				addRowsAVX2(&dst[0], &row[0], 1, P, 0, 0)
			}
		}
	}
	g.foldPlanes(dx, X)
}

// foldPlanes writes into dx the adjoint of buildPlanes of the planes X:
// each element of dx sums, over kw, the plane elements buildPlanes
// would have copied it to.
func (g *convGeom) foldPlanes(dx, X []float32) {
	R, OW, W := g.planeRows(), g.OW, g.W
	clear(dx)
	r0, r1 := g.ph, min(g.ph+g.H, R)
	if r1 <= r0 {
		return
	}
	for kw := range g.KW {
		lo, hi := g.span(kw)
		if hi <= lo {
			continue
		}
		off := kw*g.dw - g.pw
		for c := range g.C {
			src := X[((c*g.KW+kw)*R+r0)*OW+lo:][:(r1-r0-1)*OW+hi-lo]
			dst := dx[c*g.H*W+(r0-g.ph)*W+lo+off:][:(r1-r0-1)*W+hi-lo]
			addRowsAVX2(&dst[0], &src[0], r1-r0, hi-lo, W, OW)
		}
	}
}

// tapsBackOK says whether conv2d_backward_input of g runs on the tap
// kernel (tapsBackward): its planes and padded output gradient fit
// tapsMaxPlanes, a plane has at least 16 elements, and the fold's
// pieces at least 8.
func (g *convGeom) tapsBackOK() bool {
	return g.tapsGeom() && g.minPiece() >= 8 && g.planeRows()*g.OW >= 16 &&
		g.planesLen() <= tapsMaxPlanes && g.O*g.padLen() <= tapsMaxPlanes
}

// padLen is the length of one channel of a sample's output gradient
// between (KH-1)·dh rows of zeros above and below (tapsBackward).
func (g *convGeom) padLen() int { return g.p() + 2*(g.KH-1)*g.dh*g.OW }

// backTapOffsets returns, for the tap (kh, o) = kh·O + o of the input
// gradient, the offset in the padded output gradient of the run that
// plane element 0 reads: plane (c, kw) element q = r·OW + ow gets
// w[o][c][kh][kw]·dy[o][q - kh·dh·OW], zero outside dy.
func (g *convGeom) backTapOffsets() []int {
	off := make([]int, g.O*g.KH)
	for kh := range g.KH {
		for o := range g.O {
			off[kh*g.O+o] = o*g.padLen() + (g.KH-1-kh)*g.dh*g.OW
		}
	}
	return off
}

// A backSeg is a run of plane elements [p, p+n) (n a multiple of 16)
// whose taps that can reach dy are [t, t+nt) (kh-major: the rows kh of
// all channels o). Near the top and bottom rows of a plane some kernel
// rows read only the zeros around dy; the segments leave them out
// (LeNet's conv2: 50 of the 70 (row, kh) pairs reach dy).
type backSeg struct{ p, n, t, nt int }

// backSegs cuts a plane of PL elements into 16-element blocks (the last
// ending at PL) and merges neighbours with the same taps.
func (g *convGeom) backSegs() []backSeg {
	PL := g.planeRows() * g.OW
	taps := func(q0 int) (int, int) { // the kh range of plane elements [q0, q0+16)
		ra, rb := q0/g.OW, (q0+15)/g.OW
		lo := max(0, (ra-g.OH+g.dh)/g.dh) // the least kh with ra - kh·dh < OH
		if ra-g.OH+1 <= 0 {
			lo = 0
		}
		hi := min(g.KH-1, rb/g.dh)
		return lo, hi
	}
	var segs []backSeg
	add := func(q0, n int) {
		lo, hi := taps(q0)
		t, nt := lo*g.O, max(0, hi-lo+1)*g.O
		if l := len(segs) - 1; l >= 0 && segs[l].p+segs[l].n == q0 && segs[l].t == t && segs[l].nt == nt {
			segs[l].n += n
			return
		}
		segs = append(segs, backSeg{q0, n, t, nt})
	}
	for q0 := 0; q0+16 <= PL; q0 += 16 {
		add(q0, 16)
	}
	if PL%16 != 0 {
		segs = append(segs, backSeg{PL - 16, 16, 0, 0})
		lo, hi := taps(PL - 16)
		segs[len(segs)-1].t, segs[len(segs)-1].nt = lo*g.O, max(0, hi-lo+1)*g.O
	}
	return segs
}

// packBackTaps lays out w[O, C, KH, KW] for tapsBackward: per group q of
// 6 planes j = c·KW + kw, wp[(q·KH·O + kh·O + o)·6 + j - 6q] =
// w[o][c][kh][kw], the last plane repeated past C·KW.
func (k *convKernel) packBackTaps(w []float32) {
	J, T := k.C*k.KW, k.O*k.KH
	for q := range (J + 5) / 6 {
		for jj := range 6 {
			j := min(6*q+jj, J-1)
			c, kw := j/k.KW, j%k.KW
			for kh := range k.KH {
				for o := range k.O {
					k.wpack[(q*T+kh*k.O+o)*6+jj] = w[((o*k.C+c)*k.KH+kh)*k.KW+kw]
				}
			}
		}
	}
}

// tapsBackward runs conv2d_backward_input for samples [lo, hi): the
// input gradient's shifted planes (the adjoint of buildPlanes) are a
// convolution of the output gradient, padded with zero rows, whose 6
// output rows at a time are planes and whose taps are (kh, o), over the
// segments of backSegs; then foldPlanes adds the planes into dx. There
// is no column matrix: for LeNet's conv2 the GEMM [150×16]·[16×100] per
// sample and its col2im become 30 planes × 140 elements × up to 80 taps.
func (k *convKernel) tapsBackward(t, lo, hi int) {
	dy, dx := f32s(k.a), f32s(k.out)
	X, Y := k.cols[t], k.tmp[t]
	CHW, OP, P, PL, LD := k.C*k.H*k.W, k.O*k.p(), k.p(), k.planeRows()*k.OW, k.padLen()
	J, T := k.C*k.KW, k.O*k.KH
	top := (k.KH - 1) * k.dh * k.OW
	var outs [6]*float32
	for n := lo; n < hi; n++ {
		dyn := dy[n*OP:][:OP]
		for o := range k.O {
			copy(Y[o*LD+top:][:P], dyn[o*P:][:P])
		}
		for q := range (J + 5) / 6 {
			for _, sg := range k.backSegs {
				if sg.nt == 0 { // no tap reaches dy: zeros
					for jj := range 6 {
						clear(X[min(6*q+jj, J-1)*PL+sg.p:][:sg.n])
					}
					continue
				}
				for jj := range outs {
					outs[jj] = &X[min(6*q+jj, J-1)*PL+sg.p]
				}
				convTaps6AVX2(&Y[sg.p], &k.tapOff[sg.t], sg.nt, &k.wpack[(q*T+sg.t)*6], nil, &outs, sg.n)
			}
		}
		k.foldPlanes(dx[n*CHW:][:CHW], X)
	}
}
