// This file implements the fused attention kernel: one block per query
// row; the row's scores live in shared memory.

package cuda

import (
	"fmt"

	"github.com/encc-lang/encc/ir"
)

func init() { register(genAttention, ir.OpAttention) }

// maxAttentionKeys bounds Tk so a row of scores fits in shared memory
// next to the reduction scratch.
const maxAttentionKeys = 8192

func genAttention(e *emitter, v *ir.Value) error {
	q, k, val := v.Args[0], v.Args[1], v.Args[2]
	r := q.Type.Rank()
	tq, dh := q.Type.Shape[r-2], q.Type.Shape[r-1]
	tk, dv := k.Type.Shape[r-2], val.Type.Shape[r-1]
	if tk > maxAttentionKeys {
		return fmt.Errorf("attention over %d keys: at most %d fit a block's shared memory", tk, maxAttentionKeys)
	}
	n := q.Type.NumElements() / (tq * dh)
	perB := n / q.Type.Shape[0]
	masked := len(v.Args) == 4
	var c code
	c.line("__shared__ float sh[%d];", e.block)
	c.line("__shared__ float sc[%d];", tk)
	c.line("const int row = blockIdx.x;")
	c.line("const int item = row / %d;", tq)
	c.line("const float* qr = q + row * %d;", dh)
	c.line("const float* kb = k + item * %d;", tk*dh)
	c.line("const float* vb = v + item * %d;", tk*dv)
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) {", tk)
	c.line("  float d = 0.0f;")
	c.line("  for (int t = 0; t < %d; t++) d += qr[t] * kb[j * %d + t];", dh, dh)
	c.line("  d *= %s;", flit(v.Aux.(ir.AttentionAttr).Scale))
	if masked {
		c.line("  if (!mask[(item / %d) * %d + j]) d = -1e9f;", perB, tk)
	}
	c.line("  sc[j] = d;")
	c.line("}")
	c.line("__syncthreads();")
	c.line("float m = -ENCC_INF;")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) m = fmaxf(m, sc[j]);", tk)
	c.line("m = encc_block_max(m, sh);")
	c.line("float s = 0.0f;")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) { const float p = expf(sc[j] - m); sc[j] = p; s += p; }", tk)
	c.line("s = encc_block_sum(s, sh);")
	c.line("__syncthreads();")
	c.line("const float inv = 1.0f / s;")
	c.line("for (int t = threadIdx.x; t < %d; t += blockDim.x) {", dv)
	c.line("  float acc = 0.0f;")
	c.line("  for (int j = 0; j < %d; j++) acc += sc[j] * vb[j * %d + t];", tk, dv)
	c.line("  out[row * %d + t] = acc * inv;", dv)
	c.line("}")
	params := []param{out(v.Type.DType, "out"), in(q.Type.DType, "q"), in(k.Type.DType, "k"), in(val.Type.DType, "v")}
	ins := []*ir.Value{q, k, val}
	if masked {
		params = append(params, in(ir.Bool, "mask"))
		ins = append(ins, v.Args[3])
	}
	kname := e.kernel(v, "attention", params, c.String())
	e.launchBlocks(v, kname, n*tq, ins...)
	return nil
}
