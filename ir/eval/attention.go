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

// kAttentionBackward computes the gradient of attention with respect to
// q, k or v, row by row: with p the weights and dp = dy·vᵀ, ds = p ⊙ (dp
// − Σ dp ⊙ p)·scale (0 at masked keys, whose scores are constants); dq =
// ds k, dk = dsᵀ q, dv = pᵀ dy.
func kAttentionBackward(v *ir.Value, out *Tensor, a []*Tensor) error {
	q, k, val, dy := a[0], a[1], a[2], a[3]
	var mask *Tensor
	if len(a) == 5 {
		mask = a[4]
	}
	at := v.Aux.(ir.AttentionBackwardAttr)
	g := ir.AttentionGeometryOf(v)
	clear(out.F)
	p, dp := make([]float64, g.Tk), make([]float64, g.Tk)
	for n := range g.N {
		for i := range g.Tq {
			attentionRow(g, at.Scale, q, k, mask, n, i, p)
			gr := g.Row(n, i, g.Tq, g.Dv)
			if at.Wrt == 2 {
				for j := range g.Tk {
					o := g.Row(n, j, g.Tk, g.Dv)
					for c := range g.Dv {
						out.F[o+c] += p[j] * dy.F[gr+c]
					}
				}
				continue
			}
			dot := 0.0
			for j := range g.Tk {
				vr := g.Row(n, j, g.Tk, g.Dv)
				d := 0.0
				for c := range g.Dv {
					d += dy.F[gr+c] * val.F[vr+c]
				}
				dp[j] = d
				dot += d * p[j]
			}
			qr := g.Row(n, i, g.Tq, g.Dh)
			for j := range g.Tk {
				if mask != nil && mask.F[(n/g.Heads)*g.Tk+j] == 0 {
					continue // a masked score is a constant: no gradient
				}
				ds := p[j] * (dp[j] - dot) * at.Scale
				kr := g.Row(n, j, g.Tk, g.Dh)
				for c := range g.Dh {
					if at.Wrt == 0 {
						out.F[qr+c] += ds * k.F[kr+c]
					} else {
						out.F[kr+c] += ds * q.F[qr+c]
					}
				}
			}
		}
	}
	return nil
}
