package cpu

import (
	"math"
	"math/rand"
	"testing"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// TestExpF64 compares expF64, lane for lane, with math.Exp over random
// arguments of every magnitude the kernel takes (and some it hands back:
// beyond ±700, NaN, infinities), for row lengths with and without a
// tail of fewer than 4.
func TestExpF64(t *testing.T) {
	if !expVector {
		t.Skip("no vector kernel here")
	}
	r := rand.New(rand.NewSource(1))
	check := func(src []float32, m float64) {
		t.Helper()
		x := make([]float64, len(src))
		for i, e := range src {
			x[i] = float64(e) - m
		}
		got := make([]float64, len(src))
		expF64(got, x)
		for i, e := range src {
			want := math.Exp(x[i])
			if math.Float64bits(got[i]) != math.Float64bits(want) && !(math.IsNaN(want) && math.IsNaN(got[i])) {
				t.Fatalf("exp(%g - %g) = %v (%#x), math.Exp %v (%#x)", e, m, got[i], math.Float64bits(got[i]), want, math.Float64bits(want))
			}
		}
	}
	ms := []float64{0, 1, -1, 3.5, 1e-9, 88.5, -250, 699}
	for it := range 20000 {
		n := 1 + r.Intn(24)
		src := make([]float32, n)
		scale := math.Pow(10, float64(r.Intn(8)-5))
		for i := range src {
			src[i] = float32(r.NormFloat64() * scale * 100)
		}
		check(src, ms[it%len(ms)])
	}
	// Runs of consecutive float32s spread over [-90, 90], the softmax's
	// usual range.
	src := make([]float32, 4096)
	for range 400 {
		x := float32(r.Float64()*180 - 90)
		for i := range src {
			src[i], x = x, math.Nextafter32(x, 1000)
		}
		check(src, 0.25)
	}
	// The range's edges and what the kernel hands back.
	inf := float32(math.Inf(1))
	edge := []float32{-700, 700, math.Nextafter32(-700, -1000), math.Nextafter32(700, 1000), -708, -745, -750, 709.7, 710, inf, -inf, float32(math.NaN()), 0, -0.0, 1e-30, -1e-30}
	for i := range edge {
		row := []float32{0.5, -1, 2, edge[i], 3, -4, 5, 6}
		check(row, 0)
		check(row, -0.5)
	}
}

// TestCrossEntropyExpF64: the cross-entropy gradient, fused with its
// loss or not, gives the same bits with the vector exps as with
// math.Exp's, on one core and on two (the training cases of the stage
// tests, W1's 64×10 logits among them).
func TestCrossEntropyExpF64(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no vector kernel here")
	}
	defer func(on bool) { fuseCrossEntropyOn = on }(fuseCrossEntropyOn)
	for _, fuse := range []bool{true, false} {
		fuseCrossEntropyOn = fuse
		for _, threads := range []int{1, 2} {
			bitIdentical(t, threads, func(on bool) { expVector = on && hasAVX2FMA }, func(p *Program) int {
				n := 0
				for _, s := range flatSteps(p) {
					switch k := s.k.(type) {
					case *crossEntropyPair:
						n++
					case *crossEntropyKernel:
						if k.backward {
							n++
						}
					}
				}
				return n
			}, 1)
		}
	}
}

// TestCrossEntropyPairShapes runs the pair directly on shapes the
// training cases lack: 1 to 3 classes (under the vector width), widths
// not a multiple of 4, 64 and 65 classes (the two paths' edge), many
// rows (several blocks of ceBlock exps), large and NaN logits (the
// kernel hands those back), with and without label smoothing: the vector
// exps give the bits of math.Exp's, and the loss the kernel's
// (crossEntropyKernel, unfused).
func TestCrossEntropyPairShapes(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no vector kernel here")
	}
	defer func(on bool) { expVector = on }(expVector)
	r := rand.New(rand.NewSource(2))
	buf := func(x []float32) *buffer { return &buffer{p: unsafe.Pointer(&x[0]), n: len(x), dt: ir.F32} }
	for _, shape := range [][2]int{{1, 1}, {3, 2}, {7, 3}, {64, 10}, {200, 10}, {300, 17}, {130, 64}, {70, 65}} {
		for _, eps := range []float64{0, 0.1} {
			for _, special := range []float32{0, 800, float32(math.NaN())} {
				N, C := shape[0], shape[1]
				logits, labels := make([]float32, N*C), make([]int32, N)
				for i := range logits {
					logits[i] = float32(r.NormFloat64() * 4)
				}
				for i := range labels {
					labels[i] = int32(r.Intn(C))
				}
				if special != 0 {
					logits[r.Intn(N*C)] = special
				}
				dl, loss, loss1 := []float32{1.5}, []float32{0}, []float32{0}
				run := func(vec bool) []float32 {
					expVector = vec
					out := make([]float32, N*C)
					lab := &buffer{p: unsafe.Pointer(&labels[0]), n: N, dt: ir.I32}
					f := &crossEntropyKernel{N: N, C: C, eps: eps, logits: buf(logits), labels: lab, out: buf(loss), pool: parallel.Default()}
					b := &crossEntropyKernel{backward: true, N: N, C: C, eps: eps, logits: buf(logits), labels: lab, dl: buf(dl), out: buf(out), pool: parallel.Default()}
					pair := &crossEntropyPair{fwd: f, bwd: b, terms: make([]float64, N)}
					if err := pair.run(); err != nil {
						t.Fatal(err)
					}
					f.out = buf(loss1)
					if err := f.run(); err != nil {
						t.Fatal(err)
					}
					return out
				}
				want := run(false)
				wantLoss := loss[0]
				got := run(true)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%dx%d eps %g special %g: gradient [%d] = %v, %v with math.Exp", N, C, eps, special, i, got[i], want[i])
					}
				}
				if math.Float32bits(loss[0]) != math.Float32bits(wantLoss) || math.Float32bits(loss[0]) != math.Float32bits(loss1[0]) {
					t.Fatalf("%dx%d eps %g special %g: loss %v, %v with math.Exp, %v unfused", N, C, eps, special, loss[0], wantLoss, loss1[0])
				}
			}
		}
	}
}

// TestLogF64 compares logF64, lane for lane, with math.Log over random
// arguments of every magnitude, runs of consecutive float64s around 1
// and √2/2 (where the reduction switches), and what the kernel hands
// back (0, negatives, subnormals, infinities, NaN).
func TestLogF64(t *testing.T) {
	if !expVector {
		t.Skip("no vector kernel here")
	}
	r := rand.New(rand.NewSource(3))
	check := func(x []float64) {
		t.Helper()
		got := make([]float64, len(x))
		logF64(got, x)
		for i, e := range x {
			want := math.Log(e)
			if math.Float64bits(got[i]) != math.Float64bits(want) && !(math.IsNaN(want) && math.IsNaN(got[i])) {
				t.Fatalf("log(%g) = %v (%#x), math.Log %v (%#x)", e, got[i], math.Float64bits(got[i]), want, math.Float64bits(want))
			}
		}
	}
	for range 20000 {
		x := make([]float64, 1+r.Intn(24))
		for i := range x {
			x[i] = math.Exp(r.NormFloat64() * 50)
		}
		check(x)
	}
	for _, c := range []float64{1, math.Sqrt2 / 2, 1e-300, 64} {
		x := make([]float64, 4096)
		v := c
		for range 20 {
			v = math.Nextafter(v, 0)
		}
		for i := range x {
			x[i], v = v, math.Nextafter(v, math.Inf(1))
		}
		check(x)
	}
	for _, e := range []float64{0, math.Copysign(0, -1), -1, 5e-324, 2.2250738585072014e-308, math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN()} {
		check([]float64{1.5, 2, e, 3, 7, 9, 11, 13})
	}
}
