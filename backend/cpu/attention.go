// This file implements the fused attention kernel and its backward.

package cpu

import (
	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

func init() {
	register(buildAttention, ir.OpAttention)
	register(buildAttention, ir.OpAttentionBackward)
}

// attentionKernel computes softmax(q·kᵀ·scale, masked) v, or its
// gradient with respect to one of q, k, v, one item (one head of one
// sequence) at a time: its Tq×Tk weights live in a per-worker scratch
// block that stays in cache, between small GEMMs that read and write the
// item's rows where they are (strided heads with bthd). Nothing of size
// Tq×Tk is kept: the backward recomputes the weights.
type attentionKernel struct {
	g              ir.AttentionGeometry
	scale          float32
	wrt            int         // backward: 0 q, 1 k, 2 v; -1 forward
	q, k, v, mask  *buffer     // mask may be nil
	dy, out        *buffer     // dy: backward only
	scratch, dpBuf [][]float32 // per worker, tq×tk (dpBuf: backward of q, k)
	pool           *parallel.Pool
}

func buildAttention(c *compileCtx, v *ir.Value) (kernel, error) {
	if v.Type.DType != ir.F32 {
		return nil, unsupported(v, v.Type)
	}
	a := &attentionKernel{g: ir.AttentionGeometryOf(v), wrt: -1,
		q: c.buf(v.Args[0]), k: c.buf(v.Args[1]), v: c.buf(v.Args[2]), out: c.buf(v), pool: c.pool}
	masks := v.Args[3:]
	switch at := v.Aux.(type) {
	case ir.AttentionAttr:
		a.scale = float32(at.Scale)
	case ir.AttentionBackwardAttr:
		a.scale, a.wrt = float32(at.Scale), at.Wrt
		a.dy = c.buf(v.Args[3])
		masks = v.Args[4:]
	}
	if len(masks) == 1 {
		a.mask = c.buf(masks[0])
	}
	a.scratch = make([][]float32, c.pool.Size())
	if a.wrt == 0 || a.wrt == 1 {
		a.dpBuf = make([][]float32, c.pool.Size())
	}
	for i := range a.scratch {
		a.scratch[i] = make([]float32, a.g.Tq*a.g.Tk)
		if a.dpBuf != nil {
			a.dpBuf[i] = make([]float32, a.g.Tq*a.g.Tk)
		}
	}
	return a, nil
}

func (a *attentionKernel) run() error {
	a.pool.ForWorker(a.g.N, 1, a)
	return nil
}

// weights writes item n's attention weights into p (Tq×Tk) and returns
// the item's key mask row (nil without a mask).
func (a *attentionKernel) weights(n int, q, k []float32, p []float32) []uint8 {
	g := &a.g
	tq, tk, dh := g.Tq, g.Tk, g.Dh
	gemm.Sgemm(false, true, tq, tk, dh, a.scale, q[g.Row(n, 0, tq, dh):], g.Stride(dh), k[g.Row(n, 0, tk, dh):], g.Stride(dh), 0, p, tk)
	var m []uint8
	if a.mask != nil {
		m = view[uint8](a.mask)[(n/g.Heads)*tk:][:tk]
	}
	for i := 0; i < tq; i++ {
		row := p[i*tk:][:tk]
		for j, keep := range m {
			if keep == 0 {
				row[j] = -1e9
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
	return m
}

func (a *attentionKernel) RangeWorker(w, lo, hi int) {
	q, k, v, o := f32s(a.q), f32s(a.k), f32s(a.v), f32s(a.out)
	p := a.scratch[w]
	g := &a.g
	tq, tk, dh, dv := g.Tq, g.Tk, g.Dh, g.Dv
	for n := lo; n < hi; n++ {
		m := a.weights(n, q, k, p)
		if a.wrt < 0 {
			gemm.Sgemm(false, false, tq, dv, tk, 1, p, tk, v[g.Row(n, 0, tk, dv):], g.Stride(dv), 0, o[g.Row(n, 0, tq, dv):], g.Stride(dv))
			continue
		}
		dy := f32s(a.dy)[g.Row(n, 0, tq, dv):]
		if a.wrt == 2 { // dv = pᵀ dy
			gemm.Sgemm(true, false, tk, dv, tq, 1, p, tk, dy, g.Stride(dv), 0, o[g.Row(n, 0, tk, dv):], g.Stride(dv))
			continue
		}
		// ds = p ⊙ (dp − Σ dp ⊙ p)·scale, dp = dy vᵀ; 0 at masked keys.
		ds := a.dpBuf[w]
		gemm.Sgemm(false, true, tq, tk, dv, 1, dy, g.Stride(dv), v[g.Row(n, 0, tk, dv):], g.Stride(dv), 0, ds, tk)
		for i := 0; i < tq; i++ {
			pr, dr := p[i*tk:][:tk], ds[i*tk:][:tk]
			var dot float32
			for j, e := range dr {
				dot += e * pr[j]
			}
			for j, e := range dr {
				dr[j] = pr[j] * (e - dot) * a.scale
			}
			for j, keep := range m {
				if keep == 0 {
					dr[j] = 0
				}
			}
		}
		if a.wrt == 0 { // dq = ds k
			gemm.Sgemm(false, false, tq, dh, tk, 1, ds, tk, k[g.Row(n, 0, tk, dh):], g.Stride(dh), 0, o[g.Row(n, 0, tq, dh):], g.Stride(dh))
		} else { // dk = dsᵀ q
			gemm.Sgemm(true, false, tk, dh, tq, 1, ds, tk, q[g.Row(n, 0, tq, dh):], g.Stride(dh), 0, o[g.Row(n, 0, tk, dh):], g.Stride(dh))
		}
	}
}
