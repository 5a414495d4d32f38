package eval

import (
	"math"

	"github.com/encc-lang/encc/ir"
)

// attentionRow computes row i of item n's weights into s (length Tk):
// softmax(q_i·kⱼ·scale, masked keys at -1e9) over j.
func attentionRow(g ir.AttentionGeometry, scale float64, q, k, mask *Tensor, n, i int, s []float64) {
	qr := g.Row(n, i, g.Tq, g.Dh)
	mx := math.Inf(-1)
	for j := range g.Tk {
		kr := g.Row(n, j, g.Tk, g.Dh)
		d := 0.0
		for c := range g.Dh {
			d += q.F[qr+c] * k.F[kr+c]
		}
		s[j] = d * scale
		if mask != nil && mask.F[(n/g.Heads)*g.Tk+j] == 0 {
			s[j] = -1e9
		}
		mx = math.Max(mx, s[j])
	}
	sum := 0.0
	for j := range s {
		s[j] = math.Exp(s[j] - mx)
		sum += s[j]
	}
	for j := range s {
		s[j] /= sum
	}
}

// kAttention computes softmax(q·kᵀ·scale, masked) v row by row.
func kAttention(v *ir.Value, out *Tensor, a []*Tensor) error {
	q, k, val := a[0], a[1], a[2]
	var mask *Tensor
	if len(a) == 4 {
		mask = a[3]
	}
	scale := v.Aux.(ir.AttentionAttr).Scale
	g := ir.AttentionGeometryOf(v)
	s := make([]float64, g.Tk)
	for n := range g.N {
		for i := range g.Tq {
			attentionRow(g, scale, q, k, mask, n, i, s)
			or := g.Row(n, i, g.Tq, g.Dv)
			for c := range g.Dv {
				acc := 0.0
				for j := range g.Tk {
					acc += s[j] * val.F[g.Row(n, j, g.Tk, g.Dv)+c]
				}
				out.F[or+c] = acc
			}
		}
	}
	return nil
}

// kAttentionBackward writes, per item and query row, the weights p and
// then the score gradients ds = p ⊙ (dp − Σ dp ⊙ p)·scale with dp =
// dy·vᵀ (0 at masked keys, whose scores are constants).
func kAttentionBackward(v *ir.Value, out *Tensor, a []*Tensor) error {
	q, k, val, dy := a[0], a[1], a[2], a[3]
	var mask *Tensor
	if len(a) == 5 {
		mask = a[4]
	}
	at := v.Aux.(ir.AttentionBackwardAttr)
	g := ir.AttentionGeometryOf(v)
	p := make([]float64, g.Tk)
	for n := range g.N {
		for i := range g.Tq {
			attentionRow(g, at.Scale, q, k, mask, n, i, p)
			gr := g.Row(n, i, g.Tq, g.Dv)
			w := out.F[(n*g.Tq+i)*2*g.Tk:][:2*g.Tk]
			dot := 0.0
			for j := range g.Tk {
				vr := g.Row(n, j, g.Tk, g.Dv)
				d := 0.0
				for c := range g.Dv {
					d += dy.F[gr+c] * val.F[vr+c]
				}
				w[j], w[g.Tk+j] = p[j], d
				dot += d * p[j]
			}
			for j := range g.Tk {
				w[g.Tk+j] = p[j] * (w[g.Tk+j] - dot) * at.Scale
				if mask != nil && mask.F[(n/g.Heads)*g.Tk+j] == 0 {
					w[g.Tk+j] = 0
				}
			}
		}
	}
	return nil
}

// kAttentionBackwardProduct computes dq = ds·k, dk = dsᵀ·q or dv = pᵀ·dy
// per item from attention_backward's w.
func kAttentionBackwardProduct(v *ir.Value, out *Tensor, a []*Tensor) error {
	w, x := a[0], a[1]
	wrt := v.Aux.(ir.AttentionProductAttr).Wrt
	g := ir.AttentionGeometryOf(v)
	d := g.Dh
	half := g.Tk // ds
	if wrt == 2 {
		half = 0 // p
	}
	clear(out.F)
	for n := range g.N {
		for i := range g.Tq {
			wr := w.F[(n*g.Tq+i)*2*g.Tk+half:][:g.Tk]
			for j, e := range wr {
				if wrt == 0 { // dq_i += ds_ij k_j
					o, xr := g.Row(n, i, g.Tq, d), g.Row(n, j, g.Tk, d)
					for c := range d {
						out.F[o+c] += e * x.F[xr+c]
					}
					continue
				}
				o, xr := g.Row(n, j, g.Tk, d), g.Row(n, i, g.Tq, d) // dk_j += ds_ij q_i; dv_j += p_ij dy_i
				for c := range d {
					out.F[o+c] += e * x.F[xr+c]
				}
			}
		}
	}
	return nil
}
