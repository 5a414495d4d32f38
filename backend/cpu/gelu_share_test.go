package cpu

import (
	"math"
	"math/rand"
	"testing"

	"github.com/encc-lang/encc/ir"
)

// gradSteps counts the gradF32 steps of p for which f holds.
func gradSteps(p *Program, f func(*gradF32) bool) int {
	n := 0
	for _, s := range flatSteps(p) {
		if k, ok := s.k.(*gradF32); ok && f(k) {
			n++
		}
	}
	return n
}

// linkedGelus counts the gelu_backward steps that read their forward's Φ.
func linkedGelus(p *Program) int {
	return gradSteps(p, func(k *gradF32) bool { return k.deriv != nil })
}

// wantW4Steps compiles the W4 (train 0) and W5 (train 1) steps at batch
// 2 and checks that count finds want[0] and want[1] steps in them.
func wantW4Steps(t *testing.T, count func(*Program) int, want [2]int, what string) {
	t.Helper()
	for tr, w := range want {
		g := stepGraph(t, "bench/w4_transformer.enc", tr, 0, 2, true)
		p, err := Compile(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(p); n != w {
			t.Errorf("train %d: %d %s, want %d", tr, n, what, w)
		}
	}
}

// TestGeluSharedPhiBitIdentical: gelu_backward reading the Φ(x) its
// forward kept computes the bits it computes unlinked (3 training steps
// of every stage case, W4 among them, on one core and on two).
func TestGeluSharedPhiBitIdentical(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	defer noGeluFold()()
	for _, threads := range []int{1, 2} {
		bitIdentical(t, threads, func(on bool) { geluShareOn = on }, linkedGelus, 0)
	}
}

// TestGeluSharedPhiW4: each gelu_backward of the W4 step (both blocks)
// and of W5's (block 1 only) reads its forward's Φ.
func TestGeluSharedPhiW4(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	defer noGeluFold()()
	wantW4Steps(t, linkedGelus, [2]int{2, 1}, "gelu_backward linked to their forward")
}

// TestGeluSharedPhiLinks: a gelu_backward is linked only to a forward
// on the same x that its dy is computed from; linked, forward and
// backward are geluF32's bits over the whole tensor, for sizes with and
// without an 8- and a 1-element tail, and split over two cores (linked
// or not: where a core's part starts does not change an element's bits).
func TestGeluSharedPhiLinks(t *testing.T) {
	if !simdOn {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewSource(9))
	for _, c := range []struct {
		name       string
		shape      []int
		dyOfY      bool
		wantLinked int
	}{
		{"linked", []int{4, 32}, true, 1},
		{"linked tails", []int{3, 41}, true, 1}, // 123 = 7·16 + 8 + 3
		{"linked short", []int{1, 9}, true, 1},
		{"linked large", []int{64, 1031}, true, 1}, // split over the cores
		{"independent dy", []int{4, 32}, false, 0},
		// Unlinked, split over two cores at an odd element (64953 / 2).
		{"independent dy large", []int{63, 1031}, false, 0},
	} {
		ins := []in{{t: f32(c.shape...)}, {t: f32(c.shape...)}}
		g := ir.NewGraph()
		b := ir.NewBuilder(g)
		x := must(b.Input("x", ir.RoleData, ins[0].t))
		d := must(b.Input("d", ir.RoleData, ins[1].t))
		y := must(b.Gelu(x, false))
		g.AddOutput("y", y)
		dy := d
		if c.dyOfY {
			dy = must(b.Mul(y, d))
		}
		dx := must(b.GeluBackward(x, dy, false))
		g.AddOutput("dx", dx)
		g.AddOutput("dy", dy)
		if err := ir.Verify(g); err != nil {
			t.Fatal(err)
		}
		p, err := Compile(g, Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		if n := linkedGelus(p); n != c.wantLinked {
			t.Fatalf("%s: %d linked, want %d", c.name, n, c.wantLinked)
		}
		for run := range 2 {
			xv, dv := draw(r, ins[0]), draw(r, ins[1])
			for i := range xv {
				xv[i] = float64(float32(6 * (xv[i] - 0.5))) // both tails of Φ
			}
			bind(t, p, "x", ins[0].t, xv)
			bind(t, p, "d", ins[1].t, dv)
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			n := len(xv)
			xs, dys := make([]float32, n), make([]float32, n)
			for i := range xs {
				xs[i] = float32(xv[i])
			}
			for i, v := range values(p.outputs["dy"]) {
				dys[i] = float32(v)
			}
			wantY, wantDx := make([]float32, n), make([]float32, n)
			geluF32(wantY, xs, nil)
			geluF32(wantDx, xs, dys)
			for o, want := range map[string][]float32{"y": wantY, "dx": wantDx} {
				for i, v := range values(p.outputs[o]) {
					if math.Float32bits(float32(v)) != math.Float32bits(want[i]) {
						t.Fatalf("%s run %d: %s[%d] = %v, geluF32 %v", c.name, run, o, i, v, want[i])
					}
				}
			}
		}
	}
}
