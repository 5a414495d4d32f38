package cpu

// This file holds the loop of fake_quant and fake_quant_mask (the ops of
// quantization-aware training) for a range per tensor or per slice of
// the first axis (a weight's output channels): the quantization's
// parameters once per range rather than once per element, as the general
// table kernel would. Other broadcasts fall back to that kernel.

import (
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	elementwiseKernels[ir.OpFakeQuant] = buildFakeQuant
	elementwiseKernels[ir.OpFakeQuantMask] = buildFakeQuant
}

type fakeQuantKernel struct {
	signed, mask   bool
	x, lo, hi, out *buffer
	per            int // elements per range
	pool           *parallel.Pool
}

func buildFakeQuant(c *compileCtx, v *ir.Value) (kernel, error) {
	x, lo, hi := v.Args[0], v.Args[1], v.Args[2]
	if !x.Type.Shape.Equal(v.Type.Shape) || !lo.Type.Shape.Equal(hi.Type.Shape) {
		return nil, nil
	}
	n, g := x.Type.NumElements(), lo.Type.NumElements()
	if n == 0 || g == 0 {
		return nil, nil
	}
	if g != 1 {
		ls := lo.Type.Shape
		if len(ls) != x.Type.Rank() || ls[0] != x.Type.Shape[0] || g != ls[0] {
			return nil, nil
		}
	}
	return &fakeQuantKernel{signed: v.Aux.(ir.FakeQuantAttr).Signed, mask: v.Op == ir.OpFakeQuantMask,
		x: c.buf(x), lo: c.buf(lo), hi: c.buf(hi), out: c.buf(v), per: n / g, pool: c.pool}, nil
}

func (k *fakeQuantKernel) run() error {
	parFor(k.pool, k.x.n, 8, k)
	return nil
}

// Range computes elements lo … hi-1, a range's parameters at a time.
func (k *fakeQuantKernel) Range(lo, hi int) {
	x, out, l, h := view[float32](k.x), view[float32](k.out), view[float32](k.lo), view[float32](k.hi)
	for i := lo; i < hi; {
		g := i / k.per
		end := min(hi, (g+1)*k.per)
		ir.FakeQuantSlice(k.signed, k.mask, l[g], h[g], x[i:end], out[i:end])
		i = end
	}
}
