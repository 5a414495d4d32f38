// This file implements the int8 form of matmul and matmul_bias: when
// Options.Int8 holds a weight input's quantized form, a product with that
// weight quantizes its f32 input to uint8 (the layer's calibrated
// activation scale), runs gemm.Qgemm (int32 accumulation) and
// dequantizes in the epilogue together with the bias and activation, so
// the int8 region is the product and its neighbours stay f32. It also
// implements Options.Observe, the calibration hook that sees the input
// of every product with a named weight.

package cpu

import (
	"fmt"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// Int8Linear is the int8 form of a weight input W stored [N, K] (a
// Linear layer's [out, in]) and used as x·Wᵀ: the packed weights with
// their per-output-channel scales, and the quantization of the
// product's input x.
type Int8Linear struct {
	W  *gemm.QWeights // K×N, packed from W's [N, K] layout
	In gemm.QParams   // x's quantization
}

// int8Weight returns the int8 form of v's weight operand, or nil when
// there is none; an int8 form that does not fit the product is an error.
func (c *compileCtx) int8Weight(v *ir.Value, s *matmulShape) (*Int8Linear, error) {
	w := v.Args[1]
	if c.opts.Int8 == nil || w.Op != ir.OpInput {
		return nil, nil
	}
	q := c.opts.Int8[w.Name]
	if q == nil {
		return nil, nil
	}
	if !s.transB || s.transA || len(s.xOff) != 1 || q.W.K != s.k || q.W.N != s.n {
		return nil, fmt.Errorf("cpu: int8 weight %s (%d×%d) does not fit %s %v of %v: the int8 path takes x[M, K]·Wᵀ with W [N, K]", w.Name, q.W.N, q.W.K, v.Op, v.Args[0].Type, w.Type)
	}
	return q, nil
}

// matmulInt8 is x·Wᵀ (+ bias, activation) with W in int8, on a
// gemm.QJob planned once (plan), so that a run allocates nothing.
type matmulInt8 struct {
	m, n, k int
	q       *Int8Linear
	x, out  *buffer
	bias    *buffer // or nil
	ep      gemm.QEpilogue
	post    ir.ScalarFunc // an activation gemm lacks, after the product
	xq      []uint8
	preq    bool // xq is written by the int8 producer before this step (int8region.go)
	toU8    bool // write outU8 with outQ instead of out (an int8 region)
	// next, inside a region, is the int8 product that reads this one's
	// output directly (same rows, K = n): the epilogue writes its packed
	// A (gemm.QJob.RunPackedToPacked) and next packs nothing (packedIn).
	next     *matmulInt8
	packedIn bool
	outU8    []uint8
	outQ     gemm.QParams
	job      *gemm.QJob
	pool     *parallel.Pool
}

type quantizeRange struct {
	x  []float32
	xq []uint8
	q  gemm.QParams
}

func (r *quantizeRange) Range(lo, hi int) { r.q.QuantizeSlice(r.xq[lo:hi], r.x[lo:hi]) }

// plan makes the product's QJob once its epilogue is final.
func (k *matmulInt8) plan() {
	if k.job == nil {
		k.job = gemm.NewQJob(k.m, k.q.In, k.q.W, nil, k.ep.Act, 0)
	}
}

func (k *matmulInt8) run() error {
	k.plan()
	if k.bias != nil {
		k.job.Bias = f32s(k.bias)
	}
	defer func() { k.job.Bias = nil }()
	switch {
	case k.packedIn: // the producer wrote the packed A
	case k.preq:
		k.job.PackA(k.m, k.xq, k.k)
	default:
		k.job.QuantizePackedA(k.m, f32s(k.x)[:k.m*k.k], k.k)
	}
	if k.next != nil {
		k.next.plan()
		k.job.RunPackedToPacked(k.m, k.next.job)
		return nil
	}
	if k.toU8 {
		k.job.RunPackedU8(k.m, k.outQ, k.outU8, k.n)
		return nil
	}
	out := f32s(k.out)
	k.job.RunPackedF32(k.m, out, k.n)
	if k.post != nil {
		for i, v := range out {
			r, _ := k.post(float64(v), 0, 0)
			out[i] = float32(r)
		}
	}
	return nil
}

func newMatmulInt8(c *compileCtx, v *ir.Value, s *matmulShape, q *Int8Linear) *matmulInt8 {
	return &matmulInt8{m: s.m, n: s.n, k: s.k, q: q, x: c.buf(v.Args[0]), out: c.buf(v),
		xq: make([]uint8, s.m*s.k), pool: c.pool}
}

// observed runs a product after handing its input to Options.Observe.
type observed struct {
	kernel
	name string
	x    *buffer
	n    int
	fn   func(weight string, x []float32)
}

func (k *observed) run() error {
	k.fn(k.name, f32s(k.x)[:k.n])
	return k.kernel.run()
}

// observe wraps mm when Options.Observe is set and v's weight operand is
// a named input.
func (c *compileCtx) observe(v *ir.Value, mm kernel) kernel {
	if c.opts.Observe == nil || v.Args[1].Op != ir.OpInput || v.Type.DType != ir.F32 {
		return mm
	}
	return &observed{kernel: mm, name: v.Args[1].Name, x: c.buf(v.Args[0]), n: v.Args[0].Type.NumElements(), fn: c.opts.Observe}
}
