// This file implements the fused attention kernel, one block per query
// row, the row's scores in shared memory, and the two halves of its
// backward.

package cuda

import (
	"fmt"

	"github.com/encc-lang/encc/ir"
)

func init() {
	register(genAttention, ir.OpAttention)
	register(genAttentionBackward, ir.OpAttentionBackward)
	register(genAttentionBackwardProduct, ir.OpAttentionBackwardProduct)
}

// maxAttentionKeys bounds Tk so a row of scores fits in shared memory
// next to the reduction scratch.
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

// genAttentionBackward is one block per query row i of an item, like
// the forward: the row's weights p, then dp_j = dy_i·v_j and ds = p ⊙
// (dp − Σ dp ⊙ p)·scale (0 at masked keys), written as the row [p | ds].
func genAttentionBackward(e *emitter, v *ir.Value) error {
	g := ir.AttentionGeometryOf(v)
	if g.Tk > maxAttentionKeys {
		return fmt.Errorf("attention over %d keys: at most %d fit a block's shared memory", g.Tk, maxAttentionKeys)
	}
	a := v.Aux.(ir.AttentionBackwardAttr)
	masked := len(v.Args) == 5
	var c code
	c.line("__shared__ float sh[%d];", e.block)
	c.line("__shared__ float sc[%d];", g.Tk)
	c.line("const int item = blockIdx.x / %d;", g.Tq)
	c.line("const int i = blockIdx.x %% %d;", g.Tq)
	attentionScores(&c, g, a.Scale, masked)
	c.line("float* w = out + blockIdx.x * %d;", 2*g.Tk)
	c.line("float part = 0.0f;")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) {", g.Tk)
	c.line("  float d = 0.0f;")
	c.line("  for (int t = 0; t < %d; t++) d += dy[%s + t] * v[%s + t];", g.Dv, attentionRow(g, "i", g.Tq, g.Dv), attentionRow(g, "j", g.Tk, g.Dv))
	c.line("  w[j] = sc[j];")
	c.line("  w[%d + j] = d;", g.Tk)
	c.line("  part += d * sc[j];")
	c.line("}")
	c.line("const float dot = encc_block_sum(part, sh);")
	c.line("for (int j = threadIdx.x; j < %d; j += blockDim.x) {", g.Tk)
	c.line("  w[%d + j] = sc[j] * (w[%d + j] - dot) * %s;", g.Tk, g.Tk, flit(a.Scale))
	if masked {
		c.line("  if (!mask[(item / %d) * %d + j]) w[%d + j] = 0.0f;", g.Heads, g.Tk, g.Tk)
	}
	c.line("}")
	names := []string{"q", "k", "v", "dy"}
	if masked {
		names = append(names, "mask")
	}
	params, ins := attentionParams(v, names...)
	kname := e.kernel(v, "attention_backward", params, c.String())
	e.launchBlocks(v, kname, g.N*g.Tq, ins...)
	return nil
}

// genAttentionBackwardProduct is one block per row r of the result of an
// item, a thread per element of the row: dq_r = Σ_j ds_rj k_j, dk_r = Σ_i
// ds_ir q_i, dv_r = Σ_i p_ir dy_i.
func genAttentionBackwardProduct(e *emitter, v *ir.Value) error {
	g := ir.AttentionGeometryOf(v)
	wrt := v.Aux.(ir.AttentionProductAttr).Wrt
	rows, d := g.Tk, g.Dh
	var c code
	if wrt == 0 {
		rows = g.Tq
	}
	c.line("const int item = blockIdx.x / %d;", rows)
	c.line("const int r = blockIdx.x %% %d;", rows)
	c.line("for (int t = threadIdx.x; t < %d; t += blockDim.x) {", d)
	c.line("  float acc = 0.0f;")
	switch wrt {
	case 0:
		c.line("  for (int j = 0; j < %d; j++) acc += w[(item * %d + r) * %d + %d + j] * x[%s + t];", g.Tk, g.Tq, 2*g.Tk, g.Tk, attentionRow(g, "j", g.Tk, d))
		c.line("  out[%s + t] = acc;", attentionRow(g, "r", g.Tq, d))
	default:
		half := g.Tk
		if wrt == 2 {
			half = 0
		}
		c.line("  for (int i = 0; i < %d; i++) acc += w[(item * %d + i) * %d + %d + r] * x[%s + t];", g.Tq, g.Tq, 2*g.Tk, half, attentionRow(g, "i", g.Tq, d))
		c.line("  out[%s + t] = acc;", attentionRow(g, "r", g.Tk, d))
	}
	c.line("}")
	params, ins := attentionParams(v, "w", "x")
	kname := e.kernel(v, "attention_backward_product", params, c.String())
	e.launchBlocks(v, kname, g.N*rows, ins...)
	return nil
}
