// This file implements the kernels that compute an elementwise op with
// the op table's arithmetic (ir.Op.Scalar), one element at a time in
// float64: every elementwise op of the table that has no vector or typed
// loop of its own (see elementwiseKernels) runs here, alone or as an
// instruction of a fused body.

package cpu

import (
	"sync/atomic"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// tableKernel computes an elementwise op of up to three broadcast
// operands of any dtypes with its scalar arithmetic.
type tableKernel struct {
	f         ir.ScalarFunc
	l         *ndLoop
	args      []*buffer
	out       *buffer
	pool      *parallel.Pool
	undefined atomic.Bool // the arithmetic was undefined (integer division by zero)
}

func buildTable(c *compileCtx, v *ir.Value) (kernel, error) {
	f := v.Op.Scalar(v.Aux, v.Type.DType)
	if f == nil || len(v.Args) > 3 || !cpuDType(v.Type.DType) {
		return nil, unsupported(v, v.Type)
	}
	k := &tableKernel{f: f, l: operandLoop(v), out: c.buf(v), pool: c.pool}
	for _, a := range v.Args {
		if !cpuDType(a.Type.DType) {
			return nil, unsupported(v, a.Type)
		}
		k.args = append(k.args, c.buf(a))
	}
	return k, nil
}

// cpuDType reports whether the backend stores d.
func cpuDType(d ir.DType) bool { return d == ir.F32 || d == ir.I32 || d == ir.I64 || d == ir.Bool }

func (k *tableKernel) run() error {
	parFor(k.pool, k.l.nitems, k.l.blk*8, k)
	if k.undefined.Load() {
		k.undefined.Store(false)
		return errDivZero
	}
	return nil
}

func (k *tableKernel) Range(lo, hi int) {
	var offs [maxOps]int
	var x [3]float64
	for it := lo; it < hi; it++ {
		n := k.l.item(it, offs[:])
		for i := range n {
			for a, b := range k.args {
				x[a] = loadF64(b.dt, b.p, offs[a+1]+i*k.l.istr[a+1])
			}
			r, ok := k.f(x[0], x[1], x[2])
			if !ok {
				k.undefined.Store(true)
			}
			storeF64(k.out.dt, k.out.p, offs[0]+i, r)
		}
	}
}

// loadF64 reads element i of dtype d at p as a float64.
func loadF64(d ir.DType, p unsafe.Pointer, i int) float64 {
	switch d {
	case ir.F32:
		return float64(*(*float32)(unsafe.Add(p, 4*i)))
	case ir.I32:
		return float64(*(*int32)(unsafe.Add(p, 4*i)))
	case ir.I64:
		return float64(*(*int64)(unsafe.Add(p, 8*i)))
	}
	return float64(*(*uint8)(unsafe.Add(p, i)))
}

// storeF64 writes x as element i of dtype d at p, as the reference
// evaluator holds it: integers truncated, bools 0 or 1.
func storeF64(d ir.DType, p unsafe.Pointer, i int, x float64) {
	switch d {
	case ir.F32:
		*(*float32)(unsafe.Add(p, 4*i)) = float32(x)
	case ir.I32:
		*(*int32)(unsafe.Add(p, 4*i)) = int32(x)
	case ir.I64:
		*(*int64)(unsafe.Add(p, 8*i)) = int64(x)
	default:
		*(*uint8)(unsafe.Add(p, i)) = b2u(x != 0)
	}
}

// tableExec is a fused instruction computed with the op table's
// arithmetic; dts are the dtypes of its operand registers.
func tableExec(in ir.FusedInstr, dts []ir.DType) func(f *frame, in *finstr, n int) bool {
	fn := in.Op.Scalar(in.Aux, in.DType)
	out := in.DType
	return func(f *frame, ins *finstr, n int) bool {
		var x [3]float64
		ok := true
		for i := range n {
			for a, r := range ins.args {
				x[a] = loadF64(dts[a], f.regs[r], i)
			}
			y, good := fn(x[0], x[1], x[2])
			ok = ok && good
			storeF64(out, f.regs[ins.dst], i, y)
		}
		return ok
	}
}
