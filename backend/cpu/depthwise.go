// This file implements the depthwise convolution (one input channel per
// group: groups = in_channels) and its two backward ops directly, without
// im2col or GEMM: as one GEMM per channel, its M is the channel
// multiplier (usually 1), too small for the GEMM's packing to pay off.
// Each kernel tap adds a scaled piece of an input plane to an output
// plane (or, for the weight gradient, takes a dot product of two
// planes), a whole plane at a time with AVX2. A horizontal stride s > 1
// first splits the input plane into s phase planes (columns j·s + p in
// phase p), in which every tap reads contiguous pieces again.

package cpu

import "github.com/encc-lang/encc/ir"

// depthwiseOn lets buildConv choose the direct kernels of this file for a
// depthwise convolution (tests turn it off to compare them with the GEMM
// path).
var depthwiseOn = true

// isDepthwise says whether the convolution has one input channel per
// group and more than one group.
func (g *convGeom) isDepthwise() bool { return g.C == 1 && g.G > 1 }

// colSpan returns, for kernel column kw, the output columns [lo, hi)
// whose input column ow·sw - pw + kw·dw lies inside the row (any stride).
func (g *convGeom) colSpan(kw int) (lo, hi int) {
	off := kw*g.dw - g.pw
	if off < 0 {
		lo = (-off + g.sw - 1) / g.sw
	}
	if g.W-1-off >= 0 {
		hi = min(g.OW, (g.W-1-off)/g.sw+1)
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// phaseW is the width of a phase plane: the input columns j·sw + p of
// one phase p.
func (g *convGeom) phaseW() int { return (g.W + g.sw - 1) / g.sw }

// phaseLen is the size of the phase planes of one input plane (0 for a
// horizontal stride of 1, which needs none).
func (g *convGeom) phaseLen() int {
	if g.sw == 1 {
		return 0
	}
	return g.sw * g.H * g.phaseW()
}

// split writes the phase planes ph of the input plane x[H·W].
func (g *convGeom) split(ph, x []float32) {
	pw := g.phaseW()
	for p := range g.sw {
		for h := range g.H {
			xr := x[h*g.W : (h+1)*g.W]
			dst := ph[(p*g.H+h)*pw:][:pw]
			j := 0
			for iw := p; iw < g.W; iw += g.sw {
				dst[j] = xr[iw]
				j++
			}
		}
	}
}

// merge writes the input plane dx[H·W] from its phase planes ph.
func (g *convGeom) merge(dx, ph []float32) {
	pw := g.phaseW()
	for p := range g.sw {
		for h := range g.H {
			xr := dx[h*g.W : (h+1)*g.W]
			src := ph[(p*g.H+h)*pw:][:pw]
			j := 0
			for iw := p; iw < g.W; iw += g.sw {
				xr[iw] = src[j]
				j++
			}
		}
	}
}

// vecCol returns where the vector kernels find the input of kernel
// column kw for output column 0 of input row 0 (an offset into the input
// plane, or into its phase planes when sw > 1) and the row width there:
// output column ow of input row ih is at base + ih·rowW + ow.
func (g *convGeom) vecCol(kw int) (base, rowW int) {
	off := kw*g.dw - g.pw
	if g.sw == 1 {
		return off, g.W
	}
	p := ((off % g.sw) + g.sw) % g.sw
	return p*g.H*g.phaseW() + (off-p)/g.sw, g.phaseW()
}

// dwForward writes one output plane y[OH·OW] = bias + w ⋆ x of one input
// plane x[H·W] and one kernel w[KH·KW]; xv is x (sw = 1) or its phase
// planes, read by the vector kernels.
func (g *convGeom) dwForward(y, x, xv, w []float32, bias float32) {
	for i := range y {
		y[i] = bias
	}
	OW, W := g.OW, g.W
	for kh := range g.KH {
		r0, r1 := g.rowsOf(kh)
		if r1 <= r0 {
			continue
		}
		ih0 := r0*g.sh - g.ph + kh*g.dh
		for kw := range g.KW {
			lo, hi := g.colSpan(kw)
			if hi <= lo {
				continue
			}
			wv, off := w[kh*g.KW+kw], kw*g.dw-g.pw
			if simdOn {
				base, rw := g.vecCol(kw)
				dst := y[r0*OW+lo:][:(r1-r0-1)*OW+hi-lo]
				src := xv[base+ih0*rw+lo:][:(r1-r0-1)*g.sh*rw+hi-lo]
				axpyRowsAVX2(&dst[0], &src[0], r1-r0, hi-lo, OW, g.sh*rw, wv)
				continue
			}
			for r := range r1 - r0 {
				yr := y[(r0+r)*OW+lo : (r0+r)*OW+hi]
				xr := x[(ih0+r*g.sh)*W:][:W]
				iw := lo*g.sw + off
				for i := range yr {
					yr[i] += wv * xr[iw]
					iw += g.sw
				}
			}
		}
	}
}

// dwInput adds the input gradient of one output plane dy[OH·OW] through
// the kernel w[KH·KW] into dx[H·W]; with AVX2, into dxv instead: dx
// (sw = 1) or its phase planes.
func (g *convGeom) dwInput(dx, dxv, dy, w []float32) {
	OW, W := g.OW, g.W
	for kh := range g.KH {
		r0, r1 := g.rowsOf(kh)
		if r1 <= r0 {
			continue
		}
		ih0 := r0*g.sh - g.ph + kh*g.dh
		for kw := range g.KW {
			lo, hi := g.colSpan(kw)
			if hi <= lo {
				continue
			}
			wv, off := w[kh*g.KW+kw], kw*g.dw-g.pw
			if simdOn {
				base, rw := g.vecCol(kw)
				src := dy[r0*OW+lo:][:(r1-r0-1)*OW+hi-lo]
				dst := dxv[base+ih0*rw+lo:][:(r1-r0-1)*g.sh*rw+hi-lo]
				axpyRowsAVX2(&dst[0], &src[0], r1-r0, hi-lo, g.sh*rw, OW, wv)
				continue
			}
			for r := range r1 - r0 {
				dyr := dy[(r0+r)*OW+lo : (r0+r)*OW+hi]
				xr := dx[(ih0+r*g.sh)*W:][:W]
				iw := lo*g.sw + off
				for _, e := range dyr {
					xr[iw] += wv * e
					iw += g.sw
				}
			}
		}
	}
}

// dwWeight adds the weight gradient of one input plane x[H·W] (xv: x or
// its phase planes, as in dwForward) and one output plane dy[OH·OW] into
// dw[KH·KW].
func (g *convGeom) dwWeight(dw, x, xv, dy []float32) {
	OW, W := g.OW, g.W
	for kh := range g.KH {
		r0, r1 := g.rowsOf(kh)
		if r1 <= r0 {
			continue
		}
		ih0 := r0*g.sh - g.ph + kh*g.dh
		for kw := range g.KW {
			lo, hi := g.colSpan(kw)
			if hi <= lo {
				continue
			}
			off := kw*g.dw - g.pw
			if simdOn {
				base, rw := g.vecCol(kw)
				a := dy[r0*OW+lo:][:(r1-r0-1)*OW+hi-lo]
				b := xv[base+ih0*rw+lo:][:(r1-r0-1)*g.sh*rw+hi-lo]
				dw[kh*g.KW+kw] += dotRowsAVX2(&a[0], &b[0], r1-r0, hi-lo, OW, g.sh*rw)
				continue
			}
			var s float32
			for r := range r1 - r0 {
				dyr := dy[(r0+r)*OW+lo : (r0+r)*OW+hi]
				xr := x[(ih0+r*g.sh)*W:][:W]
				iw := lo*g.sw + off
				for _, e := range dyr {
					s += e * xr[iw]
					iw += g.sw
				}
			}
			dw[kh*g.KW+kw] += s
		}
	}
}

// depthwiseRange runs the depthwise form of the kernel's op for the
// samples [lo, hi) of task t: x[N,G,H,W], w[G·O,1,KH,KW], y[N,G·O,OH,OW].
func (k *convKernel) depthwiseRange(lo, hi, t int) {
	a, b, out := f32s(k.a), f32s(k.b), f32s(k.out)
	HW, P, KK, GO := k.H*k.W, k.p(), k.KH*k.KW, k.G*k.O
	split := simdOn && k.sw > 1
	ph := k.cols[t] // the phase planes (sw > 1)
	switch k.op {
	case ir.OpConv2D: // a = x, b = w
		var bias []float32
		if k.rowBias != nil {
			bias = f32s(k.rowBias)
		}
		for n := lo; n < hi; n++ {
			for grp := range k.G {
				x := a[(n*k.G+grp)*HW:][:HW]
				xv := x
				if split {
					k.split(ph, x)
					xv = ph
				}
				for oc := grp * k.O; oc < (grp+1)*k.O; oc++ {
					var bv float32
					if bias != nil {
						bv = bias[oc]
					}
					k.dwForward(out[(n*GO+oc)*P:][:P], x, xv, b[oc*KK:][:KK], bv)
				}
			}
		}
	case ir.OpConv2DBackwardInput: // a = dy, b = w
		for n := lo; n < hi; n++ {
			for grp := range k.G {
				dx := out[(n*k.G+grp)*HW:][:HW]
				dxv := dx
				if split {
					dxv = ph
				}
				clear(dxv)
				for oc := grp * k.O; oc < (grp+1)*k.O; oc++ {
					k.dwInput(dx, dxv, a[(n*GO+oc)*P:][:P], b[oc*KK:][:KK])
				}
				if split {
					k.merge(dx, ph)
				}
			}
		}
	case ir.OpConv2DBackwardWeight: // a = x, b = dy
		dw := out
		if k.partial != nil {
			dw = k.partial[t]
		}
		clear(dw)
		for n := lo; n < hi; n++ {
			for grp := range k.G {
				x := a[(n*k.G+grp)*HW:][:HW]
				xv := x
				if split {
					k.split(ph, x)
					xv = ph
				}
				for oc := grp * k.O; oc < (grp+1)*k.O; oc++ {
					k.dwWeight(dw[oc*KK:][:KK], x, xv, b[(n*GO+oc)*P:][:P])
				}
			}
		}
	}
}
