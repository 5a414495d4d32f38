package gemm

import (
	"math"
	"math/rand"
	"testing"
)

// refQEpilogue is the epilogue of QEpilogue on the reference integer
// product, written out: dequantize, bias, activation.
func refQEpilogue(acc int32, j int, aq QParams, w *QWeights, bias []float32, act Activation) float32 {
	v := float32(float32(acc-aq.Zero*w.ColSum[j]) * float32(aq.Scale*w.Scale[j]))
	if bias != nil {
		v += bias[j]
	}
	return Activate(act, v)
}

// TestQJobExact: a planned QJob gives, bit for bit, the reference
// integer product through the epilogue, in both layouts (row-major and
// channel-major blocks) and both outputs (float32 and requantized
// uint8), for a run of fewer rows than planned too, with every kernel.
func TestQJobExact(t *testing.T) {
	type tc struct{ m, n, k, spatial, rows int }
	cases := []tc{{9, 5, 30, 0, 9}, {64, 16, 25, 0, 61}, {70, 33, 150, 0, 70}, {3 * 49, 6, 25, 49, 3 * 49}, {4 * 100, 16, 150, 100, 2 * 100}, {5 * 7, 17, 9, 7, 5 * 7}}
	forEachQKernel(t, func(t *testing.T) {
		for ci, c := range cases {
			for _, act := range []Activation{ActNone, ActReLU} {
				rng := rand.New(rand.NewSource(int64(ci)))
				a, b := randQ(rng, c.m, c.n, c.k)
				scale := make([]float32, c.n)
				bias := make([]float32, c.n)
				for j := range scale {
					scale[j] = float32(rng.Float64()*0.01 + 1e-3)
					bias[j] = float32(rng.NormFloat64())
				}
				aq := QParams{Scale: 0.02, Zero: int32(rng.Intn(QMax + 1))}
				out := QParams{Scale: 0.05, Zero: 11}
				w := PackQWeights(c.k, c.n, transposeI8(c.k, c.n, b), c.k, true, scale)
				ref := refQgemm(c.m, c.n, c.k, a, b)
				j := NewQJob(c.m, aq, w, nil, act, c.spatial)
				j.Bias = bias
				f := make([]float32, c.m*c.n)
				u := make([]uint8, c.m*c.n)
				for run := 0; run < 2; run++ { // a second run reuses the buffers
					j.RunF32(c.rows, a, c.k, f, c.n)
					j.RunU8(c.rows, a, c.k, out, u, c.n)
				}
				for i := 0; i < c.rows; i++ {
					for jj := 0; jj < c.n; jj++ {
						want := refQEpilogue(ref[i*c.n+jj], jj, aq, w, bias, act)
						o := i*c.n + jj
						if c.spatial > 0 {
							o = (i/c.spatial*c.n+jj)*c.spatial + i%c.spatial
						}
						if math.Float32bits(f[o]) != math.Float32bits(want) {
							t.Fatalf("case %v act %v: C[%d][%d] = %v, want %v", c, act, i, jj, f[o], want)
						}
						if u[o] != out.Quantize(want) {
							t.Fatalf("case %v act %v: uint8 C[%d][%d] = %d, want %d", c, act, i, jj, u[o], out.Quantize(want))
						}
					}
				}
			}
		}
	})
}

// TestQJobAllocs: a planned QJob's runs allocate nothing.
func TestQJobAllocs(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	m, n, k := 256, 120, 400
	a, b := randQ(rng, m, n, k)
	w := PackQWeights(k, n, transposeI8(k, n, b), k, true, ones(n))
	j := NewQJob(m, QParams{Scale: 0.1, Zero: 3}, w, ones(n), ActReLU, 0)
	c := make([]float32, m*n)
	u := make([]uint8, m*n)
	if got := testing.AllocsPerRun(20, func() { j.RunF32(m, a, k, c, n) }); got != 0 {
		t.Errorf("RunF32: %v allocations per run", got)
	}
	if got := testing.AllocsPerRun(20, func() { j.RunU8(m, a, k, QParams{Scale: 0.1}, u, n) }); got != 0 {
		t.Errorf("RunU8: %v allocations per run", got)
	}
}
