// This file implements convolution and pooling as direct kernels: conv2d
// and the input gradient one thread per output element (the input
// gradient gathers over the windows that read each input element, so no
// atomics), the weight gradient one block per weight reducing over the
// batch and positions; max and average pooling one thread per window,
// the max-pool gradient by atomicAdd into zeroed storage, the average-
// pool gradient by gathering.
//
// TODO(cuda): im2col + cuBLAS for large convolutions; the direct kernels
// are simple and exact but leave most of a large GPU idle on LeNet-sized
// layers' weight gradients.

package cuda

import (
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(genConv, ir.OpConv2D, ir.OpConv2DBackwardInput, ir.OpConv2DBackwardWeight)
	register(genPool, ir.OpMaxPool2D, ir.OpMaxPool2DBackward, ir.OpAvgPool2D, ir.OpAvgPool2DBackward)
}

// convDims are the sizes of x[N,C,H,W] ⋆ w[O,CG,KH,KW] = y[N,O,OH,OW]
// in groups of CG input and OG output channels.
type convDims struct{ N, C, H, W, O, KH, KW, OH, OW, CG, OG int }

func dimsOf(a ir.Conv2DAttr, x, w, y ir.Shape) convDims {
	return convDims{x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3], w[1], w[0] / a.G()}
}

func genConv(e *emitter, v *ir.Value) error {
	a := v.Aux.(ir.Conv2DAttr)
	s0, s1, p0, p1, l0, l1 := a.Stride[0], a.Stride[1], a.Padding[0], a.Padding[1], a.Dilation[0], a.Dilation[1]
	var c code
	switch v.Op {
	case ir.OpConv2D:
		x, w := v.Args[0], v.Args[1]
		d := dimsOf(a, x.Type.Shape, w.Type.Shape, v.Type.Shape)
		c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
		c.line("if (i >= %d) return;", v.Type.NumElements())
		c.unravel("i", "y", v.Type.Shape)                  // y0 n, y1 o, y2 oh, y3 ow
		c.line("const int c0 = y1 / %d * %d;", d.OG, d.CG) // the group's first input channel
		c.line("float acc = 0.0f;")
		c.line("for (int ci = 0; ci < %d; ci++) {", d.CG)
		c.line("  for (int kh = 0; kh < %d; kh++) {", d.KH)
		c.line("    const int ih = y2 * %d - %d + kh * %d;", s0, p0, l0)
		c.line("    if (ih < 0 || ih >= %d) continue;", d.H)
		c.line("    for (int kw = 0; kw < %d; kw++) {", d.KW)
		c.line("      const int iw = y3 * %d - %d + kw * %d;", s1, p1, l1)
		c.line("      if (iw < 0 || iw >= %d) continue;", d.W)
		c.line("      acc += x[((y0 * %d + c0 + ci) * %d + ih) * %d + iw] * w[((y1 * %d + ci) * %d + kh) * %d + kw];", d.C, d.H, d.W, d.CG, d.KH, d.KW)
		c.line("    }")
		c.line("  }")
		c.line("}")
		c.line("out[i] = acc;")
		k := e.kernel(v, "conv2d", []param{out(ir.F32, "out"), in(ir.F32, "x"), in(ir.F32, "w")}, c.String())
		e.launchThreads(v, k, v.Type.NumElements(), x, w)
	case ir.OpConv2DBackwardInput:
		dy, w := v.Args[0], v.Args[1]
		d := dimsOf(a, v.Type.Shape, w.Type.Shape, dy.Type.Shape)
		c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
		c.line("if (i >= %d) return;", v.Type.NumElements())
		c.unravel("i", "x", v.Type.Shape)                                       // x0 n, x1 c, x2 ih, x3 iw
		c.line("const int o0 = x1 / %d * %d, ci = x1 %% %d;", d.CG, d.OG, d.CG) // the group's first output channel, c in the group
		c.line("float acc = 0.0f;")
		c.line("for (int kh = 0; kh < %d; kh++) {", d.KH)
		c.line("  const int th = x2 + %d - kh * %d;", p0, l0)
		c.line("  if (th < 0 || th %% %d != 0 || th / %d >= %d) continue;", s0, s0, d.OH)
		c.line("  for (int kw = 0; kw < %d; kw++) {", d.KW)
		c.line("    const int tw = x3 + %d - kw * %d;", p1, l1)
		c.line("    if (tw < 0 || tw %% %d != 0 || tw / %d >= %d) continue;", s1, s1, d.OW)
		c.line("    for (int o = o0; o < o0 + %d; o++) {", d.OG)
		c.line("      acc += dy[((x0 * %d + o) * %d + th / %d) * %d + tw / %d] * w[((o * %d + ci) * %d + kh) * %d + kw];", d.O, d.OH, s0, d.OW, s1, d.CG, d.KH, d.KW)
		c.line("    }")
		c.line("  }")
		c.line("}")
		c.line("out[i] = acc;")
		k := e.kernel(v, "conv2d_backward_input", []param{out(ir.F32, "out"), in(ir.F32, "dy"), in(ir.F32, "w")}, c.String())
		e.launchThreads(v, k, v.Type.NumElements(), dy, w)
	case ir.OpConv2DBackwardWeight:
		x, dy := v.Args[0], v.Args[1]
		d := dimsOf(a, x.Type.Shape, v.Type.Shape, dy.Type.Shape)
		c.line("__shared__ float sh[%d];", e.block)
		c.line("const int i = blockIdx.x;")
		c.unravel("i", "w", v.Type.Shape)                       // w0 o, w1 c in the group, w2 kh, w3 kw
		c.line("const int xc = w0 / %d * %d + w1;", d.OG, d.CG) // the input channel
		c.line("float acc = 0.0f;")
		c.line("for (int r = threadIdx.x; r < %d; r += blockDim.x) {", d.N*d.OH*d.OW)
		c.line("  const int ow = r %% %d, oh = (r / %d) %% %d, n = r / %d;", d.OW, d.OW, d.OH, d.OW*d.OH)
		c.line("  const int ih = oh * %d - %d + w2 * %d;", s0, p0, l0)
		c.line("  const int iw = ow * %d - %d + w3 * %d;", s1, p1, l1)
		c.line("  if (ih < 0 || ih >= %d || iw < 0 || iw >= %d) continue;", d.H, d.W)
		c.line("  acc += x[((n * %d + xc) * %d + ih) * %d + iw] * dy[((n * %d + w0) * %d + oh) * %d + ow];", d.C, d.H, d.W, d.O, d.OH, d.OW)
		c.line("}")
		c.line("acc = encc_block_sum(acc, sh);")
		c.line("if (threadIdx.x == 0) out[i] = acc;")
		k := e.kernel(v, "conv2d_backward_weight", []param{out(ir.F32, "out"), in(ir.F32, "x"), in(ir.F32, "dy")}, c.String())
		e.launchBlocks(v, k, v.Type.NumElements(), x, dy)
	}
	return nil
}

func genPool(e *emitter, v *ir.Value) error {
	a := v.Aux.(ir.Pool2DAttr)
	k0, k1, s0, s1, p0, p1 := a.Kernel[0], a.Kernel[1], a.Stride[0], a.Stride[1], a.Padding[0], a.Padding[1]
	var c code
	switch v.Op {
	case ir.OpMaxPool2D, ir.OpAvgPool2D, ir.OpMaxPool2DBackward:
		// One thread per window of y (for the backward op, per element
		// of dy).
		x := v.Args[0]
		ys := v.Type.Shape
		if v.Op == ir.OpMaxPool2DBackward {
			ys = v.Args[1].Type.Shape
		}
		H, W, OH, OW := x.Type.Shape[2], x.Type.Shape[3], ys[2], ys[3]
		n := ys.NumElements()
		c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
		c.line("if (i >= %d) return;", n)
		c.line("const int ow = i %% %d, oh = (i / %d) %% %d, nc = i / %d;", OW, OW, OH, OW*OH)
		if v.Op == ir.OpAvgPool2D {
			c.line("float acc = 0.0f;")
		} else {
			c.line("float best = -ENCC_INF;")
			c.line("int arg = -1;")
		}
		c.line("for (int kh = 0; kh < %d; kh++) {", k0)
		c.line("  const int ih = oh * %d - %d + kh;", s0, p0)
		c.line("  if (ih < 0 || ih >= %d) continue;", H)
		c.line("  for (int kw = 0; kw < %d; kw++) {", k1)
		c.line("    const int iw = ow * %d - %d + kw;", s1, p1)
		c.line("    if (iw < 0 || iw >= %d) continue;", W)
		c.line("    const int xo = (nc * %d + ih) * %d + iw;", H, W)
		if v.Op == ir.OpAvgPool2D {
			c.line("    acc += x[xo];")
		} else {
			c.line("    if (arg < 0 || x[xo] > best) { best = x[xo]; arg = xo; }")
		}
		c.line("  }")
		c.line("}")
		switch v.Op {
		case ir.OpAvgPool2D:
			c.line("out[i] = acc / %s;", flit(float64(k0*k1)))
		case ir.OpMaxPool2D:
			c.line("out[i] = best;")
		case ir.OpMaxPool2DBackward:
			c.line("if (arg >= 0) atomicAdd(&out[arg], dy[i]);")
		}
		params := []param{out(ir.F32, "out"), in(ir.F32, "x")}
		if v.Op == ir.OpMaxPool2DBackward {
			params = append(params, in(ir.F32, "dy"))
		}
		k := e.kernel(v, v.Op.String(), params, c.String())
		if v.Op == ir.OpMaxPool2DBackward {
			e.memset(v)
			e.step(v, Step{Kind: "launch", Out: e.arg(v), Launch: e.threads(k, n, e.args(append([]*ir.Value{v}, v.Args...)...))})
		} else {
			e.launchThreads(v, k, n, x)
		}
	case ir.OpAvgPool2DBackward:
		dy := v.Args[0]
		H, W, OH, OW := v.Type.Shape[2], v.Type.Shape[3], dy.Type.Shape[2], dy.Type.Shape[3]
		c.line("const int i = blockIdx.x * blockDim.x + threadIdx.x;")
		c.line("if (i >= %d) return;", v.Type.NumElements())
		c.line("const int iw = i %% %d, ih = (i / %d) %% %d, nc = i / %d;", W, W, H, W*H)
		c.line("float acc = 0.0f;")
		c.line("for (int kh = 0; kh < %d; kh++) {", k0)
		c.line("  const int th = ih + %d - kh;", p0)
		c.line("  if (th < 0 || th %% %d != 0 || th / %d >= %d) continue;", s0, s0, OH)
		c.line("  for (int kw = 0; kw < %d; kw++) {", k1)
		c.line("    const int tw = iw + %d - kw;", p1)
		c.line("    if (tw < 0 || tw %% %d != 0 || tw / %d >= %d) continue;", s1, s1, OW)
		c.line("    acc += dy[(nc * %d + th / %d) * %d + tw / %d];", OH, s0, OW, s1)
		c.line("  }")
		c.line("}")
		c.line("out[i] = acc / %s;", flit(float64(k0*k1)))
		k := e.kernel(v, "avgpool2d_backward", []param{out(ir.F32, "out"), in(ir.F32, "dy")}, c.String())
		e.launchThreads(v, k, v.Type.NumElements(), dy)
	}
	return nil
}
