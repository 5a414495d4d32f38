package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
	"unsafe"

	"github.com/encc-lang/encc/backend/cpu/parallel"
	"github.com/encc-lang/encc/ir"
)

// TestAdamVectorSubnormal runs the vector Adam kernel on moments,
// gradients and weights that are zero, subnormal, tiny normal, ordinary
// or huge (so that v', d and m'/d are subnormal or underflow in some
// lanes), plain (the float32 instructions of the kernel before the
// marks) and with the float64 quotient taken where needed and on every
// lane with a nonzero first moment, and checks the three
// give the same bits, and that they are the correctly rounded float32
// operations in the kernel's order (an emulation in float64 that rounds
// each step once).
func TestAdamVectorSubnormal(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no vector kernel here")
	}
	defer func(a float32) { adamSmall = a }(adamSmall)
	r := rand.New(rand.NewSource(7))
	pick := func(kind int) float32 {
		var x float32
		switch kind {
		case 0:
			x = 0
		case 1:
			x = math.Float32frombits(uint32(1 + r.Intn(0x7fffff))) // subnormal
		case 2:
			x = math.Float32frombits(uint32(0x800000 + r.Intn(0x4000000))) // tiny normal
		case 3:
			x = float32(r.NormFloat64() * 1e-3)
		case 4:
			x = float32(r.NormFloat64() * 1e-20) // x² subnormal or 0
		default:
			x = float32(r.NormFloat64() * 1e15)
		}
		if r.Intn(2) == 0 {
			x = -x
		}
		return x
	}
	const n = 8 * 4096
	p0, m0, v0, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range p0 {
		// Mostly one kind a vector, so that some vectors are all normal.
		p0[i] = float32(r.NormFloat64())
		m0[i], v0[i], g[i] = pick(r.Intn(6)), float32(math.Abs(float64(pick(r.Intn(6))))), pick(r.Intn(6))
		if i/8%3 == 0 {
			m0[i], v0[i], g[i] = float32(r.NormFloat64()), float32(r.Float64()), float32(r.NormFloat64())
		}
	}
	for _, cs := range []struct{ eps, wd, lr float64 }{{1e-8, 0, 1e-3}, {0, 0.01, 1e-2}, {1e-30, 0, 1}} {
		lr, step := float32(cs.lr), int64(3)
		k := &adamKernel{at: ir.AdamAttr{Beta1: 0.9, Beta2: 0.999, Eps: cs.eps, WeightDecay: cs.wd}, b1: 0.9, b2: 0.999,
			lr: &buffer{p: unsafe.Pointer(&lr), n: 1, dt: ir.F32}, step: &buffer{p: unsafe.Pointer(&step), n: 1, dt: ir.I64}}
		idx := make([]int32, n/8)
		ds := make([]float32, n)
		run := func(mark int, small float32) (p, m, v []float32) {
			adamSmall = small
			p, m, v = append([]float32(nil), p0...), append([]float32(nil), m0...), append([]float32(nil), v0...)
			if err := k.setup(); err != nil {
				t.Fatal(err)
			}
			if r := adamAVX2(&p[0], &m[0], &v[0], &g[0], n, &k.c, &idx[0], &ds[0], mark); r == 0 {
				t.Fatalf("mark %d: no subnormal found", mark)
			}
			return p, m, v
		}
		inf := float32(math.Inf(1))
		pn, mn, vn := run(0, 0x1p-120)
		ref := func(what string, p, m, v []float32) {
			t.Helper()
			for i := range p {
				if what == "emulated" && p[i] != p[i] && pn[i] != pn[i] {
					p[i] = pn[i] // its NaNs' sign bits aren't the FMA's
				}
				if math.Float32bits(p[i]) != math.Float32bits(pn[i]) || math.Float32bits(m[i]) != math.Float32bits(mn[i]) || math.Float32bits(v[i]) != math.Float32bits(vn[i]) {
					t.Fatalf("eps=%g %s: element %d (m %g v %g g %g): p, m, v = %g %g %g, float32 kernel %g %g %g",
						cs.eps, what, i, m0[i], v0[i], g[i], p[i], m[i], v[i], pn[i], mn[i], vn[i])
				}
			}
		}
		p, m, v := run(1, 0x1p-120)
		ref("where needed", p, m, v)
		p, m, v = run(1, inf)
		ref("always", p, m, v)
		p, m, v = append([]float32(nil), p0...), append([]float32(nil), m0...), append([]float32(nil), v0...)
		adamEmulate(p, m, v, g, &k.c)
		ref("emulated", p, m, v)
		slow := 0
		for i := 0; i < n; i += 8 {
			for j := i; j < i+8; j++ {
				if sub(mn[j]) || sub(vn[j]) {
					slow++
					break
				}
			}
		}
		if slow < n/8/4 {
			t.Fatalf("only %d of %d vectors with a subnormal moment", slow, n/8)
		}
	}
}

func sub(x float32) bool { return x != 0 && math.Abs(float64(x)) < 0x1p-126 }

// adamEmulate is the vector kernel's arithmetic, one element at a time:
// every float32 operation exact in float64 and rounded once.
func adamEmulate(p, m, v, g []float32, c *[24]float32) {
	mul := func(a, b float32) float32 { return float32(float64(a) * float64(b)) }
	for i := range p {
		mi := fma32(c[0], m[i], mul(c[1], g[i]))
		vi := fma32(c[2], v[i], mul(c[3], mul(g[i], g[i])))
		d := fma32(float32(math.Sqrt(float64(vi))), c[4], c[5])
		q := float32(float64(mi) / float64(d))
		m[i], v[i] = mi, vi
		p[i] = fma32(-q, c[7], mul(p[i], c[6]))
	}
}

// fma32 is a·b + c rounded once to float32: the product is exact in
// float64, the sum is rounded to odd in float64 (its error, from Knuth's
// two-sum, sets the last bit), and the rounding to float32 of a value
// rounded to odd with 29 more bits is the correct one.
func fma32(a, b, c float32) float32 {
	x, y := float64(float64(a)*float64(b)), float64(c)
	s := x + y
	bb := s - x
	e := (x - (s - bb)) + (y - bb)
	if e != 0 && !math.IsInf(s, 0) {
		bits := math.Float64bits(s)
		if bits&1 == 0 {
			if (e > 0) == (s > 0) {
				bits++
			} else {
				bits--
			}
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}

// TestAdamMarkChunks runs the fused kernel (2 cores) on a parameter of
// three and a bit chunks whose second chunk holds subnormal first
// moments, and checks that the step finds them (the next one marks that
// chunk only) and that both steps give the bits of the plain kernel.
func TestAdamMarkChunks(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no vector kernel here")
	}
	const n = 3*adamChunk + 27
	r := rand.New(rand.NewSource(3))
	p, m, v, g := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range p {
		p[i], m[i], v[i], g[i] = float32(r.NormFloat64()), float32(r.NormFloat64()*1e-3), float32(r.Float64()*1e-6), float32(r.NormFloat64()*1e-3)
		if i/adamChunk == 1 && r.Intn(10) == 0 {
			m[i], g[i] = math.Float32frombits(uint32(1+r.Intn(0x7fffff))), 0
		}
	}
	buf := func(x []float32) *buffer { return &buffer{p: unsafe.Pointer(&x[0]), n: len(x), dt: ir.F32} }
	lr, step := float32(1e-3), int64(1)
	k := &adamKernel{p: buf(p), m: buf(m), v: buf(v), g: buf(g), pool: parallel.New(2),
		lr: &buffer{p: unsafe.Pointer(&lr), n: 1, dt: ir.F32}, step: &buffer{p: unsafe.Pointer(&step), n: 1, dt: ir.I64},
		at: ir.AdamAttr{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}, b1: 0.9, b2: 0.999, mark: make([]uint32, n/adamChunk+1)}
	rp, rm, rv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
	idx, ds := make([]int32, n/8), make([]float32, n)
	for ; step <= 2; step++ {
		if err := k.run(); err != nil {
			t.Fatal(err)
		}
		if want := []uint32{0, 1, 0, 0}; fmt.Sprint(k.mark) != fmt.Sprint(want) {
			t.Fatalf("step %d: marks %v, want %v", step, k.mark, want)
		}
		const nv = n &^ 7
		adamAVX2(&rp[0], &rm[0], &rv[0], &g[0], nv, &k.c, &idx[0], &ds[0], 0)
		k.portable(rp[nv:], rm[nv:], rv[nv:], g[nv:])
		for i := range p {
			if math.Float32bits(p[i]) != math.Float32bits(rp[i]) || math.Float32bits(m[i]) != math.Float32bits(rm[i]) || math.Float32bits(v[i]) != math.Float32bits(rv[i]) {
				t.Fatalf("step %d, element %d: p, m, v = %g %g %g, plain kernel %g %g %g", step, i, p[i], m[i], v[i], rp[i], rm[i], rv[i])
			}
		}
	}
}
