// This file implements max and average pooling and their backward ops,
// one (sample, channel) plane per work item.

package cpu

import (
	"math"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildPool, ir.OpMaxPool2D, ir.OpMaxPool2DBackward, ir.OpAvgPool2D, ir.OpAvgPool2DBackward)
}

// poolKernel runs one pooling op over planes of x[N,C,H,W] and y[N,C,OH,OW].
type poolKernel struct {
	op                     ir.Op
	planes, H, W, OH, OW   int
	kh, kw, sh, sw, ph, pw int
	a, b, out              *buffer // the operands (b is dy for maxpool2d_backward) and the result
	pool                   *parallel.Pool
	// relu (2×2 max pooling only, set by fuseReluPool): a is the input of
	// a ReLU the pooling followed. The forward writes max(0, max); the
	// backward writes relu_backward(a, maxpool2d_backward(relu(a), dy)):
	// dy at the first maximum of a window whose max is above 0.
	relu bool
}

// is2x2 says whether max2x2 runs the op.
func (k *poolKernel) is2x2() bool {
	return (k.op == ir.OpMaxPool2D || k.op == ir.OpMaxPool2DBackward) && k.kh == 2 && k.kw == 2 && k.sh == 2 && k.sw == 2 &&
		k.ph == 0 && k.pw == 0 && k.OH*2 <= k.H && k.OW*2 <= k.W
}

func (k *poolKernel) run() error {
	parFor(k.pool, k.planes, k.H*k.W+k.OH*k.OW*k.kh*k.kw, k)
	return nil
}

// window returns the input rows [h0,h1) and columns [w0,w1) of window
// (oh, ow), clipped to the input.
func (k *poolKernel) window(oh, ow int) (h0, h1, w0, w1 int) {
	h0, w0 = oh*k.sh-k.ph, ow*k.sw-k.pw
	h1, w1 = min(h0+k.kh, k.H), min(w0+k.kw, k.W)
	return max(h0, 0), h1, max(w0, 0), w1
}

// argmax returns the offset in plane x of the first maximum of a window
// (row-major order), or -1 for an empty window.
func (k *poolKernel) argmax(x []float32, oh, ow int) int {
	h0, h1, w0, w1 := k.window(oh, ow)
	best := -1
	for ih := h0; ih < h1; ih++ {
		for iw := w0; iw < w1; iw++ {
			if o := ih*k.W + iw; best < 0 || x[o] > x[best] {
				best = o
			}
		}
	}
	return best
}

// max2x2 is maxpool2d and its backward for 2×2 windows, stride 2, no
// padding, over planes [lo, hi), without branches on the data (random
// data would mispredict most of them): the maximum is the first element
// of the window, in row-major order, equal to the window's max, as with
// argmax (a NaN anywhere gives NaN, and no gradient).
func (k *poolKernel) max2x2(lo, hi int) {
	HW, OHW, W, OW := k.H*k.W, k.OH*k.OW, k.W, k.OW
	if simdOn && W >= 8 && W == 2*OW && k.H == 2*k.OH && hi > lo {
		// Planes are back to back, so planes [lo, hi) are (hi-lo)·OH row pairs.
		x := f32s(k.a)[lo*HW : hi*HW]
		flags := 0
		if k.relu {
			flags = 2
		}
		if k.op == ir.OpMaxPool2D {
			y := f32s(k.out)[lo*OHW : hi*OHW]
			maxpool2AVX2(&y[0], &x[0], nil, nil, (hi-lo)*k.OH, W, flags)
		} else {
			dy, dx := f32s(k.b)[lo*OHW:hi*OHW], f32s(k.out)[lo*HW:hi*HW]
			maxpool2AVX2(nil, &x[0], &dy[0], &dx[0], (hi-lo)*k.OH, W, flags|1)
		}
		return
	}
	for pl := lo; pl < hi; pl++ {
		x := f32s(k.a)[pl*HW:][:HW]
		if k.op == ir.OpMaxPool2D {
			y := f32s(k.out)[pl*OHW:][:OHW]
			for oh := range k.OH {
				r0, r1 := x[2*oh*W:][:2*OW], x[(2*oh+1)*W:][:2*OW]
				yr := y[oh*OW:][:OW]
				for ow := range yr {
					yr[ow] = max(max(r0[2*ow], r0[2*ow+1]), max(r1[2*ow], r1[2*ow+1]))
				}
				if k.relu {
					for ow, e := range yr {
						if !(e > 0) && e == e { // max(0, e); NaN stays
							yr[ow] = 0
						}
					}
				}
			}
			continue
		}
		dy, dx := f32s(k.b)[pl*OHW:][:OHW], f32s(k.out)[pl*HW:][:HW]
		if 2*k.OH != k.H || 2*OW != W {
			clear(dx)
		}
		for oh := range k.OH {
			r0, r1 := x[2*oh*W:][:2*OW], x[(2*oh+1)*W:][:2*OW]
			d0, d1 := dx[2*oh*W:][:2*OW], dx[(2*oh+1)*W:][:2*OW]
			g := dy[oh*OW:][:OW]
			for ow := range g {
				a, b, c, d := r0[2*ow], r0[2*ow+1], r1[2*ow], r1[2*ow+1]
				m := max(max(a, b), max(c, d))
				gb := math.Float32bits(g[ow])
				if k.relu {
					gb &= mask32(m > 0)
				}
				ea, eb, ec := mask32(a == m), mask32(b == m), mask32(c == m)
				ma := ea
				mb := eb &^ ma
				mc := ec &^ (ma | mb)
				md := ^(ma | mb | mc) & mask32(d == m)
				d0[2*ow] = math.Float32frombits(gb & ma)
				d0[2*ow+1] = math.Float32frombits(gb & mb)
				d1[2*ow] = math.Float32frombits(gb & mc)
				d1[2*ow+1] = math.Float32frombits(gb & md)
			}
		}
	}
}

// mask32 is all ones for true, zero for false.
func mask32(b bool) uint32 {
	var u uint32
	if b {
		u = 1
	}
	return -u
}

func (k *poolKernel) Range(lo, hi int) {
	if k.is2x2() {
		k.max2x2(lo, hi)
		return
	}
	HW, OHW := k.H*k.W, k.OH*k.OW
	area := float32(k.kh * k.kw)
	for pl := lo; pl < hi; pl++ {
		switch k.op {
		case ir.OpMaxPool2D:
			x, y := f32s(k.a)[pl*HW:][:HW], f32s(k.out)[pl*OHW:][:OHW]
			for oh := range k.OH {
				for ow := range k.OW {
					if o := k.argmax(x, oh, ow); o >= 0 {
						y[oh*k.OW+ow] = x[o]
					} else {
						y[oh*k.OW+ow] = float32(math.Inf(-1))
					}
				}
			}
		case ir.OpMaxPool2DBackward:
			x, dy, dx := f32s(k.a)[pl*HW:][:HW], f32s(k.b)[pl*OHW:][:OHW], f32s(k.out)[pl*HW:][:HW]
			clear(dx)
			for oh := range k.OH {
				for ow := range k.OW {
					if o := k.argmax(x, oh, ow); o >= 0 {
						dx[o] += dy[oh*k.OW+ow]
					}
				}
			}
		case ir.OpAvgPool2D:
			x, y := f32s(k.a)[pl*HW:][:HW], f32s(k.out)[pl*OHW:][:OHW]
			for oh := range k.OH {
				for ow := range k.OW {
					h0, h1, w0, w1 := k.window(oh, ow)
					var s float32
					for ih := h0; ih < h1; ih++ {
						for _, e := range x[ih*k.W+w0 : ih*k.W+w1] {
							s += e
						}
					}
					y[oh*k.OW+ow] = s / area
				}
			}
		case ir.OpAvgPool2DBackward:
			dy, dx := f32s(k.a)[pl*OHW:][:OHW], f32s(k.out)[pl*HW:][:HW]
			clear(dx)
			for oh := range k.OH {
				for ow := range k.OW {
					h0, h1, w0, w1 := k.window(oh, ow)
					g := dy[oh*k.OW+ow] / area
					for ih := h0; ih < h1; ih++ {
						row := dx[ih*k.W+w0 : ih*k.W+w1]
						for i := range row {
							row[i] += g
						}
					}
				}
			}
		}
	}
}

func buildPool(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, unsupported(v, v.Type)
	}
	at := v.Aux.(ir.Pool2DAttr)
	xs, ys := v.Args[0].Type.Shape, v.Type.Shape // pooling forward: x → y
	switch v.Op {
	case ir.OpMaxPool2DBackward:
		xs, ys = v.Args[0].Type.Shape, v.Args[1].Type.Shape
	case ir.OpAvgPool2DBackward:
		xs, ys = v.Type.Shape, v.Args[0].Type.Shape
	}
	sh, sw := at.Stride[0], at.Stride[1]
	if sh == 0 {
		sh = at.Kernel[0]
	}
	if sw == 0 {
		sw = at.Kernel[1]
	}
	k := &poolKernel{op: v.Op, planes: xs[0] * xs[1], H: xs[2], W: xs[3], OH: ys[2], OW: ys[3],
		kh: at.Kernel[0], kw: at.Kernel[1], sh: sh, sw: sw, ph: at.Padding[0], pw: at.Padding[1],
		a: c.buf(v.Args[0]), out: c.buf(v), pool: c.pool}
	if len(v.Args) > 1 {
		k.b = c.buf(v.Args[1])
	}
	return k, nil
}

// fuseReluPool folds a ReLU into the 2×2 max pooling that follows it,
// forward and backward: for r = relu(a), y = maxpool2d(r),
// d = maxpool2d_backward(r, dy) and e = relu_backward(a, d), where r's
// only uses are y and d and d's only use is e, right after it, the
// pooling reads a and applies the ReLU (max(0, max)), the backward step
// in e's place computes e from a and dy, and the steps of r and d go.
// The results are the same: a window's first maximum in r is its first
// in a when the max is above 0, and its gradient is dropped by
// relu_backward otherwise. The pass leaves the ops as they are where
// e's storage overlaps a or dy, which the fused backward reads.
func (p *Program) fuseReluPool() {
	if !reluPoolOn {
		return
	}
	uses := map[*ir.Value][]*ir.Value{}
	for _, v := range p.g.Values {
		for _, a := range v.Args {
			uses[a] = append(uses[a], v)
		}
	}
	out := map[*ir.Value]bool{}
	for _, o := range p.g.Outputs {
		out[o.Value] = true
	}
	index := map[*ir.Value]int{}
	for i, s := range p.steps {
		index[s.v] = i
	}
	drop := map[int]bool{}
	for i, s := range p.steps {
		r := s.v
		if r.Op != ir.OpRelu || r.Type.DType != ir.F32 || len(uses[r]) != 2 || out[r] {
			continue
		}
		var y, d *ir.Value
		for _, u := range uses[r] {
			switch {
			case u.Op == ir.OpMaxPool2D && u.Args[0] == r:
				y = u
			case u.Op == ir.OpMaxPool2DBackward && u.Args[0] == r && u.Args[1] != r:
				d = u
			}
		}
		if y == nil || d == nil || len(uses[d]) != 1 || out[d] {
			continue
		}
		e, a := uses[d][0], r.Args[0]
		if e.Op != ir.OpReluBackward || e.Args[0] != a || e.Args[1] != d {
			continue
		}
		iy, ok1 := index[y]
		id, ok2 := index[d]
		ie, ok3 := index[e]
		if !ok1 || !ok2 || !ok3 || iy < i || ie != id+1 {
			continue
		}
		ky, ok1 := p.steps[iy].k.(*poolKernel)
		kd, ok2 := p.steps[id].k.(*poolKernel)
		if !ok1 || !ok2 || !ky.is2x2() || !kd.is2x2() || ky.relu || kd.relu {
			continue
		}
		xa, eb := p.bufs[a], p.bufs[e]
		if xa == nil || eb == nil || overlaps(eb, xa) || overlaps(eb, kd.b) || overlaps(ky.out, xa) {
			continue
		}
		ky.a, ky.relu = xa, true
		kd.a, kd.out, kd.relu = xa, eb, true
		p.steps[ie].k = kd
		drop[i], drop[id] = true, true
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

// reluPoolOn turns fuseReluPool on (tests turn it off to compare).
var reluPoolOn = true
