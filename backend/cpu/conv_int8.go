// This file implements the int8 form of conv2d: when Options.Int8 holds
// the quantized form of a convolution's weight w [O, C, KH, KW] (one
// scale per output channel, rows of C·KH·KW), the convolution quantizes
// x to uint8 with the layer's calibrated activation scale, lays out the
// patches as rows (im2col transposed: [OH·OW, C·KH·KW] per sample, the
// padding holding the zero point, i.e. the real value 0) and runs them
// through a gemm.QJob against wᵀ with int32 accumulation; the epilogue
// dequantizes, adds the bias, applies the activation and writes NCHW
// (channel-major blocks), in float32 or, inside an int8 region,
// requantized for the next int8 layer (int8region.go).
//
// Samples are split into chunks spread over the pool; each worker has
// its own column buffer and serial QJob, sized for a chunk, so that a
// chunk's columns stay in cache and a run allocates nothing.

package cpu

import (
	"fmt"

	"github.com/encc-lang/encc/backend/cpu/gemm"
	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// convInt8 is conv2d (+ bias, activation) with an int8 weight.
type convInt8 struct {
	convGeom
	q      *Int8Linear
	conv   *ir.Value // the conv2d value (the step's may be its epilogue's)
	x, out *buffer
	bias   *buffer // per output channel, or nil (fuseInt8Epilogues)
	act    gemm.Activation
	xq     []uint8 // x quantized, N·C·H·W
	preq   bool    // xq is written by the int8 producer before this step
	toU8   bool    // write outU8 with outQ instead of out (an int8 region)
	outU8  []uint8
	outQ   gemm.QParams
	chunk  int          // samples per task
	tasks  int          // ⌈N/chunk⌉
	cols   [][]uint8    // per worker: chunk·P rows of C·KH·KW
	jobs   []*gemm.QJob // per worker
	pool   *parallel.Pool
	quant  quantizeRange
	biasF  []float32 // the bias at this run
	outF   []float32
	planed bool
}

// int8Conv returns the int8 form of conv2d v's weight, or nil; a form
// that does not fit is an error.
func (c *compileCtx) int8Conv(v *ir.Value, g *convGeom) (*Int8Linear, error) {
	w := v.Args[1]
	if c.opts.Int8 == nil || w.Op != ir.OpInput {
		return nil, nil
	}
	q := c.opts.Int8[w.Name]
	if q == nil {
		return nil, nil
	}
	if g.G != 1 || q.W.K != g.ckk() || q.W.N != g.O {
		return nil, fmt.Errorf("cpu: int8 weight %s (%d×%d) does not fit conv2d %v of %v: the int8 path takes ungrouped convolutions, %d×%d", w.Name, q.W.N, q.W.K, v.Args[0].Type, w.Type, g.O, g.ckk())
	}
	return q, nil
}

func newConvInt8(c *compileCtx, v *ir.Value, g convGeom, q *Int8Linear) *convInt8 {
	k := &convInt8{convGeom: g, q: q, conv: v, x: c.buf(v.Args[0]), out: c.buf(v), pool: c.pool,
		xq: make([]uint8, g.N*g.C*g.H*g.W)}
	// Chunks of about 32 KiB of columns per sample group: they stay in
	// L2 from im2col through packing to the micro-kernel, and there are
	// enough of them to balance the pool.
	per := max(1, g.p()*g.ckk())
	k.chunk = max(1, min(g.N, (64<<10)/per))
	if c.pool.Size() > 1 {
		k.chunk = min(k.chunk, max(1, g.N/(2*c.pool.Size())))
	}
	k.tasks = (g.N + k.chunk - 1) / k.chunk
	return k
}

// plan allocates the per-worker buffers once the epilogue is final.
func (k *convInt8) plan() {
	if k.planed {
		return
	}
	k.planed = true
	workers := k.pool.Size()
	k.cols = make([][]uint8, workers)
	k.jobs = make([]*gemm.QJob, workers)
	P := k.p()
	for w := range workers {
		k.cols[w] = make([]uint8, k.chunk*P*k.ckk())
		j := gemm.NewQJob(k.chunk*P, k.q.In, k.q.W, nil, k.act, P)
		j.Serial = true
		k.jobs[w] = j
	}
	if k.toU8 && k.outU8 == nil {
		k.outU8 = make([]uint8, k.N*k.O*P)
	}
}

func (k *convInt8) run() error {
	k.plan()
	if !k.preq {
		k.quant = quantizeRange{x: f32s(k.x)[:len(k.xq)], xq: k.xq, q: k.q.In}
		parFor(k.pool, len(k.xq), 1, &k.quant)
		k.quant.x = nil
	}
	k.biasF, k.outF = nil, nil
	if k.bias != nil {
		k.biasF = f32s(k.bias)
	}
	if !k.toU8 {
		k.outF = f32s(k.out)
	}
	if k.tasks == 1 {
		k.RangeWorker(0, 0, 1)
	} else {
		k.pool.Tasks(k.tasks, k)
	}
	k.biasF, k.outF = nil, nil
	return nil
}

// RangeWorker runs chunk t of the samples on worker w's buffers.
func (k *convInt8) RangeWorker(w, t, _ int) {
	n0, n1 := t*k.chunk, min(k.N, (t+1)*k.chunk)
	P, CKK, CHW, OP := k.p(), k.ckk(), k.C*k.H*k.W, k.O*k.p()
	col, j := k.cols[w], k.jobs[w]
	for n := n0; n < n1; n++ {
		k.im2colRows(col[(n-n0)*P*CKK:][:P*CKK], k.xq[n*CHW:][:CHW], uint8(k.q.In.Zero))
	}
	j.Bias = k.biasF
	m := (n1 - n0) * P
	if k.toU8 {
		j.RunU8(m, col, CKK, k.outQ, k.outU8[n0*OP:n1*OP], 0)
	} else {
		j.RunF32(m, col, CKK, k.outF[n0*OP:n1*OP], 0)
	}
	j.Bias = nil
}

// im2colRows writes the patch rows [OH·OW, C·KH·KW] of one sample x
// (uint8, NCHW); positions in the padding get zero, the quantized 0.
func (g *convGeom) im2colRows(col, x []uint8, zero uint8) {
	CKK, KW := g.ckk(), g.KW
	for oh := range g.OH {
		for ow := range g.OW {
			row := col[(oh*g.OW+ow)*CKK:][:CKK]
			iw0 := ow*g.sw - g.pw
			// Kernel columns whose input column is inside the row.
			lo, hi := 0, KW
			if g.dw == 1 {
				lo, hi = max(0, -iw0), min(KW, g.W-iw0)
				hi = max(hi, lo)
			}
			for c := range g.C {
				for kh := range g.KH {
					seg := row[(c*g.KH+kh)*KW:][:KW]
					ih := oh*g.sh - g.ph + kh*g.dh
					if ih < 0 || ih >= g.H {
						for i := range seg {
							seg[i] = zero
						}
						continue
					}
					xr := x[(c*g.H+ih)*g.W:][:g.W]
					if g.dw == 1 {
						for i := 0; i < lo; i++ {
							seg[i] = zero
						}
						copy(seg[lo:hi], xr[iw0+lo:])
						for i := hi; i < KW; i++ {
							seg[i] = zero
						}
						continue
					}
					for kw := range KW {
						if iw := iw0 + kw*g.dw; iw >= 0 && iw < g.W {
							seg[kw] = xr[iw]
						} else {
							seg[kw] = zero
						}
					}
				}
			}
		}
	}
}
