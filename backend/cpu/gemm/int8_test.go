package gemm

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/backend/cpu/parallel"
)

// refQgemm is the reference integer implementation: a triple loop over
// the unpacked matrices, int32 accumulation.
func refQgemm(m, n, k int, a []uint8, b []int8) []int32 {
	c := make([]int32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int32
			for p := 0; p < k; p++ {
				s += int32(a[i*k+p]) * int32(b[p*n+j])
			}
			c[i*n+j] = s
		}
	}
	return c
}

func randQ(rng *rand.Rand, m, n, k int) ([]uint8, []int8) {
	a := make([]uint8, m*k)
	for i := range a {
		a[i] = uint8(rng.Intn(QMax + 1))
	}
	b := make([]int8, k*n)
	for i := range b {
		b[i] = int8(rng.Intn(255) - 127)
	}
	return a, b
}

func transposeI8(k, n int, b []int8) []int8 {
	t := make([]int8, len(b))
	for p := 0; p < k; p++ {
		for j := 0; j < n; j++ {
			t[j*k+p] = b[p*n+j]
		}
	}
	return t
}

func ones(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// forEachQKernel runs f with every int8 kernel this machine has, on a
// one-worker and on a three-worker pool.
func forEachQKernel(t *testing.T, f func(t *testing.T)) {
	defer SetQKernel(QKernel())
	defer func() { getPool = parallel.Default }()
	for _, name := range QKernels() {
		for _, workers := range []int{1, 3} {
			pool := parallel.New(workers)
			getPool = func() *parallel.Pool { return pool }
			SetQKernel(name)
			t.Run(fmt.Sprintf("%s/w%d", name, workers), f)
		}
	}
}

// TestQgemmExact: every kernel's int32 accumulators equal the reference
// integer product bit for bit, edges (m, n, k not multiples of the tile)
// and the extremes (127·±127 for every product, where a saturating
// int16 pair sum would show) included.
func TestQgemmExact(t *testing.T) {
	t.Logf("int8 kernels on this machine: %v", QKernels())
	shapes := [][3]int{{1, 1, 1}, {1, 16, 4}, {3, 5, 7}, {4, 16, 8}, {5, 17, 9}, {13, 33, 31}, {64, 10, 784}, {70, 130, 65}, {256, 128, 100}}
	forEachQKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(1))
		for _, s := range shapes {
			m, n, k := s[0], s[1], s[2]
			a, b := randQ(rng, m, n, k)
			for trans := 0; trans < 2; trans++ {
				var w *QWeights
				if trans == 0 {
					w = PackQWeights(k, n, b, n, false, ones(n))
				} else {
					w = PackQWeights(k, n, transposeI8(k, n, b), k, true, ones(n))
				}
				got := make([]int32, m*n)
				QgemmInt32(m, a, k, w, got, n)
				want := refQgemm(m, n, k, a, b)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%dx%dx%d trans=%d: c[%d] = %d, want %d", m, n, k, trans, i, got[i], want[i])
					}
				}
			}
		}
		// Extremes.
		for _, sign := range []int8{127, -127} {
			m, n, k := 5, 18, 1000
			a := make([]uint8, m*k)
			b := make([]int8, k*n)
			for i := range a {
				a[i] = QMax
			}
			for i := range b {
				b[i] = sign
			}
			got := make([]int32, m*n)
			QgemmInt32(m, a, k, PackQWeights(k, n, b, n, false, ones(n)), got, n)
			if want := int32(k) * 127 * int32(sign); got[0] != want || got[m*n-1] != want {
				t.Fatalf("extreme %d: got %d, %d, want %d", sign, got[0], got[m*n-1], want)
			}
		}
	})
}

// qRefEpilogue applies QEpilogue's documented formula to reference
// accumulators.
func qRefEpilogue(acc []int32, m, n int, aq QParams, b []int8, k int, scale, bias []float32, act Activation) []float32 {
	out := make([]float32, m*n)
	for j := 0; j < n; j++ {
		var cs int32
		for p := 0; p < k; p++ {
			cs += int32(b[p*n+j])
		}
		mult := aq.Scale * scale[j]
		for i := 0; i < m; i++ {
			v := float32(float32(acc[i*n+j]-aq.Zero*cs) * mult)
			if bias != nil {
				v += bias[j]
			}
			out[i*n+j] = Activate(act, v)
		}
	}
	return out
}

// TestQgemmEpilogueExact: the float32 and requantized uint8 outputs equal
// the documented formula applied to the reference accumulators.
func TestQgemmEpilogueExact(t *testing.T) {
	forEachQKernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(2))
		for _, s := range [][3]int{{7, 21, 30}, {64, 100, 64}} {
			m, n, k := s[0], s[1], s[2]
			a, b := randQ(rng, m, n, k)
			scale := make([]float32, n)
			bias := make([]float32, n)
			for j := range scale {
				scale[j] = 0.001 + rng.Float32()*0.01
				bias[j] = rng.Float32() - 0.5
			}
			aq := QParams{Scale: 0.02, Zero: 9}
			w := PackQWeights(k, n, b, n, false, scale)
			for _, act := range []Activation{ActNone, ActReLU, ActGELU} {
				ep := &QEpilogue{Bias: bias, Act: act}
				want := qRefEpilogue(refQgemm(m, n, k, a, b), m, n, aq, b, k, scale, bias, act)
				got := make([]float32, m*n)
				Qgemm(m, a, k, aq, w, ep, got, n)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v: c[%d] = %v, want %v", act, i, got[i], want[i])
					}
				}
				out := QParams{Scale: 0.05, Zero: 3}
				gotQ := make([]uint8, m*n)
				QgemmU8(m, a, k, aq, w, ep, out, gotQ, n)
				for i := range want {
					if w := out.Quantize(want[i]); gotQ[i] != w {
						t.Fatalf("%v u8: c[%d] = %d, want %d", act, i, gotQ[i], w)
					}
				}
			}
		}
	})
}

// TestQgemmAccuracy: quantizing a float32 product's operands (per-column
// symmetric weights, min/max activations) keeps the int8 product within
// a few quantization steps of the float32 one.
func TestQgemmAccuracy(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	m, n, k := 32, 48, 256
	x := make([]float32, m*k)
	for i := range x {
		x[i] = rng.Float32() * 2 // post-ReLU-like, [0, 2)
	}
	wf := make([]float32, k*n)
	for i := range wf {
		wf[i] = float32(rng.NormFloat64()) * 0.05
	}
	want := make([]float32, m*n)
	Sgemm(false, false, m, n, k, 1, x, k, wf, n, 0, want, n)

	aq := QParamsFor(0, 2)
	xa := make([]uint8, len(x))
	aq.QuantizeSlice(xa, x)
	wq, scale := QuantizeWeightsPerColumn(k, n, wf)
	got := make([]float32, m*n)
	Qgemm(m, xa, k, aq, PackQWeights(k, n, wq, n, false, scale), &QEpilogue{}, got, n)
	var maxErr, maxAbs float64
	for i := range want {
		maxErr = max(maxErr, math.Abs(float64(got[i]-want[i])))
		maxAbs = max(maxAbs, math.Abs(float64(want[i])))
	}
	// A random-walk bound: √k products each off by about half a step.
	if maxErr > 0.02*maxAbs {
		t.Fatalf("max |int8 − f32| = %g, max |f32| = %g", maxErr, maxAbs)
	}
	t.Logf("max |int8 − f32| = %.4g (%.2f%% of max |f32|)", maxErr, 100*maxErr/maxAbs)
}

func TestQParams(t *testing.T) {
	q := QParamsFor(-1, 3)
	if q.Quantize(0) != uint8(q.Zero) {
		t.Fatalf("0 is not exact: %d vs zero %d", q.Quantize(0), q.Zero)
	}
	if q.Quantize(-10) != 0 || q.Quantize(10) != QMax {
		t.Fatalf("no clamping: %d %d", q.Quantize(-10), q.Quantize(10))
	}
	if z := QParamsFor(0.5, 2).Zero; z != 0 {
		t.Fatalf("range widened to 0: zero %d, want 0", z)
	}
}

func BenchmarkQgemm(b *testing.B) {
	for _, s := range [][3]int{{256, 128, 784}, {256, 10, 128}} {
		m, n, k := s[0], s[1], s[2]
		rng := rand.New(rand.NewSource(1))
		a, bq := randQ(rng, m, n, k)
		w := PackQWeights(k, n, bq, n, false, ones(n))
		c := make([]float32, m*n)
		for _, name := range QKernels() {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", name, m, n, k), func(b *testing.B) {
				defer SetQKernel(QKernel())
				SetQKernel(name)
				b.SetBytes(int64(2 * m * n * k)) // ops, reported as MB/s = MOP/s
				for i := 0; i < b.N; i++ {
					Qgemm(m, a, k, QParams{Scale: 1}, w, &QEpilogue{Act: ActReLU}, c, n)
				}
			})
		}
	}
}

// TestQuantizeVector: the vector quantizer gives the scalar one's bytes,
// ties, clamps, infinities and NaN included.
func TestQuantizeVector(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	x := make([]float32, 1003)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) * 3
	}
	special := []float32{0, 0.5, 1.5, 2.5, -0.5, -1.5, 1e30, -1e30, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 255.5, 256.5, -300}
	copy(x, special)
	for _, q := range []QParams{{Scale: 1, Zero: 0}, {Scale: 0.05, Zero: 17}, {Scale: 0.5, Zero: 127}} {
		got := make([]uint8, len(x))
		q.QuantizeSlice(got, x)
		for i, v := range x {
			if w := q.Quantize(v); got[i] != w {
				t.Fatalf("%+v: x[%d] = %v: vector %d, scalar %d", q, i, v, got[i], w)
			}
		}
	}
	q := QParams{Scale: 1, Zero: 0}
	for _, c := range []struct {
		x    float32
		want uint8
	}{{0.5, 0}, {1.5, 2}, {2.5, 2}, {-3, 0}, {1e9, 127}, {float32(math.NaN()), 127}} {
		if g := q.Quantize(c.x); g != c.want {
			t.Errorf("Quantize(%v) = %d, want %d", c.x, g, c.want)
		}
	}
}
