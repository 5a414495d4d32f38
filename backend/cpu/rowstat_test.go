package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// TestRowStatVector checks that the float64 vector kernels of layernorm
// (forward, both backward ops) and of column sums (reduce_to, sum and
// mean over the leading axis) give bit for bit the results of the
// portable loops, on rows and column counts that are and are not
// multiples of the vector width, on one and two threads.
func TestRowStatVector(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	defer func(s bool) { simdOn = s }(simdOn)
	var cases []opCase
	for _, rows := range []int{1, 3, 37, 300} {
		for _, d := range []int{1, 3, 4, 5, 8, 13, 128, 131} {
			cases = append(cases,
				opCase{name: fmt.Sprintf("layernorm %dx%d", rows, d), ins: []in{{t: f32(rows, d)}, {t: f32(d)}, {t: f32(d)}},
					build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.LayerNorm(x[0], x[1], x[2], 1e-5) }},
				opCase{name: fmt.Sprintf("layernorm_backward_input %dx%d", rows, d), ins: []in{{t: f32(rows, d)}, {t: f32(d)}, {t: f32(rows, d)}},
					build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
						return b.LayerNormBackwardInput(x[0], x[1], x[2], 1e-5)
					}},
				opCase{name: fmt.Sprintf("layernorm_backward_weight %dx%d", rows, d), ins: []in{{t: f32(rows, d)}, {t: f32(rows, d)}},
					build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) {
						return b.LayerNormBackwardWeight(x[0], x[1], 1e-5)
					}})
		}
		for _, n := range []int{32, 37, 52, 130, 512} {
			cases = append(cases,
				opCase{name: fmt.Sprintf("reduce_to %dx%d", rows, n), ins: []in{{t: f32(rows, n)}},
					build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.ReduceTo(x[0], ir.Shape{n}) }},
				opCase{name: fmt.Sprintf("mean %dx%d", rows, n), ins: []in{{t: f32(rows, n)}},
					build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Mean(x[0], []int{0}, false) }},
				opCase{name: fmt.Sprintf("mean 3x%dx%d axis 1", rows, n), ins: []in{{t: f32(3, rows, n)}},
					build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Mean(x[0], []int{1}, false) }},
				opCase{name: fmt.Sprintf("sum 2x%dx3x%d axes 1, 2", rows, n), ins: []in{{t: f32(2, rows, 3, n)}},
					build: func(b *ir.Builder, x []*ir.Value) (*ir.Value, error) { return b.Sum(x[0], []int{1, 2}, false) }})
		}
	}
	r := rand.New(rand.NewSource(3))
	for _, c := range cases {
		g, err := c.graph()
		if err != nil {
			t.Fatal(err)
		}
		vals := make([][]float64, len(c.ins))
		for i, x := range c.ins {
			vals[i] = draw(r, x)
			for j := range vals[i] { // an offset, so that the mean matters
				vals[i][j] = float64(float32(vals[i][j] + 3))
			}
		}
		for _, threads := range []int{1, 2} {
			var outs [2][]float64
			for v, on := range []bool{false, true} {
				simdOn = on
				p, err := Compile(g, Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				for i, x := range c.ins {
					bind(t, p, g.Inputs[i].Name, x.t, vals[i])
				}
				if err := p.Run(); err != nil {
					t.Fatal(err)
				}
				outs[v] = values(p.outputs["y"])
			}
			for i := range outs[0] {
				if math.Float32bits(float32(outs[0][i])) != math.Float32bits(float32(outs[1][i])) {
					t.Fatalf("%s threads=%d: [%d] vector %v, portable %v", c.name, threads, i, outs[1][i], outs[0][i])
				}
			}
		}
	}
}

// TestMaxScaleVector checks the vector max against the portable one on
// lengths around the vector width, with NaN, ±0 and -Inf, and the vector
// scale bit for bit.
func TestMaxScaleVector(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	defer func(s bool) { simdOn = s }(simdOn)
	r := rand.New(rand.NewSource(4))
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, n := range []int{1, 7, 8, 9, 16, 17, 64, 67} {
		for trial := range 40 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			switch trial % 8 {
			case 1:
				x[r.Intn(n)] = nan
			case 2:
				for i := range x {
					x[i] = -float32(r.Float64())
				}
				x[r.Intn(n)] = float32(math.Copysign(0, -1))
				x[r.Intn(n)] = 0
			case 3:
				for i := range x {
					x[i] = float32(math.Copysign(0, float64(1-2*r.Intn(2))))
				}
			case 4:
				for i := range x {
					x[i] = -inf
				}
			case 5:
				x[n-1] = inf
			}
			simdOn = false
			want := maxF32(x)
			ws := append([]float32(nil), x...)
			scaleF32(ws, 0.37)
			simdOn = true
			got := maxF32(x)
			gs := append([]float32(nil), x...)
			scaleF32(gs, 0.37)
			if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
				t.Fatalf("n=%d trial %d: max %v, portable %v (%v)", n, trial, got, want, x)
			}
			for i := range gs {
				if math.Float32bits(gs[i]) != math.Float32bits(ws[i]) && !(gs[i] != gs[i] && ws[i] != ws[i]) {
					t.Fatalf("n=%d: scale [%d] %v, portable %v", n, i, gs[i], ws[i])
				}
			}
		}
	}
}

// TestLayerNormRowsSideBySide checks layernorm's statistics of four rows
// side by side (lnSums4AVX2 through stats4) against stats bit for bit,
// on rows whose elements are 2^±20 apart in magnitude, so that any
// change in the order of the float64 sums shows.
func TestLayerNormRowsSideBySide(t *testing.T) {
	if !hasAVX2FMA {
		t.Skip("no AVX2")
	}
	defer func(s bool) { simdOn = s }(simdOn)
	simdOn = true
	r := rand.New(rand.NewSource(11))
	wide := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64()*math.Exp2(float64(r.Intn(41)-20))) + 1
		}
		return x
	}
	for _, D := range []int{4, 5, 8, 13, 128, 131} {
		k := &layerNormKernel{D: D, eps: 1e-5}
		x := wide(4 * D)
		var mean, rstd [4]float64
		k.stats4(x, 0, &mean, &rstd)
		for i := range 4 {
			m, s := k.stats(x[i*D:][:D])
			if math.Float64bits(m) != math.Float64bits(mean[i]) || math.Float64bits(s) != math.Float64bits(rstd[i]) {
				t.Fatalf("D=%d row %d: stats4 %v %v, stats %v %v", D, i, mean[i], rstd[i], m, s)
			}
		}
	}
}
