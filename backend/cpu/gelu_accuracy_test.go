//go:build amd64

package cpu

import (
	"math"
	"math/rand"
	"runtime"
	"testing"

	"github.com/encc-lang/encc/internal/cputime"
	"github.com/encc-lang/encc/ir"
)

// geluSweep is every 1021st float32 (both signs, all magnitudes), then
// ±0, ±Inf and NaN, padded with ones to a multiple of 16; n is where the
// special values start.
func geluSweep() (xs []float32, n int) {
	for b := uint64(0); b < 1<<32; b += 1021 {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	n = len(xs)
	xs = append(xs, 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
	for len(xs)%16 != 0 {
		xs = append(xs, 1)
	}
	return xs, n
}

// TestGeluAccuracy: the AVX2 GELU x·Φ(x) against float64 (x·erfc(-x/√2)/2)
// over geluSweep, in units of 2⁻²⁴ relative to the float64 value ("ulp"),
// wherever that is a normal float32: within 12 on [-3, 0) and [0, 3), 2
// above and 16 below -3 (measured: 8.5, 8.9, 1.4 and 11.8; the kernel
// before it, erfc as t·exp(P(t) - z²) with z² rounded, measured on Φ 21,
// 8, 1.5 and 310). Its derivative Φ(x) + x·φ(x) within 40 of its float64
// value where that is at least 0.05 (measured 29: the sum cancels near
// x = -0.75, which grows Φ's error; TestGelu bounds it absolutely), with
// GELU'(±0) = 0.5, gelu(±Inf) = +Inf and NaN, GELU'(±Inf) NaN (as the
// float64 Φ(x) + x·φ(x) is: ∞·0), and NaN kept.
func TestGeluAccuracy(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	xs, n := geluSweep()
	o, g := make([]float32, len(xs)), make([]float32, len(xs))
	geluVecF32(o, xs, nil, g)
	ulps := func(got float32, want float64) float64 {
		return math.Abs(float64(got)-want) / math.Abs(want) / 0x1p-24
	}
	type rng struct {
		name       string
		lo, hi     float64
		bound, max float64
	}
	rs := []*rng{{"x < -3", math.Inf(-1), -3, 16, 0}, {"-3 ≤ x < 0", -3, 0, 12, 0}, {"0 ≤ x < 3", 0, 3, 12, 0}, {"x ≥ 3", 3, math.Inf(1), 2, 0}}
	dmax := 0.0
	for i, x := range xs[:n] {
		if x != x || math.IsInf(float64(x), 0) {
			continue
		}
		v := float64(x)
		p := 0.5 * math.Erfc(-v/math.Sqrt2)
		want := v * p
		if math.Abs(want) >= 0x1p-126 {
			for _, r := range rs {
				if v >= r.lo && v < r.hi {
					e := ulps(o[i], want)
					if e > r.bound {
						t.Fatalf("gelu(%v) = %v, float64 %v: %.1f ulp, want ≤ %v (%s)", x, o[i], want, e, r.bound, r.name)
					}
					r.max = max(r.max, e)
				}
			}
		}
		if d := p + v*math.Exp(-v*v/2)/math.Sqrt(2*math.Pi); math.Abs(d) >= 0.05 {
			e := ulps(g[i], d)
			if e > 40 {
				t.Fatalf("gelu'(%v) = %v, float64 %v: %.1f ulp, want ≤ 40", x, g[i], d, e)
			}
			dmax = max(dmax, e)
		}
	}
	for _, r := range rs {
		t.Logf("gelu %s: %.2f ulp", r.name, r.max)
	}
	t.Logf("gelu' where ≥ 0.05: %.2f ulp", dmax)
	got, d := o[n:n+5], g[n:n+5]
	if got[0] != 0 || !math.Signbit(float64(got[1])) || !math.IsInf(float64(got[2]), 1) || got[3] == got[3] || got[4] == got[4] {
		t.Errorf("gelu(0, -0, +Inf, -Inf, NaN) = %v", got)
	}
	if d[0] != 0.5 || d[1] != 0.5 || d[2] == d[2] || d[3] == d[3] || d[4] == d[4] {
		t.Errorf("gelu'(0, -0, +Inf, -Inf, NaN) = %v", d)
	}
}

// TestGeluVecModes: geluVecF32's three modes agree bit for bit: the
// forward alone and with its derivative give the same GELU, the
// derivative is the backward with dy = 1 and the backward the product
// dy·derivative (what a linked gelu_backward computes), and an element's
// bits do not depend on where a slice of it starts or on the padded tail
// (lengths with and without a remainder of 16, slices at odd offsets).
func TestGeluVecModes(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(5))
	const n = 1003
	x, dy, ones := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(r.Float64()*40 - 20)
		dy[i] = float32(r.NormFloat64())
		ones[i] = 1
	}
	sp := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-30, -1e-30, 9, -9, 13.25, -13.25, 13.3, -13.3, 100, -100, 3e38, -3e38}
	copy(x[1:], sp)
	y, g, back, unit, prod := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	geluVecF32(y, x, nil, g)
	geluF32(back, x, dy)
	geluF32(unit, x, ones)
	for i := range prod {
		prod[i] = dy[i] * g[i]
	}
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
	}
	check := func(name string, got, want []float32, off int) {
		t.Helper()
		for i := range got {
			if !same(got[i], want[i+off]) {
				t.Fatalf("%s: x = %v [%d]: %v, want %v", name, x[i+off], i+off, got[i], want[i+off])
			}
		}
	}
	check("derivative as backward with dy = 1", g, unit, 0)
	check("backward as dy·derivative", back, prod, 0)
	for _, c := range [][2]int{{0, n}, {0, 16}, {3, 19}, {5, 40}, {7, 500}, {17, n}, {n - 9, n}} {
		lo, hi := c[0], c[1]
		f, f2, d2, b2 := make([]float32, hi-lo), make([]float32, hi-lo), make([]float32, hi-lo), make([]float32, hi-lo)
		geluF32(f, x[lo:hi], nil)
		geluVecF32(f2, x[lo:hi], nil, d2)
		geluF32(b2, x[lo:hi], dy[lo:hi])
		check("forward", f, y, lo)
		check("forward with derivative", f2, y, lo)
		check("derivative", d2, g, lo)
		check("backward", b2, back, lo)
	}
}

// BenchmarkGelu: geluVecF32's modes on 16384 elements (ns/op), with one
// thread's CPU per element (cpu-ns/elem) so that a loaded machine does
// not hide the kernel's cost: the forward, the forward that also writes
// the derivative (a linked gelu), the unlinked backward, and the linked
// backward's product dy·GELU'(x).
func BenchmarkGelu(b *testing.B) {
	if !simdOn {
		b.Skip("no AVX2")
	}
	const n = 16384
	x, dy, o, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i))) * 3
		dy[i] = float32(math.Cos(float64(i)))
	}
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"forward", func() { geluF32(o, x, nil) }},
		{"forward+deriv", func() { geluVecF32(o, x, nil, g) }},
		{"backward", func() { geluF32(o, x, dy) }},
		{"linked-backward", func() { binaryF32Vector(ir.OpMul, o, dy, g) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := cputime.Thread()
			for range b.N {
				c.f()
			}
			b.ReportMetric(float64(cputime.Thread()-t0)/float64(b.N)/n, "cpu-ns/elem")
		})
	}
}
