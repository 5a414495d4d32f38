package eval

import (
	"math"

	"github.com/encc-lang/encc/ir"
)

// kAttention computes softmax(q·kᵀ·scale, masked) v row by row.
func kAttention(v *ir.Value, out *Tensor, a []*Tensor) error {
	q, k, val := a[0], a[1], a[2]
	scale := v.Aux.(ir.AttentionAttr).Scale
	r := q.Type.Rank()
	tq, dh := q.Type.Shape[r-2], q.Type.Shape[r-1]
	tk, dv := k.Type.Shape[r-2], val.Type.Shape[r-1]
	n := q.Type.NumElements() / (tq * dh)
	perB := n / q.Type.Shape[0] // batch items (heads) per mask row
	s := make([]float64, tk)
	for item := 0; item < n; item++ {
		qb, kb, vb, ob := item*tq*dh, item*tk*dh, item*tk*dv, item*tq*dv
		for i := 0; i < tq; i++ {
			mx := math.Inf(-1)
			for j := 0; j < tk; j++ {
				d := 0.0
				for c := 0; c < dh; c++ {
					d += q.F[qb+i*dh+c] * k.F[kb+j*dh+c]
				}
				s[j] = d * scale
				if len(a) == 4 && a[3].F[(item/perB)*tk+j] == 0 {
					s[j] = -1e9
				}
				mx = math.Max(mx, s[j])
			}
			sum := 0.0
			for j := range s {
				s[j] = math.Exp(s[j] - mx)
				sum += s[j]
			}
			for c := 0; c < dv; c++ {
				acc := 0.0
				for j := 0; j < tk; j++ {
					acc += s[j] * val.F[vb+j*dv+c]
				}
				out.F[ob+i*dv+c] = acc / sum
			}
		}
	}
	return nil
}
