package gemm

import (
	"math"
	"math/rand"
	"testing"
)

func TestSgemmBatched(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(9))
		for _, c := range []struct {
			m, n, k, batch int
			transA, transB bool
			shareB         bool
			beta           float32
			act            Activation
		}{
			{64, 64, 32, 12, false, true, false, 0, ActNone}, // attention scores, parallel over items
			{64, 32, 64, 7, false, false, false, 1, ActNone}, // attention values, accumulate
			{300, 200, 40, 3, true, false, true, 0, ActReLU}, // big items, shared B
			{3, 4, 5, 9, false, false, false, 0.5, ActTanh},  // tiny items, serial
			{1, 90, 70, 5, false, true, false, 0, ActGELU},   // GEMV items
		} {
			sa, sb, sc := c.m*c.k+3, c.k*c.n+1, c.m*c.n+2
			if c.shareB {
				sb = 0
			}
			a := randSlice(r, c.batch*sa)
			b := randSlice(r, max(c.batch*sb, c.k*c.n))
			c0 := randSlice(r, c.batch*sc)
			bias := randSlice(r, c.n)
			p := Params{TransA: c.transA, TransB: c.transB, M: c.m, N: c.n, K: c.k, Alpha: 0.5, Beta: c.beta,
				A: a, LDA: c.k, B: b, LDB: c.n, LDC: c.n, ColBias: bias, Act: c.act}
			if c.transA {
				p.LDA = c.m
			}
			if c.transB {
				p.LDB = c.k
			}
			want := append([]float32(nil), c0...)
			for i := 0; i < c.batch; i++ {
				q := p
				q.A, q.B, q.C = a[i*sa:], b[i*sb:], want[i*sc:]
				SgemmEx(&q)
			}
			p.C = append([]float32(nil), c0...)
			SgemmBatched(&p, c.batch, sa, sb, sc)
			for i := range want {
				if math.Float32bits(p.C[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v: element %d = %g, want %g", c, i, p.C[i], want[i])
				}
			}
			if allocs := testing.AllocsPerRun(10, func() { SgemmBatched(&p, c.batch, sa, sb, sc) }); allocs != 0 {
				t.Errorf("%+v: %.1f allocations per call", c, allocs)
			}
		}
	})
}

func TestSgemmBatchedChecksEveryItem(t *testing.T) {
	a := make([]float32, 4*4*3)
	p := Params{M: 4, N: 4, K: 4, Alpha: 1, A: a, LDA: 4, B: a, LDB: 4, C: make([]float32, 100), LDC: 4}
	defer func() {
		if recover() == nil {
			t.Fatal("an item past the end of A did not panic")
		}
	}()
	SgemmBatched(&p, 4, 16, 0, 16) // item 3 needs A[48:64], A has 48
}

// BenchmarkAttention: the per-head products of W4 (batch 32 × 4 heads,
// seq 64, head dim 32): scores Q·Kᵀ and context P·V.
func BenchmarkAttention(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	const batch, seq, dh = 128, 64, 32
	q, k := randSlice(r, batch*seq*dh), randSlice(r, batch*seq*dh)
	s := make([]float32, batch*seq*seq)
	flop := 2.0 * batch * seq * seq * dh
	b.Run("scores_QKt", func(b *testing.B) {
		p := Params{TransB: true, M: seq, N: seq, K: dh, Alpha: 1, A: q, LDA: dh, B: k, LDB: dh, C: s, LDC: seq}
		for i := 0; i < b.N; i++ {
			SgemmBatched(&p, batch, seq*dh, seq*dh, seq*seq)
		}
		b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("context_PV", func(b *testing.B) {
		p := Params{M: seq, N: dh, K: seq, Alpha: 1, A: s, LDA: seq, B: k, LDB: dh, C: q, LDC: dh}
		for i := 0; i < b.N; i++ {
			SgemmBatched(&p, batch, seq*seq, seq*dh, seq*dh)
		}
		b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}
