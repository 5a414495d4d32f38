package gemm

import (
	"math"
	"math/rand"
	"testing"
)

// refPackQA is packQA written from its definition, one byte at a time.
func refPackQA(m, k, k4 int, a []uint8, lda int) []uint8 {
	d := make([]uint8, (m+qMR-1)/qMR*k4*4*qMR)
	for i := range m {
		for p := range k {
			d[(i/qMR)*k4*4*qMR+(p/4)*4*qMR+(i%qMR)*4+p%4] = a[i*lda+p]
		}
	}
	return d
}

// TestPackQA: the packing (the AVX 4×16 transposes and the scalar edges)
// equals the definition for row counts and K not multiples of the
// micro-panel or the 16-byte chunk, with a row stride wider than K, and
// clears what a previous packing left in the padding.
func TestPackQA(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, c := range []struct{ m, k, lda int }{{1, 1, 1}, {4, 16, 16}, {5, 17, 20}, {7, 33, 33}, {64, 784, 784}, {9, 3, 5}, {12, 64, 70}} {
		k4 := (c.k + 3) / 4
		a := make([]uint8, (c.m-1)*c.lda+c.k)
		for i := range a {
			a[i] = uint8(rng.Intn(QMax + 1))
		}
		got := make([]uint8, (c.m+qMR-1)/qMR*k4*4*qMR)
		for i := range got {
			got[i] = 0xff // stale bytes that the padding must overwrite
		}
		packQA(got, c.m, c.k, k4, a, c.lda)
		want := refPackQA(c.m, c.k, k4, a, c.lda)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("m=%d k=%d lda=%d: packed[%d] = %d, want %d", c.m, c.k, c.lda, i, got[i], want[i])
			}
		}
	}
	// The assembly transpose against the portable one.
	src := make([]uint8, 3*40+16*2)
	for i := range src {
		src[i] = uint8(i * 7)
	}
	d1, d2 := make([]uint8, 128), make([]uint8, 128)
	qpack4x16(2, src, 40, d1)
	qpack4x16Go(2, src, 40, d2)
	for i := range d1 {
		if d1[i] != d2[i] {
			t.Fatalf("qpack4x16[%d] = %d, portable %d", i, d1[i], d2[i])
		}
	}
}

// TestQuantizePackedA: quantizing float32 rows straight into the packed
// layout gives the bytes of QuantizeSlice followed by packing, hence the
// same products, serial and spread over the pool.
func TestQuantizePackedA(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, c := range []struct{ m, n, k, rows int }{{9, 5, 30, 9}, {256, 32, 784, 255}, {70, 33, 150, 70}, {3, 16, 7, 2}} {
		for _, serial := range []bool{false, true} {
			_, b := randQ(rng, c.m, c.n, c.k)
			w := PackQWeights(c.k, c.n, transposeI8(c.k, c.n, b), c.k, true, ones(c.n))
			aq := QParams{Scale: 0.03, Zero: 40}
			x := make([]float32, c.m*c.k)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			x[0], x[len(x)-1] = float32(math.NaN()), float32(math.Inf(-1))
			xq := make([]uint8, len(x))
			aq.QuantizeSlice(xq, x)
			j := NewQJob(c.m, aq, w, nil, ActNone, 0)
			j.Serial = serial
			want := make([]uint8, j.PackedLen())
			packQA(want, c.rows, c.k, w.k4, xq, c.k)
			j.QuantizePackedA(c.rows, x, c.k)
			got := j.PackedA()
			for i := range (c.rows + qMR - 1) / qMR * w.k4 * 4 * qMR {
				if got[i] != want[i] {
					t.Fatalf("%+v serial %v: packed[%d] = %d, want %d", c, serial, i, got[i], want[i])
				}
			}
		}
	}
}

// TestRunPackedToPacked: a chain of two products whose first writes its
// requantized output straight into the second's packed A computes the
// bits of RunU8 (row-major) followed by RunF32, for N not a multiple of
// 4 or 16, odd row counts and every kernel (the generic one takes the
// unfused epilogue).
func TestRunPackedToPacked(t *testing.T) {
	forEachQKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(5))
		for _, c := range []struct{ m, k, n1, n2, rows int }{{9, 30, 16, 5, 9}, {64, 50, 37, 10, 61}, {256, 784, 256, 128, 256}, {6, 8, 10, 3, 5}} {
			for _, act := range []Activation{ActNone, ActReLU} {
				a, b1 := randQ(rng, c.m, c.n1, c.k)
				_, b2 := randQ(rng, c.m, c.n2, c.n1)
				s1, s2 := make([]float32, c.n1), make([]float32, c.n2)
				bias := make([]float32, c.n1)
				for i := range s1 {
					s1[i], bias[i] = float32(rng.Float64()*0.01+1e-3), float32(rng.NormFloat64())
				}
				for i := range s2 {
					s2[i] = float32(rng.Float64()*0.01 + 1e-3)
				}
				w1 := PackQWeights(c.k, c.n1, transposeI8(c.k, c.n1, b1), c.k, true, s1)
				w2 := PackQWeights(c.n1, c.n2, transposeI8(c.n1, c.n2, b2), c.n1, true, s2)
				aq1, aq2 := QParams{Scale: 0.02, Zero: 9}, QParams{Scale: 0.05, Zero: 30}
				j1 := NewQJob(c.m, aq1, w1, bias, act, 0)
				j2 := NewQJob(c.m, aq2, w2, nil, ActNone, 0)
				mid := make([]uint8, c.m*c.n1)
				want := make([]float32, c.m*c.n2)
				j1.RunU8(c.rows, a, c.k, aq2, mid, c.n1)
				j2.RunF32(c.rows, mid, c.n1, want, c.n2)

				k1 := NewQJob(c.m, aq1, w1, bias, act, 0)
				k2 := NewQJob(c.m, aq2, w2, nil, ActNone, 0)
				for i := range k2.PackedA() {
					k2.PackedA()[i] = 0x7f // stale: the chain must overwrite what it uses
				}
				got := make([]float32, c.m*c.n2)
				packQA(k1.PackedA(), c.rows, c.k, w1.k4, a, c.k)
				k1.RunPackedToPacked(c.rows, k2)
				k2.RunPackedF32(c.rows, got, c.n2)
				for i := range c.rows * c.n2 {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%+v act %v: C[%d][%d] = %v, want %v", c, act, i/c.n2, i%c.n2, got[i], want[i])
					}
				}
			}
		}
	})
}

// TestPackedChainAllocs: the packed entry points allocate nothing.
func TestPackedChainAllocs(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	m, k, n1, n2 := 256, 784, 256, 10
	_, b1 := randQ(rng, m, n1, k)
	_, b2 := randQ(rng, m, n2, n1)
	w1 := PackQWeights(k, n1, transposeI8(k, n1, b1), k, true, ones(n1))
	w2 := PackQWeights(n1, n2, transposeI8(n1, n2, b2), n1, true, ones(n2))
	j1 := NewQJob(m, QParams{Scale: 0.1, Zero: 3}, w1, ones(n1), ActReLU, 0)
	j2 := NewQJob(m, QParams{Scale: 0.1, Zero: 5}, w2, nil, ActNone, 0)
	x := make([]float32, m*k)
	c := make([]float32, m*n2)
	if got := testing.AllocsPerRun(20, func() {
		j1.QuantizePackedA(m, x, k)
		j1.RunPackedToPacked(m, j2)
		j2.RunPackedF32(m, c, n2)
	}); got != 0 {
		t.Errorf("%v allocations per run", got)
	}
}
