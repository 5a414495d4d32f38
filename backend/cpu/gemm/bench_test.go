package gemm

import (
	"fmt"
	"math/rand"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/encc-lang/encc/internal/cputime"
)

// benchShape runs one GEMM shape, reporting GFLOP/s (2·m·n·k per call).
// ENCC_GEMM selects the kernel as in production; the /kernel=… variants
// in BenchmarkKernels compare them directly.
func benchShape(b *testing.B, transA, transB bool, m, n, k int, ep bool) {
	benchParams(b, transA, transB, m, n, k, ep, false)
}

// benchParams is benchShape, with A's column sums (ASums) where sums.
func benchParams(b *testing.B, transA, transB bool, m, n, k int, ep, sums bool) {
	r := rand.New(rand.NewSource(1))
	p := Params{TransA: transA, TransB: transB, M: m, N: n, K: k, Alpha: 1,
		A: randSlice(r, m*k), B: randSlice(r, k*n), C: make([]float32, m*n), LDC: n}
	if sums {
		p.ASums = make([]float64, m)
	}
	p.LDA, p.LDB = k, n
	if transA {
		p.LDA = m
	}
	if transB {
		p.LDB = k
	}
	if ep {
		p.ColBias = randSlice(r, n)
		p.Act = ActReLU
	}
	SgemmEx(&p) // warm up: grow scratch, wake the pool
	flop := 2 * float64(m) * float64(n) * float64(k)
	times := make([]time.Duration, 0, min(b.N, 1<<16))
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		SgemmEx(&p)
		if len(times) < cap(times) {
			times = append(times, time.Since(t0))
		}
	}
	b.StopTimer()
	cpu := cputime.Process() - cpu0
	b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// GFLOP/s per CPU-second of the whole process (all threads, spinning
	// helpers included): on a machine shared with other work this is
	// less disturbed than the wall-clock figures; compare it with one
	// core's FMA peak.
	if cpu > 0 {
		b.ReportMetric(flop*float64(b.N)/cpu.Seconds()/1e9, "cpu-GFLOP/s")
	}
	// Per-call median and best: on a machine shared with other work these
	// are less disturbed by preemption than the mean.
	slices.Sort(times)
	med, best := times[len(times)/2], times[0]
	b.ReportMetric(float64(med.Nanoseconds()), "p50-ns")
	b.ReportMetric(flop/float64(med.Nanoseconds()), "p50-GFLOP/s")
	b.ReportMetric(flop/float64(best.Nanoseconds()), "best-GFLOP/s")
}

// BenchmarkSgemm: square C = A·B, the W6 workload.
func BenchmarkSgemm(b *testing.B) {
	for _, n := range []int{256, 512, 1024, 2048} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchShape(b, false, false, n, n, n, false) })
	}
}

// BenchmarkWorkloads: the GEMMs of W1/W2 (MLP 784-256-128-10, batch 64),
// forward with bias+ReLU epilogue, and the backward products
// dX = dY·Wᵀ and dW = Xᵀ·dY, plus batch 1 and batch 256 inference.
func BenchmarkWorkloads(b *testing.B) {
	type w struct {
		name           string
		transA, transB bool
		m, n, k        int
		ep             bool
	}
	for _, s := range []w{
		{"fwd1_64x784x256", false, false, 64, 256, 784, true},
		{"fwd2_64x256x128", false, false, 64, 128, 256, true},
		{"fwd3_64x128x10", false, false, 64, 10, 128, false},
		// fc1's and fc2's forward as the CPU backend calls them (x·Wᵀ,
		// W stored out×in); fc1's goes by dot products (dotWorth; the
		// /panels variant by the packed panels: swapped on one core,
		// swapWorth), and /stated by the panels as stated. fc1h is the
		// half of fc1's forward a task computes on two cores, w3fc1T
		// W3's first fully connected layer.
		{"fc1T_64x256x784", false, true, 64, 256, 784, true},
		{"fc1h_64x128x784", false, true, 64, 128, 784, true},
		{"w3fc1T_64x120x400", false, true, 64, 120, 400, true},
		{"fc2T_64x128x256", false, true, 64, 128, 256, true},
		{"dX1_64x256x784", false, true, 64, 784, 256, false},
		{"dW1_784x64x256", true, false, 784, 256, 64, false},
		{"dX2_64x128x256", false, true, 64, 256, 128, false},
		{"dW2_256x64x128", true, false, 256, 128, 64, false},
		{"dX3_64x10x128", false, true, 64, 128, 10, false},
		{"dW3_128x64x10", true, false, 128, 10, 64, false},
		// fc2's backward products as the CPU backend calls them (W2
		// stored 128×256): dX2 = dZ2·W2 and dW2 = dZ2ᵀ·h1.
		{"fc2dX_64x256x128", false, false, 64, 256, 128, false},
		{"fc2dW_128x256x64", true, false, 128, 256, 64, false},
		// fc3's products as the CPU backend calls them (W3 stored 10×128):
		// the forward x·W3ᵀ with its bias, dX3 = dY·W3 (K = 10) and
		// dW3 = dYᵀ·h2 (M = 10).
		{"fc3T_64x10x128", false, true, 64, 10, 128, true},
		{"fc3T_256x10x128", false, true, 256, 10, 128, true}, // W2 at batch 256
		{"w3fc3T_64x10x84", false, true, 64, 10, 84, true},   // W3's last layer
		{"fc3dX_64x128x10", false, false, 64, 128, 10, false},
		{"fc3dW_10x128x64", true, false, 10, 128, 64, false},
		{"gemv_1x784x256", false, false, 1, 256, 784, true},
		{"gemvT_1x784x256", false, true, 1, 256, 784, true},
		{"b256_256x784x256", false, false, 256, 256, 784, true},
		// W4 (transformer, batch 32 × 64 tokens, d 128, ffn 512): a
		// projection forward (x·Wᵀ), its input and weight gradients, and
		// the FFN's first product.
		{"w4fwd_2048x128x128", false, true, 2048, 128, 128, true},
		{"w4dX_2048x128x128", false, false, 2048, 128, 128, false},
		{"w4dW_128x128x2048", true, false, 128, 128, 2048, false},
		{"w4ffn_2048x512x128", false, true, 2048, 512, 128, true},
		// The FFN's weight gradients (K = 2048 tokens).
		{"w4dW1_128x512x2048", true, false, 128, 512, 2048, false},
		{"w4dW2_512x128x2048", true, false, 512, 128, 2048, false},
	} {
		b.Run(s.name, func(b *testing.B) { benchShape(b, s.transA, s.transB, s.m, s.n, s.k, s.ep) })
		if s.transA && s.k > 1024 {
			// A weight gradient that also sums dY's columns (a bias
			// gradient, Params.ASums; ColSums is nil in this package's
			// tests: the Go loop, slower than backend/cpu's vector sums).
			b.Run(s.name+"/asums", func(b *testing.B) { benchParams(b, s.transA, s.transB, s.m, s.n, s.k, s.ep, true) })
		}
		if s.transB && !s.transA && s.m <= dotMaxRows && s.k >= dotMinK {
			// The same product by the panels, to compare.
			b.Run(s.name+"/panels", func(b *testing.B) {
				noDot = true
				defer func() { noDot = false }()
				benchShape(b, s.transA, s.transB, s.m, s.n, s.k, s.ep)
			})
		}
		if s.transB && !s.transA && s.m <= directAMaxRows && s.n >= 4*s.m {
			// The same product by the panels as stated (not swapped).
			b.Run(s.name+"/stated", func(b *testing.B) {
				noSwap, noDot = true, true
				defer func() { noSwap, noDot = false, false }()
				benchShape(b, s.transA, s.transB, s.m, s.n, s.k, s.ep)
			})
		}
	}
}

// BenchmarkKernels compares the micro-kernels on one mid-size square.
func BenchmarkKernels(b *testing.B) {
	defer SetKernel(envOrAuto())
	for _, name := range Kernels() {
		SetKernel(name)
		b.Run("kernel="+name, func(b *testing.B) { benchShape(b, false, false, 512, 512, 512, false) })
	}
}

func envOrAuto() string {
	if v := os.Getenv("ENCC_GEMM"); v != "" {
		return v
	}
	return "auto"
}
