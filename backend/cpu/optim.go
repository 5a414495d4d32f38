// This file implements the optimizer updates. Each writes its result over
// arg0's storage when the memory plan puts it in place (the parameter or
// state input itself), or into its own slot otherwise; both work because
// element i is read before it is written.

package cpu

import (
	"fmt"
	"math"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildOptim, ir.OpSGD, ir.OpSGDMomentum, ir.OpEMA, ir.OpEMASq, ir.OpAdam, ir.OpRMSprop)
}

// optimKernel runs one update elementwise; the per-step scalars are
// read once per run, and the arithmetic is in float64.
type optimKernel struct {
	op   ir.Op
	args []*buffer // the op's operands
	out  *buffer
	pool *parallel.Pool

	// Attributes.
	momentum, dampening, decay float64
	beta1, beta2, eps, wd      float64

	// Per run.
	first    bool    // sgd_momentum: step ≤ 1
	lr       float64 // sgd, adam, rmsprop
	bc1, bc2 float64 // adam: 1-β1^t and √(1-β2^t)
}

func (k *optimKernel) run() error {
	switch k.op {
	case ir.OpSGD:
		k.lr = float64(scalarF32(k.args[2]))
	case ir.OpSGDMomentum:
		k.first = scalarInt(k.args[2]) <= 1
	case ir.OpAdam:
		k.lr = float64(scalarF32(k.args[3]))
		t := scalarInt(k.args[4])
		if t < 1 {
			return fmt.Errorf("step %d < 1", t)
		}
		k.bc1 = 1 - math.Pow(k.beta1, float64(t))
		k.bc2 = math.Sqrt(1 - math.Pow(k.beta2, float64(t)))
	case ir.OpRMSprop:
		k.lr = float64(scalarF32(k.args[3]))
	}
	parFor(k.pool, k.out.n, 8, k)
	return nil
}

func (k *optimKernel) Range(lo, hi int) {
	a0, a1, o := f32s(k.args[0])[lo:hi], f32s(k.args[1])[lo:hi], f32s(k.out)[lo:hi]
	switch k.op {
	case ir.OpSGD:
		for i, p := range a0 {
			o[i] = float32(float64(p) - k.lr*float64(a1[i]))
		}
	case ir.OpSGDMomentum:
		if k.first {
			copy(o, a1)
			return
		}
		for i, b := range a0 {
			o[i] = float32(k.momentum*float64(b) + (1-k.dampening)*float64(a1[i]))
		}
	case ir.OpEMA:
		for i, s := range a0 {
			o[i] = float32(k.decay*float64(s) + (1-k.decay)*float64(a1[i]))
		}
	case ir.OpEMASq:
		for i, s := range a0 {
			x := float64(a1[i])
			o[i] = float32(k.decay*float64(s) + (1-k.decay)*x*x)
		}
	case ir.OpAdam:
		v := f32s(k.args[2])[lo:hi]
		step, shrink, rbc2 := k.lr/k.bc1, 1-k.lr*k.wd, 1/k.bc2
		for i, p := range a0 {
			o[i] = float32(float64(p)*shrink - step*float64(a1[i])/(math.Sqrt(float64(v[i]))*rbc2+k.eps))
		}
	case ir.OpRMSprop:
		v := f32s(k.args[2])[lo:hi]
		for i, p := range a0 {
			o[i] = float32(float64(p) - k.lr*float64(a1[i])/(math.Sqrt(float64(v[i]))+k.eps))
		}
	}
}

func buildOptim(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, unsupported(v, v.Type)
	}
	k := &optimKernel{op: v.Op, out: c.buf(v), pool: c.pool}
	for _, a := range v.Args {
		k.args = append(k.args, c.buf(a))
	}
	switch a := v.Aux.(type) {
	case ir.MomentumAttr:
		k.momentum, k.dampening = a.Momentum, a.Dampening
	case ir.EMAAttr:
		k.decay = a.Decay
	case ir.AdamAttr:
		k.beta1, k.beta2, k.eps, k.wd = a.Beta1, a.Beta2, a.Eps, a.WeightDecay
	case ir.RMSpropAttr:
		k.eps = a.Eps
	}
	return k, nil
}
