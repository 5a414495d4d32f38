// This file implements the depthwise convolution (one input channel per
// group: groups = in_channels) and its two backward ops directly, without
// im2col or GEMM: as one GEMM per channel, its M is the channel
// multiplier (usually 1), too small for the GEMM's packing to pay off.
// Each kernel tap adds a scaled piece of an input plane to an output
// plane (or, for the weight gradient, takes a dot product of two
// planes), a whole plane at a time with AVX2 when the horizontal stride
// is 1.

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

// dwForward writes one output plane y[OH·OW] = bias + w ⋆ x of one input
// plane x[H·W] and one kernel w[KH·KW].
func (g *convGeom) dwForward(y, x, w []float32, bias float32) {
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
			if simdOn && g.sw == 1 {
				dst := y[r0*OW+lo:][:(r1-r0-1)*OW+hi-lo]
				src := x[ih0*W+lo+off:][:(r1-r0-1)*g.sh*W+hi-lo]
				axpyRowsAVX2(&dst[0], &src[0], r1-r0, hi-lo, OW, g.sh*W, wv)
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
// the kernel w[KH·KW] into dx[H·W].
func (g *convGeom) dwInput(dx, dy, w []float32) {
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
			if simdOn && g.sw == 1 {
				src := dy[r0*OW+lo:][:(r1-r0-1)*OW+hi-lo]
				dst := dx[ih0*W+lo+off:][:(r1-r0-1)*g.sh*W+hi-lo]
				axpyRowsAVX2(&dst[0], &src[0], r1-r0, hi-lo, g.sh*W, OW, wv)
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

// dwWeight adds the weight gradient of one input plane x[H·W] and one
// output plane dy[OH·OW] into dw[KH·KW].
func (g *convGeom) dwWeight(dw, x, dy []float32) {
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
			if simdOn && g.sw == 1 {
				a := dy[r0*OW+lo:][:(r1-r0-1)*OW+hi-lo]
				b := x[ih0*W+lo+off:][:(r1-r0-1)*g.sh*W+hi-lo]
				dw[kh*g.KW+kw] += dotRowsAVX2(&a[0], &b[0], r1-r0, hi-lo, OW, g.sh*W)
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
	switch k.op {
	case ir.OpConv2D: // a = x, b = w
		var bias []float32
		if k.rowBias != nil {
			bias = f32s(k.rowBias)
		}
		for n := lo; n < hi; n++ {
			for oc := range GO {
				var bv float32
				if bias != nil {
					bv = bias[oc]
				}
				k.dwForward(out[(n*GO+oc)*P:][:P], a[(n*k.G+oc/k.O)*HW:][:HW], b[oc*KK:][:KK], bv)
			}
		}
	case ir.OpConv2DBackwardInput: // a = dy, b = w
		for n := lo; n < hi; n++ {
			for grp := range k.G {
				dx := out[(n*k.G+grp)*HW:][:HW]
				clear(dx)
				for oc := grp * k.O; oc < (grp+1)*k.O; oc++ {
					k.dwInput(dx, a[(n*GO+oc)*P:][:P], b[oc*KK:][:KK])
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
			for oc := range GO {
				k.dwWeight(dw[oc*KK:][:KK], a[(n*k.G+oc/k.O)*HW:][:HW], b[(n*GO+oc)*P:][:P])
			}
		}
	}
}
