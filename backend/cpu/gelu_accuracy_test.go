//go:build amd64

package cpu

import (
	"math"
	"testing"
)

// TestGeluAccuracy: the AVX2 GELU forward's Φ(x) and x·Φ(x) against
// float64 over every 1021st float32 (both signs, all magnitudes): within
// 32 ulp relative on [-3, ∞) where Φ is a normal float32 (measured: 21
// on [-3, 0), 8 on [0, 3), 1.5 above) and 400 on the tail below -3 down
// to where Φ underflows (measured: 310, the rounding of z² in exp's
// argument grown by z²), with Φ(±0) = 0.5, gelu(±Inf) = +Inf and NaN
// (as x·0.5·(1+erf) is) and NaN kept.
func TestGeluAccuracy(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	var xs []float32
	for b := uint64(0); b < 1<<32; b += 1021 {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	sp := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	n := len(xs)
	xs = append(xs, sp...)
	for len(xs)%16 != 0 {
		xs = append(xs, 1)
	}
	o, ph := make([]float32, len(xs)), make([]float32, len(xs))
	gelu2PhiAVX2(&o[0], &xs[0], &ph[0], len(xs), &geluWide)
	ulps := func(got float32, want float64) float64 {
		return math.Abs(float64(got)-want) / math.Abs(want) / 0x1p-24
	}
	for i, x := range xs {
		if x != x || math.IsInf(float64(x), 0) {
			continue
		}
		p := 0.5 * math.Erfc(-float64(x)/math.Sqrt2)
		if p < 0x1p-126 {
			continue
		}
		bound := 32.0
		if x < -3 {
			bound = 400
		}
		if e := ulps(ph[i], p); e > bound {
			t.Fatalf("Φ(%v) = %v, float64 %v: %.1f ulp, want ≤ %v", x, ph[i], p, e, bound)
		}
		if g := float64(x) * p; math.Abs(g) >= 0x1p-126 {
			if e := ulps(o[i], g); e > bound+1 {
				t.Fatalf("gelu(%v) = %v, float64 %v: %.1f ulp, want ≤ %v", x, o[i], g, e, bound+1)
			}
		}
	}
	got := o[n : n+5]
	if ph[n] != 0.5 || ph[n+1] != 0.5 || got[0] != 0 || !math.Signbit(float64(got[1])) || !math.IsInf(float64(got[2]), 1) || got[3] == got[3] || got[4] == got[4] || ph[n+3] != 0 {
		t.Errorf("gelu(0, -0, +Inf, -Inf, NaN) = %v, Φ %v", got, ph[n:n+5])
	}
}

// BenchmarkGeluPhi: the two-vector forward that keeps Φ(x), per element
// (ns/op is per 16384 elements).
func BenchmarkGeluPhi(b *testing.B) {
	if !simdOn {
		b.Skip("no AVX2")
	}
	const n = 16384
	x, o, ph := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i))) * 3
	}
	b.SetBytes(4 * n)
	for range b.N {
		gelu2PhiAVX2(&o[0], &x[0], &ph[0], n, &geluWide)
	}
}

// BenchmarkGeluGradPhi: the two-vector backward that reads Φ(x), per
// 16384 elements.
func BenchmarkGeluGradPhi(b *testing.B) {
	if !simdOn {
		b.Skip("no AVX2")
	}
	const n = 16384
	x, dy, o, ph := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i))) * 3
		dy[i] = float32(math.Cos(float64(i)))
	}
	gelu2PhiAVX2(&o[0], &x[0], &ph[0], n, &geluWide)
	b.SetBytes(4 * n)
	for range b.N {
		gelu2GradPhiAVX2(&o[0], &x[0], &dy[0], &ph[0], n, &geluWide)
	}
}
