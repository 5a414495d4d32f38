package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"testing"
	"time"

	"github.com/encc-lang/encc/internal/cputime"
)

// BenchmarkAdamSubnormal times the vector Adam kernel on fc1's 200,704
// values of the MNIST MLP (256×784) with 0, 6 and 50% of the first
// moments subnormal at random places (their gradients 0), and with those
// of some pixels near the image's border subnormal (6%) and of its edge
// 0, like examples/mnist_mlp.enc after 2 epochs (4.8% subnormal, 6.1%
// below 2^-100, 11.7% zero; a quarter of the 8-lane vectors hold one).
func BenchmarkAdamSubnormal(b *testing.B) {
	if !hasAVX2FMA {
		b.Skip("no vector kernel here")
	}
	const n = 200704
	border := func(i int) (sub, zero bool) {
		r, c := i%784/28, i%28
		edge := func(x int) bool { return x == 1 || x == 26 }
		return (edge(r) || edge(c)) && (r+c)%2 == 0, r == 0 || r == 27 || c == 0 || c == 27
	}
	for _, frac := range []float64{0, 0.06, 0.5, -1} {
		name := fmt.Sprintf("sub=%g", frac)
		if frac < 0 {
			name = "border"
		}
		b.Run(name, func(b *testing.B) {
			r := rand.New(rand.NewSource(1))
			p0, m0, v0, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range p0 {
				p0[i], v0[i] = float32(r.NormFloat64()*0.05), float32(r.Float64()*1e-6)
				sub, zero := r.Float64() < frac, false
				if frac < 0 {
					sub, zero = border(i)
				}
				if sub {
					m0[i] = math.Float32frombits(uint32(1 + r.Intn(0x7fffff)))
				} else if zero {
					v0[i] = 0
				} else {
					m0[i], g[i] = float32(r.NormFloat64()*1e-3), float32(r.NormFloat64()*1e-3)
				}
			}
			p, m, v := make([]float32, n), make([]float32, n), make([]float32, n)
			c, idx, ds := adamBenchConsts(), make([]int32, n/8), make([]float32, n)
			// Plain float32 unless that meets a subnormal, as adamKernel.Range does.
			copy(p, p0)
			copy(m, m0)
			copy(v, v0)
			mark := 0
			if adamAVX2(&p[0], &m[0], &v[0], &g[0], n, c, &idx[0], &ds[0], 0) > 0 {
				mark = 1
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			best := time.Duration(math.MaxInt64)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				copy(p, p0)
				copy(m, m0)
				copy(v, v0)
				b.StartTimer()
				t0 := cputime.Thread()
				adamAVX2(&p[0], &m[0], &v[0], &g[0], n, c, &idx[0], &ds[0], mark)
				best = min(best, cputime.Thread()-t0)
			}
			// The thread's CPU time of the fastest call: wall time says
			// little on a loaded machine.
			b.ReportMetric(float64(best.Microseconds()), "cpu-µs/min")
		})
	}
}

// adamBenchConsts are the kernel's constants for step 1 of Adam at lr 1e-3.
func adamBenchConsts() *[24]float32 {
	c := &[24]float32{0.9, 0.1, 0.999, 0.001, 1, 1e-8, 1, 1e-3}
	for i := 8; i < 16; i++ {
		c[i], c[i+8] = adamSmall, math.Float32frombits(0x7fffffff)
	}
	return c
}
