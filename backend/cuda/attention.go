// This file implements the fused attention kernel, one block per query
// row, the row's scores in shared memory; and its backward, one block
// per item (one head of one sequence) walking the query rows.

package cuda

import (
	"fmt"

	"github.com/encc-lang/encc/ir"
)

func init() {
	register(genAttention, ir.OpAttention)
	register(genAttentionBackward, ir.OpAttentionBackward)
}

// maxAttentionKeys bounds Tk so a row of scores fits in shared memory
// next to the reduction scratch (the backward keeps two rows).
const maxAttentionKeys = 8192

// attentionRow returns the C expression of the offset of row i (a C
// expression) of the block's item in an operand of sequence length t and
// head size d (ir.AttentionGeometry.Row); item is the C variable.
func attentionRow(g ir.AttentionGeometry, i string, t, d int) string {
	if g.BTHD {
		return fmt.Sprintf("((item / %d * %d + (%s)) * %d + item %% %d) * %d", g.Heads, t, i, g.Heads, g.Heads, d)
	}
	return fmt.Sprintf("(item * %d + (%s)) * %d", t, i, d)
}

// attentionScores emits the weights of query row i of the block's item
// into sc[0:Tk]: scores, the mask, a stable softmax.
func attentionScores(c *code, g ir.AttentionGeometry, scale float64, masked bool) {
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) {", g.Tk)
	c.line("  float d = 0.0f;")
	c.line("  for (int t = 0; t < %d; t++) d += q[%s + t] * k[%s + t];", g.Dh, attentionRow(g, "i", g.Tq, g.Dh), attentionRow(g, "j", g.Tk, g.Dh))
	c.line("  d *= %s;", flit(scale))
	if masked {
		c.line("  if (!mask[(item / %d) * %d + j]) d = -1e9f;", g.Heads, g.Tk)
	}
	c.line("  sc[j] = d;")
	c.line("}")
	c.line("__syncthreads();")
	c.line("float m = -ENCC_INF;")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) m = fmaxf(m, sc[j]);", g.Tk)
	c.line("m = encc_block_max(m, sh);")
	c.line("float s = 0.0f;")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) { const float p = expf(sc[j] - m); sc[j] = p; s += p; }", g.Tk)
	c.line("s = encc_block_sum(s, sh);")
	c.line("const float inv = 1.0f / s;")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) sc[j] *= inv;", g.Tk)
	c.line("__syncthreads();")
}

func attentionParams(v *ir.Value, names ...string) ([]param, []*ir.Value) {
	params := []param{out(v.Type.DType, "out")}
	for i, n := range names {
		dt := v.Args[i].Type.DType
		if n == "mask" {
			dt = ir.Bool
		}
		params = append(params, in(dt, n))
	}
	return params, v.Args
}

func genAttention(e *emitter, v *ir.Value) error {
	g := ir.AttentionGeometryOf(v)
	if g.Tk > maxAttentionKeys {
		return fmt.Errorf("attention over %d keys: at most %d fit a block's shared memory", g.Tk, maxAttentionKeys)
	}
	masked := len(v.Args) == 4
	var c code
	c.line("__shared__ float sh[%d];", e.block)
	c.line("__shared__ float sc[%d];", g.Tk)
	c.line("const int item = blockIdx.x / %d;", g.Tq)
	c.line("const int i = blockIdx.x %% %d;", g.Tq)
	attentionScores(&c, g, v.Aux.(ir.AttentionAttr).Scale, masked)
	c.line("for (int t = threadIdx.x; t < %d; t += blockDim.x) {", g.Dv)
	c.line("  float acc = 0.0f;")
	c.line("  for (int j = 0; j < %d; j++) acc += sc[j] * v[%s + t];", g.Tk, attentionRow(g, "j", g.Tk, g.Dv))
	c.line("  out[%s + t] = acc;", attentionRow(g, "i", g.Tq, g.Dv))
	c.line("}")
	names := []string{"q", "k", "v"}
	if masked {
		names = append(names, "mask")
	}
	params, ins := attentionParams(v, names...)
	kname := e.kernel(v, "attention", params, c.String())
	e.launchBlocks(v, kname, g.N*g.Tq, ins...)
	return nil
}

// genAttentionBackward walks the query rows i of one item per block: the
// weights p of row i, then dv[j] += p_j·dy_i (wrt v), or ds = p ⊙ (dp −
// Σ dp ⊙ p)·scale with dp_j = dy_i·v_j (0 at masked keys) and dq_i = Σ
// ds_j k_j (wrt q) or dk[j] += ds_j q_i (wrt k). Each thread owns its
// output elements, so the sums need no atomics.
func genAttentionBackward(e *emitter, v *ir.Value) error {
	g := ir.AttentionGeometryOf(v)
	if g.Tk > maxAttentionKeys/2 {
		return fmt.Errorf("attention over %d keys: at most %d fit a block's shared memory in the backward", g.Tk, maxAttentionKeys/2)
	}
	a := v.Aux.(ir.AttentionBackwardAttr)
	masked := len(v.Args) == 5
	var c code
	c.line("__shared__ float sh[%d];", e.block)
	c.line("__shared__ float sc[%d];", g.Tk)
	c.line("__shared__ float ds[%d];", g.Tk)
	c.line("const int item = blockIdx.x;")
	if a.Wrt != 0 { // dk, dv: sums over the query rows
		d := g.Dh
		if a.Wrt == 2 {
			d = g.Dv
		}
		c.line("for (int e = threadIdx.x; e < %d; e += blockDim.x) out[%s + e %% %d] = 0.0f;", g.Tk*d, attentionRow(g, fmt.Sprintf("e / %d", d), g.Tk, d), d)
	}
	c.line("for (int i = 0; i < %d; i++) {", g.Tq)
	attentionScores(&c, g, a.Scale, masked)
	dyRow := attentionRow(g, "i", g.Tq, g.Dv)
	if a.Wrt == 2 {
		c.line("for (int e = threadIdx.x; e < %d; e += blockDim.x) {", g.Tk*g.Dv)
		c.line("  const int j = e / %d, t = e %% %d;", g.Dv, g.Dv)
		c.line("  out[%s + t] += sc[j] * dy[%s + t];", attentionRow(g, "j", g.Tk, g.Dv), dyRow)
		c.line("}")
	} else {
		c.line("float part = 0.0f;")
		c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) {", g.Tk)
		c.line("  float d = 0.0f;")
		c.line("  for (int t = 0; t < %d; t++) d += dy[%s + t] * v[%s + t];", g.Dv, dyRow, attentionRow(g, "j", g.Tk, g.Dv))
		c.line("  ds[j] = d;")
		c.line("  part += d * sc[j];")
		c.line("}")
		c.line("const float dot = encc_block_sum(part, sh);")
		c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) {", g.Tk)
		c.line("  ds[j] = sc[j] * (ds[j] - dot) * %s;", flit(a.Scale))
		if masked {
			c.line("  if (!mask[(item / %d) * %d + j]) ds[j] = 0.0f;", g.Heads, g.Tk)
		}
		c.line("}")
		c.line("__syncthreads();")
		if a.Wrt == 0 {
			c.line("for (int t = threadIdx.x; t < %d; t += blockDim.x) {", g.Dh)
			c.line("  float acc = 0.0f;")
			c.line("  for (int j = 0; j < %d; j++) acc += ds[j] * k[%s + t];", g.Tk, attentionRow(g, "j", g.Tk, g.Dh))
			c.line("  out[%s + t] = acc;", attentionRow(g, "i", g.Tq, g.Dh))
			c.line("}")
		} else {
			c.line("for (int e = threadIdx.x; e < %d; e += blockDim.x) {", g.Tk*g.Dh)
			c.line("  const int j = e / %d, t = e %% %d;", g.Dh, g.Dh)
			c.line("  out[%s + t] += ds[j] * q[%s + t];", attentionRow(g, "j", g.Tk, g.Dh), attentionRow(g, "i", g.Tq, g.Dh))
			c.line("}")
		}
	}
	c.line("__syncthreads();")
	c.line("}")
	names := []string{"q", "k", "v", "dy"}
	if masked {
		names = append(names, "mask")
	}
	params, ins := attentionParams(v, names...)
	kname := e.kernel(v, "attention_backward", params, c.String())
	e.launchBlocks(v, kname, g.N, ins...)
	return nil
}
