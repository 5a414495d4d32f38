// This file implements the fused attention kernel.

package cpu

import (
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() { register(buildAttention, ir.OpAttention) }

// attentionKernel computes softmax(q·kᵀ·scale, masked) v one batch item
// (one head of one sequence) at a time: its Tq×Tk scores live in a
// per-worker scratch block that stays in cache, between two small GEMMs.
// Nothing of size Tq×Tk is kept: the VJP recomputes the weights.
type attentionKernel struct {
	n, tq, tk, dh, dv int
	perB              int // items per mask row (heads)
	scale             float32
	q, k, v, mask     *buffer // mask may be nil
	out               *buffer
	scratch           [][]float32 // per worker, tq×tk
	pool              *parallel.Pool
}

func buildAttention(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, unsupported(v, v.Type)
	}
	q, k, val := v.Args[0].Type, v.Args[1].Type, v.Args[2].Type
	r := q.Rank()
	a := &attentionKernel{tq: q.Shape[r-2], tk: k.Shape[r-2], dh: q.Shape[r-1], dv: val.Shape[r-1],
		scale: float32(v.Aux.(ir.AttentionAttr).Scale),
		q:     c.buf(v.Args[0]), k: c.buf(v.Args[1]), v: c.buf(v.Args[2]), out: c.buf(v), pool: c.pool}
	a.n = q.NumElements() / (a.tq * a.dh)
	a.perB = a.n / q.Shape[0]
	if len(v.Args) == 4 {
		a.mask = c.buf(v.Args[3])
	}
	a.scratch = make([][]float32, c.pool.Size())
	for i := range a.scratch {
		a.scratch[i] = make([]float32, a.tq*a.tk)
	}
	return a, nil
}

func (a *attentionKernel) run() error {
	a.pool.ForWorker(a.n, 1, a)
	return nil
}

func (a *attentionKernel) RangeWorker(w, lo, hi int) {
	q, k, v, o := f32s(a.q), f32s(a.k), f32s(a.v), f32s(a.out)
	var mask []uint8
	if a.mask != nil {
		mask = view[uint8](a.mask)
	}
	s := a.scratch[w]
	tq, tk, dh, dv := a.tq, a.tk, a.dh, a.dv
	for item := lo; item < hi; item++ {
		gemm.Sgemm(false, true, tq, tk, dh, a.scale, q[item*tq*dh:], dh, k[item*tk*dh:], dh, 0, s, tk)
		for i := 0; i < tq; i++ {
			row := s[i*tk:][:tk]
			if mask != nil {
				m := mask[(item/a.perB)*tk:][:tk]
				for j, keep := range m {
					if keep == 0 {
						row[j] = -1e9
					}
				}
			}
			mx := row[0]
			for _, e := range row[1:] {
				mx = max(mx, e)
			}
			inv := 1 / expSum(row, row, mx)
			for j := range row {
				row[j] *= inv
			}
		}
		gemm.Sgemm(false, false, tq, dv, tk, 1, s, tk, v[item*tk*dv:], dv, 0, o[item*tq*dv:], dv)
	}
}
