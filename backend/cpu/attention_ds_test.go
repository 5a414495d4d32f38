package cpu

import (
	"math"
	"math/rand"
	"testing"
)

// TestAttentionDsRows checks attnDsAVX2 (four rows at a time, then one)
// against the portable loop of attentionKernel.scores bit for bit, on
// 1–9 rows of 8–64 elements with rows further apart than their length.
func TestAttentionDsRows(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2+FMA")
	}
	r := rand.New(rand.NewSource(3))
	const scale = 0.177
	for _, n := range []int{8, 16, 24, 64} {
		for rows := 1; rows <= 9; rows++ {
			ld := n + 8
			p := make([]float32, rows*ld)
			ds := make([]float32, rows*ld)
			for i := range p {
				p[i], ds[i] = r.Float32(), r.Float32()*2-1
			}
			want := append([]float32(nil), ds...)
			for i := range rows {
				pr, dr := p[i*ld:][:n], want[i*ld:][:n]
				dot := dotF32(dr, pr)
				for j, e := range dr {
					dr[j] = pr[j] * (e - dot) * scale
				}
			}
			attnDsAVX2(&p[0], &ds[0], ld, rows, n, scale)
			for i := range ds {
				if math.Float32bits(ds[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n %d rows %d: element %d (row %d) = %v, want %v", n, rows, i, i/ld, ds[i], want[i])
				}
			}
		}
	}
}
